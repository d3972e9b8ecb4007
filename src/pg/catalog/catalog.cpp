#include "pg/catalog/catalog.hpp"

#include <cmath>
#include <utility>

extern "C" {
#include "access/genam.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/rel.h"
#include "utils/syscache.h"
}

#include "core/error.hpp"
#include "pg/catalog/captured_changes.hpp"
#include "pg/catalog/dirty_queue.hpp"
#include "pg/catalog/log_rows.hpp"
#include "pg/catalog/stage_cache.hpp"
#include "pg/catalog/stage_probe.hpp"
#include "pg/catalog/state_heap.hpp"
#include "pg/support/guard.hpp"
#include "pg/support/role.hpp"
#include "pg/support/settings.hpp"
#include "pg/support/spi.hpp"

namespace incview::pg {

std::optional<StageRecord> read_stage(const std::string& name);

namespace {

// pg_extension.extversion of pg_incview, read from the system catalog directly (an index
// scan, as get_extension_oid does): this runs in every refresh call's transaction, where a
// statement through SPI (parse, plan, executor start-up) cost more than the rest of it.
std::optional<std::string> installed_version() {
  char* version = nullptr;
  pg_call([&] {
    Relation rel = table_open(ExtensionRelationId, AccessShareLock);
    ScanKeyData key;
    ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ, CStringGetDatum("pg_incview"));
    SysScanDesc scan = systable_beginscan(rel, ExtensionNameIndexId, true, nullptr, 1, &key);
    HeapTuple tuple = systable_getnext(scan);
    if (HeapTupleIsValid(tuple)) {
      bool isnull = true;
      const Datum d = heap_getattr(tuple, Anum_pg_extension_extversion, RelationGetDescr(rel), &isnull);
      if (!isnull) version = text_to_cstring(DatumGetTextPP(d));
    }
    systable_endscan(scan);
    table_close(rel, AccessShareLock);
  });
  if (!version) return std::nullopt;
  std::string out(version);
  pg_call([&] { pfree(version); });
  return out;
}

}  // namespace

namespace {

// The version read last in this database, kept across transactions until pg_extension changes:
// any row of it written (CREATE, ALTER ... UPDATE, DROP EXTENSION, by any session: a catcache
// message for EXTENSIONOID, committed or this transaction's own at its next command, and again
// at an abort that undoes it) or a reset of every cache empties it. Reading it was ~4 % of a
// one-row delta refresh call when it was read once per transaction (bench/fixed_cost.md). One
// syscache callback for the backend's life (PostgreSQL's slots for them are bounded).
struct VersionCache {
  Oid database = InvalidOid;
  std::string version;
  bool watched = false;
};
VersionCache version_cache;

void forget_version(Datum, int, uint32) { version_cache.version.clear(); }

}  // namespace

std::string check_catalog_version() {
  if (!version_cache.watched) {
    pg_call([] { CacheRegisterSyscacheCallback(EXTENSIONOID, forget_version, 0); });
    version_cache.watched = true;
  }
  if (version_cache.database == MyDatabaseId && !version_cache.version.empty()) return version_cache.version;
  const auto v = installed_version();
  if (!v) throw Error(sqlstate::kUndefinedObject, "extension \"pg_incview\" is not installed in this database");
  if (*v != kCatalogVersion && *v != "0.1")
    throw Error(sqlstate::kObjectNotInPrerequisiteState,
                "pg_incview's SQL objects in this database are version " + *v + ", which this library (" +
                    kCatalogVersion + ") does not serve",
                "",
                "install the pg_incview library of version " + *v + ", or update the extension to " + kCatalogVersion +
                    " with ALTER EXTENSION pg_incview UPDATE");
  version_cache.version = *v;
  version_cache.database = MyDatabaseId;
  return version_cache.version;
}

bool catalog_is_0_2() { return check_catalog_version() != "0.1"; }

namespace {
// Engine delta on (delta_engine.hpp): the table is built from the engine's query, whose
// hidden columns follow the user's. Read as the extension owner: the statements embed the
// stage's definition, visible only to its owner's role.
void load_delta_engine(StageRecord& r) {
  as_extension_owner([&] {
    if (spi_exec("SELECT queue::pg_catalog.text, fold, table_query, hidden_columns::pg_catalog.text[], fold_fast, "
                 "fold_one FROM incview.delta_stage WHERE stage_id = $1",
                 {int4_arg(r.id)}, true) == 0)
      return;
    r.delta_queue = spi_text_or(0, 1, "");
    r.delta_fold = spi_text_or(0, 2, "");
    r.shape.query = spi_text_or(0, 3, "");
    r.delta_fold_fast = spi_text_or(0, 5, "");
    r.delta_fold_one = spi_text_or(0, 6, "");
  });
  if (r.delta_queue.empty()) return;
  as_extension_owner([&] {
    const uint64 n = spi_exec("SELECT pg_catalog.unnest(hidden_columns) FROM incview.delta_stage WHERE stage_id = $1",
                              {int4_arg(r.id)}, true);
    for (uint64 i = 0; i < n; ++i) r.shape.columns.push_back(spi_text_or(i, 1, ""));
    r.delta_hidden = n;
  });
}
}  // namespace

std::optional<StageRecord> find_stage(const std::string& name, bool with_summary) {
  std::optional<StageRecord> out;
  // As the extension owner: the catalog's rows are visible to their owners only (row
  // security), and whoever asks for a stage by name must find it to be told whether it may
  // touch it. format_type() qualifies a type unless the search_path finds it: reading under
  // the safe path gives type names that resolve the same in every session and worker.
  //
  // One cheap look says which version of the stage row is current (stage_cache.hpp); the full
  // read only when this backend has not read that version yet. The same look probes for
  // change records naming the stage (catalog 0.2): a refresh that follows in this call
  // collects only if there is one (captured_changes.hpp). With the summary, it also reads what
  // is queued, so a refresh call runs no catalog statement before its fold (issue 13); the
  // delta queue's name comes from the cached record, used only if the version says that
  // record is current.
  std::optional<std::string> queue;
  std::optional<StageProbe> probe;
  StageRowVersion now;
  bool v02 = false;
  {
    // The probe and the cache run no statement: the role only, without the settings every
    // statement of ours runs under (a GUC nest level and a search_path set and restored, which
    // also makes the next name lookup recompute the path: ~2 % of a one-row delta refresh).
    AsRole role(extension_owner());
    v02 = catalog_is_0_2();
    if (with_summary) queue = cached_delta_queue(name);
    // A load without the summary drops any noted one (stage id 0 matches no stage): a note
    // left by a refresh call that failed before its summary was used must not serve a later
    // step in the same transaction (refresh_all's, refresh_step's), whose own load is newer.
    if (!with_summary) note_dirty_summary(0, DirtySummary{});
    // The same questions without a statement (stage_probe.hpp), when the tables are ours.
    if (v02) probe = probe_stage(name, queue);
    if (probe) {
      if (!probe->found) {
        forget_stage(name);
        return out;
      }
      now.version = probe->version;
      now.has_downstream = probe->has_downstream;
      note_records_probe(probe->id, probe->records);
      if ((out = cached_stage(name, now))) {
        if (queue && !probe->keys_queued && out->delta_queue == *queue) {
          DirtySummary summary;
          // Not known yet: the refresh scans a delta queue once, under the stage's lock.
          summary.deltas_queued = !queue->empty();
          note_dirty_summary(probe->id, summary);
        }
        return out;
      }
    }
  }
  as_extension_owner([&] {
    if (probe) {  // a version this backend has not read
      const uint64 epoch = stage_cache_epoch();
      out = read_stage(name);
      if (out) remember_stage(name, now, *out, epoch);
      return;
    }
    if (queue && !queue->empty() && !delta_queue_exists(*queue)) queue.reset();  // read by the statement
    const uint64 found = spi_exec(
        std::string("SELECT s.xmin::text || ':' || s.ctid::text, "
                    "       EXISTS (SELECT 1 FROM incview.stage_source ss WHERE ss.source = s.target "
                    "               AND ss.stage_id <> s.id), s.id, ") +
            (v02 ? "EXISTS (SELECT 1 FROM incview.source_change r WHERE s.id OPERATOR(pg_catalog.=) ANY (r.stage_ids))"
                 : "false") +
            (queue ? ", " + summary_columns(*queue) : std::string()) + " FROM incview.stage s WHERE s.name = $1",
        {text_arg(name)}, true);
    if (found == 0) {
      forget_stage(name);
      return;
    }
    now.version = spi_text_or(0, 1, "");
    now.has_downstream = spi_bool(0, 2);
    const int32 id = static_cast<int32>(spi_int8(0, 3));
    if (v02) note_records_probe(id, spi_bool(0, 4));
    const std::optional<DirtySummary> summary = queue ? summary_from_row(5) : std::nullopt;
    if ((out = cached_stage(name, now))) {
      if (summary && out->delta_queue == *queue) note_dirty_summary(id, *summary);
      return;
    }
    const uint64 epoch = stage_cache_epoch();
    out = read_stage(name);
    if (out) remember_stage(name, now, *out, epoch);
  });
  return out;
}

std::optional<StageRecord> read_stage(const std::string& name) {
  // Catalog 0.1 has no independence columns (and trusted an unanalyzed stage).
  const bool v02 = catalog_is_0_2();
  const std::string independence =
      v02 ? "s.scope_pushdown IS NOT NULL, coalesce(s.scope_pushdown, false) OR s.declared_independent, "
            "s.declared_independent, coalesce(s.scope_independence, '') "
          : "true, coalesce(s.scope_pushdown, true), false, '' ";
  const uint64 n = spi_exec(
      "SELECT s.id, s.query, s.engine, s.target::oid, s.owner::oid, "
      "       CASE WHEN c.oid IS NOT NULL THEN format('%I.%I', ns.nspname, c.relname) END, s.search_path, "
      "coalesce(s.partition_by, ''), "
      "       coalesce(s.retention_column, ''), coalesce(s.retention_keep::text, ''), ns.nspname, c.relname, "
      "       " +
          independence +
          ", "
          "       EXISTS (SELECT 1 FROM incview.stage_source ss WHERE ss.source = s.target AND ss.stage_id <> s.id) "
          "FROM incview.stage s LEFT JOIN pg_catalog.pg_class c ON c.oid = s.target "
          "LEFT JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace WHERE s.name = $1",
      {text_arg(name)}, true);
  if (n == 0) return std::nullopt;
  StageRecord r;
  r.search_path = spi_text_or(0, 7, kSafeSearchPath);
  r.id = static_cast<int32>(spi_int8(0, 1));
  r.name = name;
  r.shape.query = spi_text_or(0, 2, "");
  r.engine = parse_engine(spi_text_or(0, 3, "auto")).value_or(Engine::Auto);  // CHECKed in the catalog
  r.target = static_cast<Oid>(std::stoul(spi_text_or(0, 4, "0")));
  r.owner = static_cast<Oid>(std::stoul(spi_text_or(0, 5, "0")));
  r.shape.target = spi_text_or(0, 6, "");
  r.partition = parse_partition_by(spi_text_or(0, 8, ""));
  r.shape.retention_column = spi_text_or(0, 9, "");
  r.shape.retention_keep = spi_text_or(0, 10, "");
  r.target_schema = spi_text_or(0, 11, "");
  r.target_table = spi_text_or(0, 12, "");
  r.independence_known = spi_bool(0, 13);
  r.scope_pushdown = spi_bool(0, 14);
  r.declared_independent = spi_bool(0, 15);
  r.independence_problem = spi_text_or(0, 16, "");
  r.has_downstream = spi_bool(0, 17);
  if (r.shape.target.empty()) return r;  // the target was dropped behind our back

  // Columns, scope and unique key with the target's current types, in declared order.
  const uint64 m = spi_exec(
      "SELECT u.kind, u.col, format_type(a.atttypid, a.atttypmod), a.atttypid::oid::text "
      "FROM incview.stage s CROSS JOIN LATERAL ("
      "  SELECT 1 AS k, 'column' AS kind, c AS col, n FROM unnest(s.columns) WITH ORDINALITY AS x(c, n)"
      "  UNION ALL SELECT 2, 'scope', c, n FROM unnest(s.scope) WITH ORDINALITY AS x(c, n)"
      "  UNION ALL SELECT 3, 'unique', c, n FROM unnest(s.unique_key) WITH ORDINALITY AS x(c, n)) u "
      "LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = s.target AND a.attname = u.col "
      "     AND a.attnum > 0 AND NOT a.attisdropped "
      "WHERE s.id = $1 ORDER BY u.k, u.n",
      {int4_arg(r.id)}, true);
  for (uint64 i = 0; i < m; ++i) {
    const std::string kind = spi_text_or(i, 1, "");
    const std::string col = spi_text_or(i, 2, "");
    auto type = spi_text(i, 3);
    if (!type)
      throw Error(sqlstate::kUndefinedColumn,
                  "column \"" + col + "\" of stage \"" + name + "\" is missing from its target table " + r.shape.target,
                  "", "rebuild the stage with incview.drop_stage and incview.create_stage");
    if (kind == "column") {
      r.shape.columns.push_back(col);
    } else if (kind == "scope") {
      r.shape.scope.push_back({col, *type});
      r.scope_types.push_back(static_cast<Oid>(std::stoul(spi_text_or(i, 4, "0"))));
    } else {
      r.shape.unique_key.push_back(col);
    }
  }
  if (v02) load_delta_engine(r);
  return r;
}

StageRecord load_stage(const std::string& name, bool with_summary) {
  auto r = find_stage(name, with_summary);
  if (!r) throw Error(sqlstate::kUndefinedObject, "stage \"" + name + "\" does not exist");
  return std::move(*r);  // a record is large (query, fold statements): one copy per call is enough
}

void check_stage_owner(const StageRecord& stage, const char* action) {
  bool ok = false;
  Oid owner = stage.owner;
  pg_call([&] { ok = has_privs_of_role(GetUserId(), owner); });
  if (!ok)
    throw Error(sqlstate::kInsufficientPrivilege,
                std::string("must be owner of stage \"") + stage.name + "\" to " + action);
}

StageRecord load_owned_stage(const std::string& name, const char* action, bool with_summary) {
  StageRecord stage = load_stage(name, with_summary);
  check_stage_owner(stage, action);
  if (stage.shape.target.empty())
    throw Error(sqlstate::kUndefinedObject, "the target table of stage \"" + name + "\" no longer exists", "",
                "drop the stage with incview.drop_stage and create it again");
  return stage;
}

std::optional<std::string> column_type(Oid table, const std::string& column) {
  return spi_scalar(
      "SELECT format_type(atttypid, atttypmod) FROM pg_catalog.pg_attribute "
      "WHERE attrelid = $1 AND attname = $2 AND attnum > 0 AND NOT attisdropped",
      {oid_arg(table), text_arg(column)});
}

namespace {

// The stage's state after a run ($7 duration, $8 error, $10 stage id, $11/$12 the retry
// back-off's base and cap in ms, $13 keep an earlier failure of the same run visible), as the
// insert or update of its incview.stage_state row.
constexpr const char* kStateUpsert =
    "INSERT INTO incview.stage_state AS st (stage_id, status, last_refresh, last_duration, last_error, "
    "failures) "
    "VALUES ($10, CASE WHEN $8::text IS NULL THEN 'idle' ELSE 'failing' END, "
    "        CASE WHEN $8::text IS NULL THEN clock_timestamp() END, $7::interval, $8, "
    "        CASE WHEN $8::text IS NULL THEN 0 ELSE 1 END) "
    "ON CONFLICT (stage_id) DO UPDATE SET "
    "  status = CASE WHEN $13 THEN st.status ELSE EXCLUDED.status END, "
    "  last_refresh = coalesce(EXCLUDED.last_refresh, st.last_refresh), "
    "  last_duration = CASE WHEN $8::text IS NULL THEN EXCLUDED.last_duration ELSE st.last_duration END, "
    "  last_error = CASE WHEN $13 THEN st.last_error ELSE EXCLUDED.last_error END, "
    "  failures = CASE WHEN $13 THEN st.failures WHEN $8::text IS NULL THEN 0 ELSE st.failures + 1 END, "
    // Exponential back-off with jitter (x0.5..1.5), capped: a failing stage is retried
    // ever more rarely, and many failing stages do not retry in lockstep.
    "  next_attempt = CASE WHEN $13 THEN st.next_attempt WHEN $8::text IS NULL THEN NULL ELSE "
    "    clock_timestamp() + least($12::float8, $11::float8 * power(2, least(st.failures, 30))) "
    "    * (0.5 + random()) * interval '1 millisecond' END";

// The same as an UPDATE of the row (create_stage makes it): the usual case, without the
// speculative insertion of the upsert. Exactly kStateUpsert's DO UPDATE.
constexpr const char* kStateUpdate =
    "UPDATE incview.stage_state AS st SET "
    "  status = CASE WHEN $13 THEN st.status WHEN $8::text IS NULL THEN 'idle' ELSE 'failing' END, "
    "  last_refresh = CASE WHEN $8::text IS NULL THEN clock_timestamp() ELSE st.last_refresh END, "
    "  last_duration = CASE WHEN $8::text IS NULL THEN $7::interval ELSE st.last_duration END, "
    "  last_error = CASE WHEN $13 THEN st.last_error ELSE $8 END, "
    "  failures = CASE WHEN $13 THEN st.failures WHEN $8::text IS NULL THEN 0 ELSE st.failures + 1 END, "
    "  next_attempt = CASE WHEN $13 THEN st.next_attempt WHEN $8::text IS NULL THEN NULL ELSE "
    "    clock_timestamp() + least($12::float8, $11::float8 * power(2, least(st.failures, 30))) "
    "    * (0.5 + random()) * interval '1 millisecond' END "
    "WHERE st.stage_id = $10";

}  // namespace

void log_refresh(const StageRecord& stage, const RefreshStats& s, double seconds,
                 const std::optional<std::string>& error, bool keep_failure) {
  // To the microsecond, the same in the direct row and the statements' interval.
  const int64 duration_us = static_cast<int64>(std::llround(seconds * 1e6));
  bool logged = false;
  {
    // The log row by a direct heap insert (log_rows.hpp), then the state: no statement on
    // every refresh call (issue 13), and so the role only, without the settings statements
    // run under (as find_stage).
    AsRole role(extension_owner());
    if (catalog_is_0_2()) {
      LogRow row;
      row.stage = stage.name;
      row.owner = stage.owner;
      row.engine = s.engine;
      if (s.scopes >= 0) row.scopes = s.scopes;
      row.deleted = s.deleted;
      row.inserted = s.inserted;
      row.updated = s.updated;
      row.duration_us = duration_us;
      row.error = error;
      logged = append_log_row(row);  // false: another shape, the statement below
      // A success by a direct update of the state row (state_heap.hpp); a failure (its
      // back-off has a random jitter), another shape or a concurrent update: the statement.
      if (logged && !error && update_state_row_ok(stage.id, row.duration_us, keep_failure)) return;
    }
  }
  as_extension_owner([&] {
    const bool v02 = catalog_is_0_2();
    const std::vector<SpiArg> args{text_arg(stage.name),
                                   text_arg(s.engine),
                                   s.scopes < 0 ? null_arg(INT8OID) : int8_arg(s.scopes),
                                   int8_arg(s.deleted),
                                   int8_arg(s.inserted),
                                   int8_arg(s.updated),
                                   text_arg(std::to_string(duration_us) + " microseconds"),
                                   error ? text_arg(*error) : null_arg(TEXTOID),
                                   oid_arg(stage.owner),
                                   int4_arg(stage.id),
                                   int8_arg(settings.retry_base_ms),
                                   int8_arg(settings.retry_max_ms),
                                   {BOOLOID, BoolGetDatum(keep_failure), false}};
    if (logged) {
      if (spi_exec(kStateUpdate, args) == 0) spi_exec(kStateUpsert, args);
      return;
    }
    // The log row and the stage's state in one statement (a data-modifying WITH): one
    // executor start instead of two (issue 12 item 4).
    spi_exec(std::string("WITH logged AS (") +
                 (v02 ? "INSERT INTO incview.refresh_log (stage, owner, engine"
                      : "INSERT INTO incview.refresh_log (stage, engine") +
                 ", scopes, rows_deleted, rows_inserted, rows_updated, started_at, duration, error) " +
                 (v02 ? "VALUES ($1, $9::oid::regrole, $2, $3" : "VALUES ($1, $2, $3") +
                 ", $4, $5, $6, clock_timestamp() - $7::interval, $7::interval, $8)) " + kStateUpsert,
             args);
  });
}

void log_dropped_key(const StageRecord& stage, const std::string& message) {
  as_extension_owner([&] {
    spi_exec(catalog_is_0_2()
                 ? "INSERT INTO incview.refresh_log (stage, owner, engine, scopes, error) "
                   "VALUES ($1, $2::oid::regrole, 'skip', 0, $3)"
                 : "INSERT INTO incview.refresh_log (stage, engine, scopes, error) VALUES ($1, 'skip', 0, $3)",
             {text_arg(stage.name), oid_arg(stage.owner), text_arg(message)});
    spi_exec("UPDATE incview.stage_state SET last_error = $2 WHERE stage_id = $1",
             {int4_arg(stage.id), text_arg(message)});
  });
}

void save_scope_count(int32 stage_id, int64 count) {
  as_extension_owner([&] {
    spi_exec("UPDATE incview.stage_state SET scope_count = $2 WHERE stage_id = $1",
             {int4_arg(stage_id), int8_arg(count)});
  });
}

void save_independence(int32 stage_id, const std::optional<std::string>& problem) {
  as_extension_owner([&] {
    if (!catalog_is_0_2()) {  // catalog 0.1: the verdict only
      spi_exec("UPDATE incview.stage SET scope_pushdown = $2 WHERE id = $1",
               {int4_arg(stage_id), {BOOLOID, BoolGetDatum(!problem), false}});
      return;
    }
    spi_exec("UPDATE incview.stage SET scope_pushdown = $2, scope_independence = $3 WHERE id = $1",
             {int4_arg(stage_id),
              {BOOLOID, BoolGetDatum(!problem), false},
              problem ? text_arg(*problem) : null_arg(TEXTOID)});
  });
}

}  // namespace incview::pg
