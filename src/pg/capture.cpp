#include "pg/capture.hpp"

#include <algorithm>
#include <memory>
#include <unordered_map>

#include "core/capture_sql.hpp"
#include "core/sql_text.hpp"
#include "pg/guard.hpp"
#include "pg/role.hpp"
#include "pg/settings.hpp"
#include "pg/shared_state.hpp"
#include "pg/worker_budget.hpp"
#include "pg/spi.hpp"

extern "C" {
#include "access/transam.h"
#include "utils/inval.h"
#include "utils/rls.h"
#include "utils/tuplestore.h"
PG_FUNCTION_INFO_V1(incview_capture);
}

namespace incview::pg {

namespace {

constexpr const char* kOldTable = "incview_old";
constexpr const char* kNewTable = "incview_new";

// Raw keys a lookup mapping may produce for one statement before it counts as "every
// scope": at least this many, more for big statements (a bulk write mapping one key per
// row is not a fan-out), so a mapping that explodes one row into millions of keys is cut
// short instead of collected.
constexpr int64 kLookupRawKeyFloor = 100000;
constexpr int64 kLookupRawKeysPerRow = 16;

std::vector<SPIPlanPtr> plans_to_free;

constexpr int kSizes = 3;  // CaptureSize variants

// Prepared statements per event and size. Freed lazily: a relcache callback may drop an entry
// while a capture is using it, so the plans only move to plans_to_free here, and are
// freed when no capture is running.
struct PlanSet {
  SPIPlanPtr plan[4 * kSizes] = {};
  PlanSet() = default;
  PlanSet(const PlanSet&) = delete;
  PlanSet& operator=(const PlanSet&) = delete;
  ~PlanSet() {
    for (SPIPlanPtr p : plan)
      if (p) {
        try {
          plans_to_free.push_back(p);
        } catch (...) {  // out of memory: leak the plan rather than fail here
        }
      }
  }
};

// What one stage captures from one source, with its prepared statements per event.
struct StageCapture {
  int32 stage_id = 0;
  Oid stage_owner = InvalidOid;
  std::string search_path;  // the stage's, for running its lookup mapping
  int64 scopes = 0;         // scopes in the stage at its last full build
  bool wakes = false;       // policy continuous: its commit wakes the scheduler
  // Same mapping over scope columns whose types are built in (or domains over them):
  // their equality, hashing and jsonb conversion run no user code, so the extension owner
  // may derive the keys in one statement. Otherwise keys are derived as the owner.
  bool builtin_types = true;
  CaptureSpec spec;
  PlanSet plans;
  PlanSet owner_plans;   // phase 1 of a two-phase capture, prepared as the stage owner
  PlanSet marker_plans;  // "every scope" when the owner may not see the changed rows
};

using StageList = std::vector<std::unique_ptr<StageCapture>>;

struct SourceCapture {
  std::shared_ptr<StageList> stages;  // null = reload; shared so a running capture keeps it
};

// Per backend: relid -> what to capture. Invalidated by relcache messages for the source
// (sent by create_stage, map_source, drop_stage and every DDL on the table).
std::unordered_map<Oid, SourceCapture> cache;
int capture_depth = 0;  // captures running in this backend (a mapping may write a source)

void forget(SourceCapture& entry) noexcept { entry.stages.reset(); }

void relcache_callback(Datum, Oid relid) {
  // No PostgreSQL calls here: plans are freed at the next capture.
  if (relid == InvalidOid) {
    for (auto& kv : cache) forget(kv.second);
    return;
  }
  auto it = cache.find(relid);
  if (it != cache.end()) forget(it->second);
}

void free_pending_plans() {
  if (capture_depth > 0) return;
  while (!plans_to_free.empty()) {
    SPIPlanPtr p = plans_to_free.back();
    plans_to_free.pop_back();
    pg_call([&] { SPI_freeplan(p); });
  }
}

// True when every scope column of the source has a built-in type (through domains).
bool scope_types_builtin(TupleDesc desc, const std::vector<std::string>& scope) {
  for (const auto& name : scope) {
    Oid type = InvalidOid;
    for (int i = 0; i < desc->natts; ++i) {
      Form_pg_attribute a = TupleDescAttr(desc, i);
      if (!a->attisdropped && name == NameStr(a->attname)) type = a->atttypid;
    }
    Oid base = InvalidOid;
    pg_call([&] { base = getBaseType(type); });
    if (type == InvalidOid || base >= FirstNormalObjectId) return false;
  }
  return true;
}

std::shared_ptr<StageList> load(Oid relid, TupleDesc desc) {
  SourceCapture& entry = cache[relid];
  if (entry.stages) return entry.stages;
  auto stages = std::make_shared<StageList>();
  uint64 n = 0;
  as_extension_owner([&] {
    n = spi_exec(
        "SELECT s.id, s.owner::oid::text, ss.mapping_kind, ss.mapping, s.search_path, "
        "       coalesce(st.scope_count, 0), u.col, s.policy = 'continuous' "
        "FROM incview.stage_source ss JOIN incview.stage s ON s.id = ss.stage_id "
        "LEFT JOIN incview.stage_state st ON st.stage_id = s.id "
        "CROSS JOIN LATERAL unnest(s.scope) WITH ORDINALITY AS u(col, ord) "
        "WHERE ss.source = $1 ORDER BY s.id, u.ord",
        {oid_arg(relid)}, true);
  });
  for (uint64 i = 0; i < n; ++i) {
    const int32 id = static_cast<int32>(spi_int8(i, 1));
    if (stages->empty() || stages->back()->stage_id != id) {
      auto sc = std::make_unique<StageCapture>();
      sc->stage_id = id;
      sc->stage_owner = static_cast<Oid>(std::stoul(spi_text_or(i, 2, "0")));
      sc->spec.kind = mapping_kind_from(spi_text_or(i, 3, "all"));
      sc->spec.mapping = spi_text_or(i, 4, "");
      sc->search_path = spi_text_or(i, 5, kSafeSearchPath);
      sc->scopes = spi_int8(i, 6);
      sc->wakes = spi_bool(i, 8);
      stages->push_back(std::move(sc));
    }
    stages->back()->spec.scope.push_back(spi_text_or(i, 7, ""));
  }
  for (auto& sc : *stages)
    if (sc->spec.kind == MappingKind::Same) sc->builtin_types = scope_types_builtin(desc, sc->spec.scope);
  // A relcache message processed while we read may have reset the entry: ours is newer.
  cache[relid].stages = stages;
  return stages;
}

// More distinct keys than this in one statement queue one "every scope" marker.
// Unknown or tiny stages never collapse: their keys are cheap.
int64 marker_threshold(const StageCapture& sc) {
  if (sc.scopes < 100) return INT64_MAX;
  return static_cast<int64>(settings.capture_all_ratio * static_cast<double>(sc.scopes));
}

SPIPlanPtr prepare_kept(const std::string& sql, int nargs, Oid* types) {
  SPIPlanPtr plan = nullptr;
  const char* text = sql.c_str();
  pg_call([&] {
    plan = SPI_prepare(text, nargs, types);
    if (plan) SPI_keepplan(plan);
  });
  if (!plan) throw Error(sqlstate::kInternalError, "pg_incview: could not prepare capture statement");
  return plan;
}

void run_plan(SPIPlanPtr plan, Datum* values, const char* nulls) {
  int rc = 0;
  pg_call([&] { rc = SPI_execute_plan(plan, values, nulls, false, 0); });
  if (rc < 0) throw Error(sqlstate::kInternalError, "pg_incview: capture statement failed");
}

// Rows in the statement's transition tables (the larger of old and new for an UPDATE).
int64 changed_row_count(const TriggerData* td) {
  int64 n = 0;
  pg_call([&] {
    if (td->tg_newtable) n = std::max<int64>(n, tuplestore_tuple_count(td->tg_newtable));
    if (td->tg_oldtable) n = std::max<int64>(n, tuplestore_tuple_count(td->tg_oldtable));
  });
  return n;
}

CaptureSize size_for(int64 rows, int64 threshold) {
  if (rows <= 1) return CaptureSize::One;
  if (rows <= threshold) return CaptureSize::Few;  // distinct keys <= rows: never a marker
  return CaptureSize::Many;
}

// Queues one "every scope" marker when the statement changed any row.
void capture_marker(StageCapture& sc, CaptureEvent event, Datum* values) {
  const int slot = static_cast<int>(event);
  as_extension_owner([&] {
    if (!sc.marker_plans.plan[slot]) {
      Oid types[2] = {INT4OID, INT8OID};
      sc.marker_plans.plan[slot] = prepare_kept(capture_statement(CaptureSpec{MappingKind::All, {}, ""}, event), 2, types);
    }
    run_plan(sc.marker_plans.plan[slot], values, nullptr);
  });
}

// Phase 1 as the stage owner (restricted, its GUC changes rolled back), phase 2 as us.
void capture_as_owner(StageCapture& sc, CaptureEvent event, int64 rows, Datum* values) {
  const int e = static_cast<int>(event) * kSizes;
  const bool lookup = sc.spec.kind == MappingKind::Lookup;
  const int64 cap = std::max(kLookupRawKeyFloor, rows * kLookupRawKeysPerRow);
  Datum args[1] = {Int64GetDatum(cap + 1)};
  Datum keys = 0;
  bool isnull = true;
  int64 raw = 0;
  as_stage_owner(sc.stage_owner, sc.search_path, [&] {
    if (!sc.owner_plans.plan[e]) {
      Oid types[1] = {INT8OID};
      sc.owner_plans.plan[e] = prepare_kept(
          lookup ? lookup_keys_statement(sc.spec, event) : owner_keys_statement(sc.spec, event), 1, types);
    }
    run_plan(sc.owner_plans.plan[e], args, nullptr);
    keys = spi_datum(0, 1, &isnull);
    raw = spi_int8(0, 2);
  });
  if (lookup && raw > cap) {
    capture_marker(sc, event, values);
    return;
  }
  if (isnull) return;  // no key
  values[2] = keys;
  as_extension_owner([&] {
    if (!sc.plans.plan[e]) {
      Oid types[3] = {INT4OID, INT8OID, JSONBARRAYOID};
      sc.plans.plan[e] = prepare_kept(queue_keys_statement(), 3, types);
    }
    run_plan(sc.plans.plan[e], values, nullptr);
  });
}

void capture_stage(StageCapture& sc, Oid relid, CaptureEvent event, int64 rows) {
  const int64 threshold = marker_threshold(sc);
  Datum values[3] = {Int32GetDatum(sc.stage_id), Int64GetDatum(threshold), 0};
  const bool owner_code = event != CaptureEvent::Truncate &&
                          (sc.spec.kind == MappingKind::Lookup || (sc.spec.kind == MappingKind::Same && !sc.builtin_types));
  if (owner_code) {
    // The owner's code would see every changed row, including rows row-level security
    // hides from the owner: then it does not run, and the statement dirties every scope
    // (the refresh reads the source as the owner, under the same policies).
    int rls = RLS_NONE;
    const Oid owner = sc.stage_owner;
    pg_call([&] { rls = check_enable_rls(relid, owner, true); });
    if (rls == RLS_ENABLED)
      capture_marker(sc, event, values);
    else
      capture_as_owner(sc, event, rows, values);
    return;
  }
  const int e = static_cast<int>(event) * kSizes;  // first plan slot of this event
  const CaptureSize size = sc.spec.kind == MappingKind::Same ? size_for(rows, threshold) : CaptureSize::Many;
  const int slot = e + static_cast<int>(size);
  as_extension_owner([&] {
    if (!sc.plans.plan[slot]) {
      Oid types[2] = {INT4OID, INT8OID};
      sc.plans.plan[slot] = prepare_kept(capture_statement(sc.spec, event, size), 2, types);
    }
    run_plan(sc.plans.plan[slot], values, nullptr);
  });
}

// incview.capture() runs pg_incview's SQL as the extension owner over the statement's
// transition tables, which it finds by name. It must only ever run as one of our own
// triggers: right name for the event, AFTER ... FOR EACH STATEMENT, and the transition
// tables registered under our names (else "incview_new" would resolve through the
// search path, to whatever temp view the table's owner planted).
void check_trigger_is_ours(const TriggerData* td, CaptureEvent event) {
  const Trigger* t = td->tg_trigger;
  const char* want_name = kTriggerNames[static_cast<int>(event)];
  const bool wants_old = event == CaptureEvent::Update || event == CaptureEvent::Delete;
  const bool wants_new = event == CaptureEvent::Update || event == CaptureEvent::Insert;
  auto named = [](const char* have, const char* want) { return have && strcmp(have, want) == 0; };
  const bool ok = TRIGGER_FIRED_FOR_STATEMENT(td->tg_event) && TRIGGER_FIRED_AFTER(td->tg_event) &&
                  named(t->tgname, want_name) &&
                  (wants_old ? named(t->tgoldtable, kOldTable) && td->tg_oldtable : t->tgoldtable == nullptr) &&
                  (wants_new ? named(t->tgnewtable, kNewTable) && td->tg_newtable : t->tgnewtable == nullptr);
  if (!ok)
    throw Error("39P01",
                std::string("incview.capture() fired by trigger \"") + (t->tgname ? t->tgname : "?") +
                    "\", which is not one of pg_incview's capture triggers",
                "pg_incview installs its own triggers (incview_capture_ins/upd/del/trunc, with transition tables "
                "incview_old/incview_new) on the sources of stages",
                "drop this trigger; incview.create_stage and incview.map_source install capture");
}

CaptureEvent event_of(TriggerEvent ev) {
  if (TRIGGER_FIRED_BY_INSERT(ev)) return CaptureEvent::Insert;
  if (TRIGGER_FIRED_BY_UPDATE(ev)) return CaptureEvent::Update;
  if (TRIGGER_FIRED_BY_DELETE(ev)) return CaptureEvent::Delete;
  return CaptureEvent::Truncate;
}

}  // namespace

void register_capture_invalidation() { CacheRegisterRelcacheCallback(relcache_callback, 0); }

void invalidate_capture(Oid source) {
  pg_call([&] { CacheInvalidateRelcacheByRelid(source); });
}

void invalidate_stage_capture(int32 stage_id) {
  std::vector<Oid> sources;
  as_extension_owner([&] {
    const uint64 n = spi_exec("SELECT source::oid::text FROM incview.stage_source WHERE stage_id = $1",
                              {int4_arg(stage_id)}, true);
    for (uint64 i = 0; i < n; ++i) sources.push_back(static_cast<Oid>(std::stoul(spi_text_or(i, 1, "0"))));
  });
  for (Oid s : sources) invalidate_capture(s);
}

void install_capture(Oid source) {
  // Each trigger that is missing (never made, or dropped by the table's owner since).
  static const char* const kClauses[] = {
      " AFTER INSERT ON %s REFERENCING NEW TABLE AS incview_new",
      " AFTER UPDATE ON %s REFERENCING OLD TABLE AS incview_old NEW TABLE AS incview_new",
      " AFTER DELETE ON %s REFERENCING OLD TABLE AS incview_old", " AFTER TRUNCATE ON %s"};
  // A lock the idle-trigger removal (idle_capture.cpp) conflicts with, taken before looking at
  // pg_trigger: either that removal has committed and we see its triggers gone, or it cannot
  // start until we commit (and then sees this table read again).
  pg_call([&] { LockRelationOid(source, AccessShareLock); });
  std::string table;
  for (int i = 0; i < 4; ++i) {
    if (spi_scalar("SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid = $1 AND tgname = $2",
                   {oid_arg(source), text_arg(kTriggerNames[i])}))
      continue;
    if (table.empty()) table = *spi_scalar("SELECT $1::pg_catalog.regclass::pg_catalog.text", {oid_arg(source)});
    std::string clause = kClauses[i];
    clause.replace(clause.find("%s"), 2, table);
    spi_exec("CREATE TRIGGER " + quote_ident(kTriggerNames[i]) + clause +
             " FOR EACH STATEMENT EXECUTE FUNCTION incview.capture()");
  }
  invalidate_capture(source);
}

void reinstall_missing_capture(const StageRecord& stage) {
  std::vector<Oid> sources;
  as_extension_owner([&] {
    const uint64 n = spi_exec("SELECT source::oid::text FROM incview.stage_source WHERE stage_id = $1 "
                              "AND EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = source "
                              "            AND c.relkind IN ('r', 'p'))",
                              {int4_arg(stage.id)}, true);
    for (uint64 i = 0; i < n; ++i) sources.push_back(static_cast<Oid>(std::stoul(spi_text_or(i, 1, "0"))));
  });
  for (Oid s : sources) install_capture(s);
}

void warn_if_capture_off(const StageRecord& stage) {
  std::optional<std::string> off;
  as_extension_owner([&] {
    if (!catalog_is_0_2()) return;  // catalog 0.1: its stages view cannot tell
    off = spi_scalar("SELECT incview.capture_off($1)", {int4_arg(stage.id)});
  });
  if (!off) return;
  const std::string msg = "stage \"" + stage.name + "\" is stale: pg_incview's capture triggers on " + *off +
                          " are disabled or missing, so changes to it are not seen";
  const char* m = msg.c_str();
  pg_call([&] {
    ereport(WARNING, (errmsg("%s", m),
                      errhint("re-enable them (ALTER TABLE ... ENABLE TRIGGER incview_capture_ins, "
                              "incview_capture_upd, incview_capture_del, incview_capture_trunc), or call "
                              "incview.rebuild to re-create missing ones")));
  });
}

}  // namespace incview::pg

// The trigger function behind every capture trigger.
Datum incview_capture(PG_FUNCTION_ARGS) {
  using namespace incview;
  using namespace incview::pg;
  return entry_guard([&]() -> Datum {
    if (!CALLED_AS_TRIGGER(fcinfo))
      throw Error("39P01", "incview.capture() must be called as a trigger");
    auto* td = reinterpret_cast<TriggerData*>(fcinfo->context);
    const Oid relid = td->tg_relation->rd_id;
    const CaptureEvent event = event_of(td->tg_event);
    check_trigger_is_ours(td, event);
    spi_connect();
    pg_call([&] { SPI_register_trigger_data(td); });
    free_pending_plans();
    const std::shared_ptr<StageList> stages = load(relid, td->tg_relation->rd_att);
    const int64 rows = changed_row_count(td);
    bool wake = false;
    ++capture_depth;
    try {
      for (auto& sc : *stages) {
        capture_stage(*sc, relid, event, rows);
        wake = wake || sc->wakes;
      }
    } catch (...) {
      --capture_depth;
      throw;
    }
    --capture_depth;
    spi_finish();
    // Continuous stages are woken at commit; the others wait for their time (naptime).
    if (wake) note_dirty_in_transaction();
    note_queued_keys(wake);  // a scheduler that has exited must learn of these keys
    return PointerGetDatum(nullptr);
  });
}
