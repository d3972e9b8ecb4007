#include "pg/catalog/dirty_queue.hpp"

#include "core/sql_text.hpp"
#include "pg/catalog/captured_changes.hpp"
#include "pg/capture/capture.hpp"
#include "pg/support/guard.hpp"
#include "pg/support/role.hpp"
#include "pg/support/spi.hpp"
#include "pg/support/subxact.hpp"

extern "C" {
#include "storage/proc.h"
}

namespace incview::pg {

namespace {

// (key ->> i)::type for each scope column: the jsonb key back to typed values.
std::string typed_key_columns(const StageRecord& stage, const std::string& alias) {
  std::vector<std::string> cols;
  for (size_t i = 0; i < stage.shape.scope.size(); ++i) {
    const auto& c = stage.shape.scope[i];
    const std::string get = (c.type == "jsonb" || c.type == "json") ? " -> " : " ->> ";
    cols.push_back("(" + alias + ".key" + get + std::to_string(i) + ")::" + c.type + " AS " + quote_ident(c.name));
  }
  return join(cols, ", ");
}

// jsonb_build_array(k1, k2) over the batch arrays ($1, $2, ...): the queue's form of the
// keys, as one jsonb[]. Runs the scope types' jsonb conversion: as the stage owner.
std::string json_keys_of_batch(const StageRecord& stage) {
  std::vector<std::string> params, names;
  for (size_t i = 0; i < stage.shape.scope.size(); ++i) {
    params.push_back("$" + std::to_string(i + 1) + "::" + stage.shape.scope[i].type + "[]");
    names.push_back("k" + std::to_string(i + 1));
  }
  const std::string bare = join(names, ", ");
  const std::string cols = "u." + join(names, ", u.");
  // (Multi-argument unnest is FROM-clause syntax and cannot be schema-qualified; this runs
  // as the owner under its own path anyway.)
  return "SELECT pg_catalog.array_agg(pg_catalog.jsonb_build_array(" + cols + ")) FROM unnest(" + join(params, ", ") +
         ") AS u(" + bare + ")";
}

// The typed scope columns of queued keys, from a jsonb array of keys ($1, text), in order.
std::string typed_keys_sql(const StageRecord& stage) {
  return "SELECT " + typed_key_columns(stage, "k") +
         " FROM pg_catalog.jsonb_array_elements($1::pg_catalog.jsonb) WITH ORDINALITY AS k(key, n) ORDER BY k.n";
}

std::string json_array_of(const std::vector<std::string>& keys) { return "[" + join(keys, ",") + "]"; }

// A queued key that cannot be read back as the scope types (a mapping returned 10^10 for
// an int4 scope, or the type changed under the key) can never be refreshed: it is dropped
// from the queue, logged in refresh_log and last_error with a WARNING, and the batch goes
// on without it, so one bad key never wedges the stage.
void report_dropped_keys(const StageRecord& stage, const std::vector<std::pair<std::string, std::string>>& bad) {
  for (const auto& [key, error] : bad) {
    const std::string msg = "scope key " + key + " of stage \"" + stage.name + "\" cannot be read as (" +
                            StageSql(stage.shape).scope_columns() + "): " + error + "; dropped from the queue";
    log_dropped_key(stage, msg);
    const char* m = msg.c_str();
    pg_call([&] {
      ereport(WARNING, (errmsg("%s", m), errhint("check the mappings of the stage's sources (incview.explain)")));
    });
  }
}

// Casts queued keys to the scope types as the stage owner (the casts run its types' input
// functions and domain checks), one subtransaction for the batch and, only if that fails,
// one per key to find the bad ones.
std::vector<KeyBatch> typed_batches(const StageRecord& stage, const std::vector<std::string>& keys, int64 limit) {
  std::vector<KeyBatch> out;
  std::vector<std::pair<std::string, std::string>> bad;
  const std::string sql = typed_keys_sql(stage);
  as_stage_owner(stage.owner, stage.search_path, [&] {
    auto error = in_subtransaction([&] {
      spi_exec(sql, {text_arg(json_array_of(keys))});
      out = batches_from_result(stage.scope_types, limit);
    });
    if (!error) return;
    out.clear();
    std::vector<std::string> good;
    for (const auto& key : keys) {
      auto e = in_subtransaction([&] { spi_exec(sql, {text_arg(json_array_of({key}))}); });
      if (e)
        bad.push_back({key, e->message});
      else
        good.push_back(key);
    }
    if (good.empty()) return;
    spi_exec(sql, {text_arg(json_array_of(good))});
    out = batches_from_result(stage.scope_types, limit);
  });
  if (!bad.empty()) report_dropped_keys(stage, bad);
  return out;
}

}  // namespace

namespace {

struct SummaryNote {
  int32 stage_id = 0;
  LocalTransactionId lxid = InvalidLocalTransactionId;
  CommandId cid = InvalidCommandId;
  DirtySummary summary;
};
SummaryNote summary_noted;

void now_in_transaction(LocalTransactionId& lxid, CommandId& cid) {
  pg_call([&] {
    lxid = MyProc->lxid;
    cid = GetCurrentCommandId(false);
  });
}

// A delta stage's queue (incview.delta_<id>, owned by the extension owner) is probed in the
// same statement: an index-less LIMIT 1 of a table that is empty between folds. A delta
// committed after this statement's snapshot is folded by the next refresh, as if it had
// come a moment later; this transaction's own deltas are visible to it.
std::string deltas_probe(const std::string& delta_queue) {
  return delta_queue.empty() ? std::string("false") : "EXISTS (SELECT 1 FROM " + delta_queue + " LIMIT 1)";
}

}  // namespace

std::string summary_columns(const std::string& delta_queue) {
  // Two EXISTS probes, each a LIMIT 1 scan: what a refresh needs to know when nothing is in
  // the key queue (the usual case of a delta stage). With keys or a marker queued, the count
  // and the stage's scope count decide between batches and a rebuild: dirty_summary reads
  // them after the lock (summary_from_row notes nothing then).
  return "EXISTS (SELECT 1 FROM incview.dirty_scope d WHERE d.stage_id = s.id), " + deltas_probe(delta_queue);
}

std::optional<DirtySummary> summary_from_row(int first_column) {
  if (spi_bool(0, first_column)) return std::nullopt;  // keys or a marker queued
  DirtySummary s;
  s.deltas_queued = spi_bool(0, first_column + 1);
  return s;
}

void note_dirty_summary(int32 stage_id, const DirtySummary& summary) {
  summary_noted.stage_id = stage_id;
  summary_noted.summary = summary;
  now_in_transaction(summary_noted.lxid, summary_noted.cid);
}

DirtySummary dirty_summary(const StageRecord& stage) {
  LocalTransactionId lxid = InvalidLocalTransactionId;
  CommandId cid = InvalidCommandId;
  now_in_transaction(lxid, cid);
  const SummaryNote note = summary_noted;
  summary_noted = SummaryNote{};
  if (note.stage_id == stage.id && note.lxid == lxid && note.cid == cid) return note.summary;
  as_extension_owner([&] {
    spi_exec(
        "SELECT coalesce(bool_or(d.key IS NULL), false), count(DISTINCT d.key), "
        "       (SELECT coalesce(st.scope_count, 0) FROM incview.stage_state st WHERE st.stage_id = $1), " +
            deltas_probe(stage.delta_queue) + " FROM incview.dirty_scope d WHERE d.stage_id = $1",
        {int4_arg(stage.id)}, true);
  });
  DirtySummary s;
  s.every_scope = spi_bool(0, 1);
  s.keys = spi_int8(0, 2);
  s.total_scopes = spi_int8(0, 3);
  s.deltas_queued = spi_bool(0, 4);
  return s;
}

DirtyBatch take_dirty_batch(const StageRecord& stage, const std::optional<std::string>& after, int64 limit) {
  // As the extension owner: jsonb only. The keys go back to typed values as the owner.
  // The batch is the first $3 keys past `after` in key order, so its rows are exactly those
  // in the key range (after, its last key]: the DELETE takes that range (same snapshot as
  // the batch), one pass over the queue whatever the plan. A join with the batch was planned
  // as a nested loop when the queue's statistics said it was empty (as they did in the lag
  // bench: every pass empties it), and that plan is kept for the life of the scheduler:
  // n x k key comparisons, 9 s for 1,000 keys over a 5,000-row queue at 1,000 inserts/s, so
  // the scheduler fell further behind with every pass (bench/fixed_cost.md, freshness lag).
  const std::string sql =
      "WITH batch AS (SELECT DISTINCT d.key FROM incview.dirty_scope d "
      "               WHERE d.stage_id = $1 AND d.key IS NOT NULL AND ($2::jsonb IS NULL OR d.key > $2::jsonb) "
      "               ORDER BY d.key LIMIT $3), "
      "gone AS (DELETE FROM incview.dirty_scope d WHERE d.stage_id = $1 AND d.key IS NOT NULL "
      "         AND ($2::jsonb IS NULL OR d.key > $2::jsonb) "
      "         AND d.key OPERATOR(pg_catalog.<=) (SELECT b.key FROM batch b ORDER BY b.key DESC LIMIT 1)) "
      "SELECT b.key::text FROM batch b ORDER BY b.key";
  DirtyBatch out;
  std::vector<std::string> keys;
  as_extension_owner([&] {
    const uint64 n = spi_exec(sql, {int4_arg(stage.id), after ? text_arg(*after) : null_arg(TEXTOID), int8_arg(limit)});
    for (uint64 i = 0; i < n; ++i) keys.push_back(spi_text_or(i, 1, "null"));
  });
  if (keys.empty()) return out;
  out.last_key = keys.back();
  out.full = static_cast<int64>(keys.size()) >= limit;
  out.batches = typed_batches(stage, keys, limit);
  return out;
}

std::optional<Datum> queue_keys_of(const StageRecord& stage, const KeyBatch& batch) {
  Datum keys = 0;
  bool isnull = true;
  as_stage_owner(stage.owner, stage.search_path, [&] {
    spi_exec(json_keys_of_batch(stage), batch_args(batch, stage.scope_types));
    keys = spi_datum(0, 1, &isnull);
  });
  if (isnull) return std::nullopt;
  return keys;
}

bool any_queued(const StageRecord& stage, Datum keys) {
  collect_captured(stage.id);
  bool queued = false;
  as_extension_owner([&] {
    queued = spi_scalar(
                 "SELECT 1 FROM incview.dirty_scope d WHERE d.stage_id = $1 "
                 "AND (d.key = ANY($2::jsonb[]) OR d.key IS NULL) LIMIT 1",
                 {int4_arg(stage.id), {JSONBARRAYOID, keys, false}})
                 .has_value();
  });
  return queued;
}

void consume_dirty_keys(const StageRecord& stage, const KeyBatch& batch) {
  const std::optional<Datum> queue_keys = queue_keys_of(stage, batch);
  if (!queue_keys) return;
  const Datum keys = *queue_keys;
  collect_captured(stage.id);  // records of these keys too: this refresh makes them redundant
  as_extension_owner([&] {
    spi_exec("DELETE FROM incview.dirty_scope d WHERE d.stage_id = $1 AND d.key = ANY($2::jsonb[])",
             {int4_arg(stage.id), {JSONBARRAYOID, keys, false}});
  });
}

void consume_all_dirty(const StageRecord& stage, bool collected) {
  // Advances the stage's mark: the rebuild covers its records. (A second scan of every record
  // for the few committed since the caller's collection cost as much as the first: a third
  // of the collection time under a sustained load, bench/capture_queue.md.)
  if (!collected) collect_captured(stage.id);
  as_extension_owner([&] { spi_exec("DELETE FROM incview.dirty_scope WHERE stage_id = $1", {int4_arg(stage.id)}); });
}

void consume_partition_keys(const StageRecord& stage, size_t pos, const std::string& value) {
  as_extension_owner([&] {
    spi_exec("DELETE FROM incview.dirty_scope WHERE stage_id = $1 AND key ->> " + std::to_string(pos) + " = $2",
             {int4_arg(stage.id), text_arg(value)});
  });
}

// A loose index scan over dirty_scope (stage_id, key): one probe per stage with queued keys.
void forget_keys_of_dropped_stages() {
  spi_exec(
      "WITH RECURSIVE ids(id) AS ("
      "  (SELECT d.stage_id FROM incview.dirty_scope d ORDER BY d.stage_id LIMIT 1) "
      "  UNION ALL "
      "  SELECT (SELECT d.stage_id FROM incview.dirty_scope d WHERE d.stage_id > ids.id ORDER BY d.stage_id LIMIT 1) "
      "  FROM ids WHERE ids.id IS NOT NULL) "
      "DELETE FROM incview.dirty_scope q USING ids "
      "WHERE q.stage_id = ids.id AND NOT EXISTS (SELECT 1 FROM incview.stage s WHERE s.id = ids.id)");
}

}  // namespace incview::pg
