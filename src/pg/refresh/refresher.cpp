#include "pg/refresh/refresher.hpp"

#include <chrono>

#include "core/replace_changes_sql.hpp"
#include "core/sql_text.hpp"

#include "pg/citus/citus.hpp"
#include "pg/support/guard.hpp"
#include "pg/refresh/batch_plans.hpp"
#include "pg/refresh/delta_engine.hpp"
#include "pg/refresh/replace_changes.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/catalog/queue_markers.hpp"
#include "pg/storage/partitions.hpp"
#include "pg/storage/storage_swap.hpp"
#include "pg/background/progress.hpp"
#include "pg/support/role.hpp"
#include "pg/support/spi.hpp"

namespace incview::pg {

namespace {
// First half of the advisory lock key: "incv" — keeps our locks apart from the user's.
constexpr int32 kLockSpace = 0x696e6376;
}  // namespace

// The advisory-lock functions called directly, not through SQL: a statement here was
// parsed and planned on every refresh call (run as the stage's owner, under its search path).
void lock_stage(int32 stage_id) {
  pg_call([&] { DirectFunctionCall2(pg_advisory_xact_lock_int4, Int32GetDatum(kLockSpace), Int32GetDatum(stage_id)); });
}

EngineFacts engine_facts(const StageRecord& stage) {
  EngineFacts facts;
  facts.declared = stage.engine;
  facts.scopes_independent = stage.scope_pushdown;
  facts.has_unique_key = !stage.shape.unique_key.empty();
  facts.has_downstream = stage.has_downstream;
  facts.delta_active = delta_active(stage);
  facts.target_is_citus = [&stage] { return is_citus_table(stage.target); };
  return facts;
}

Engine batch_engine(const StageRecord& stage) { return incview::batch_engine(engine_facts(stage)); }

RefreshStats refresh_batches(const StageRecord& stage, const std::vector<KeyBatch>& batches) {
  RefreshStats stats;
  const Engine engine = batch_engine(stage);
  stats.engine = to_string(engine);
  // Full: these scopes cannot be refreshed alone ("full" here means a rebuild: a diff stage
  // rebuilds by a whole-table diff, see rebuild_stage).
  if (engine == Engine::Full) {
    stats = rebuild_stage(stage);
    for (const auto& b : batches) stats.scopes += b.count;
    return stats;
  }
  const StageSql sql(stage.shape);
  // Replace writes only the rows that changed where the stage has a unique_key.
  const bool changes = engine == Engine::Replace && replace_writes_changes(stage);
  const std::vector<std::string> types = changes ? compare_types(stage) : std::vector<std::string>{};
  settle_delta_queue(stage, true);
  int64 rows_reported = 0;  // rows already counted in incview.progress
  progress_phase(ProgressPhase::RefreshingBatches);
  with_session_settings(stage.search_path, [&] {
    for (const auto& batch : batches) {
      const auto args = batch_args(batch, stage.scope_types);
      const std::string rows = sql.select_scoped(batch.nulls);
      // A small batch's statements run kept plans (batch_plans.hpp), a large one's are planned with its keys;
      // one key gets a filter the kept plan estimates as one scope.
      const int64 n = batch.count;
      const bool one = n == 1;
      if (engine == Engine::Diff) {
        insert_routed(stage, rows, args, [&] { spi_exec_batch(sql.diff_scoped(batch.nulls, one), args, n); });
        stats.deleted += spi_int8(0, 1);
        stats.inserted += spi_int8(0, 2);
        stats.updated += spi_int8(0, 3);
      } else if (changes) {
        // Only the rows that changed (core/replace_changes_sql.hpp): deleted and inserted
        // count what was written.
        insert_routed(stage, rows, args, [&] {
          spi_exec_batch(replace_changes_scoped(sql, batch.nulls, one, types), args, n);
          stats.deleted += spi_int8(0, 1);
          stats.inserted += spi_int8(0, 2);
        });
      } else {
        stats.deleted += static_cast<int64>(spi_exec_batch(sql.delete_scoped(batch.nulls, one), args, n));
        insert_routed(stage, rows, args, [&] {
          stats.inserted += static_cast<int64>(spi_exec_batch(sql.insert_scoped(batch.nulls, one), args, n));
        });
      }
      stats.scopes += batch.count;
      progress_batch_done(batch.count, stats.deleted + stats.inserted + stats.updated - rows_reported);
      rows_reported = stats.deleted + stats.inserted + stats.updated;
    }
  });
  return stats;
}

namespace {

// What incview.progress shows of a rebuild: the phase, and the rows to expect (the
// table's row estimate, pg_class.reltuples over its partitions; unknown before the first
// ANALYZE or VACUUM). Returns the filter that counts the query's rows as they come: only
// with the 0.2 catalog (incview.progress_row) and while this backend reports a run.
std::string report_rebuild(const StageRecord& stage) {
  if (!progress_running(stage.id) || !catalog_is_0_2()) return "";
  progress_phase(ProgressPhase::Rebuilding);
  const auto estimate = spi_scalar(
      "SELECT CASE WHEN pg_catalog.bool_and(c.reltuples OPERATOR(pg_catalog.>=) 0) "
      "THEN pg_catalog.sum(c.reltuples)::pg_catalog.int8 END "
      "FROM pg_catalog.pg_class c WHERE (c.oid OPERATOR(pg_catalog.=) $1 AND c.relkind OPERATOR(pg_catalog.<>) 'p') "
      "OR c.oid IN (SELECT t.relid FROM pg_catalog.pg_partition_tree($1) t WHERE t.isleaf)",
      {oid_arg(stage.target)});
  progress_rows_total(estimate ? std::stoll(*estimate) : -1);
  return kProgressRowFilter;
}

// Why a rebuild writes rows instead of swapping storage: visible with client_min_messages
// = debug1, and in docs/rebuild.md.
void debug_refusal(const StageRecord& stage, const std::string& refusal) {
  const std::string msg = "stage \"" + stage.name + "\" is rebuilt row by row: " + refusal;
  const char* m = msg.c_str();
  pg_call([&] { ereport(DEBUG1, (errmsg("%s", m))); });
}

}  // namespace

RefreshStats rebuild_stage(const StageRecord& stage) {
  const StageSql sql(stage.shape);
  RefreshStats stats;
  const std::string count_rows = report_rebuild(stage);
  settle_delta_queue(stage, false);  // the rebuild re-derives what is queued
  with_session_settings(stage.search_path, [&] {
    const std::string rows = "SELECT * FROM " + sql.wrap_query("s");
    const Engine engine = rebuild_engine(engine_facts(stage));
    stats.engine = to_string(engine);
    if (engine == Engine::Diff) {
      insert_routed(stage, rows, {}, [&] { spi_exec(sql.diff_all(count_rows)); });
      stats.deleted = spi_int8(0, 1);
      stats.inserted = spi_int8(0, 2);
      stats.updated = spi_int8(0, 3);
    } else {
      const std::string select = "SELECT " + column_list(stage.shape.columns, "s") + " FROM " + sql.wrap_query("s");
      const std::string refusal = swap_refusal(stage, select);
      if (refusal.empty()) {
        // The new contents beside the table, swapped in under a short lock (docs/rebuild.md).
        // Counting the rows as the query produces them (incview.progress), as the row path does.
        const SwapResult swapped = swap_rebuild(stage, count_rows.empty() ? select : select + " WHERE " + count_rows);
        stats.deleted = swapped.replaced;
        stats.inserted = swapped.inserted;
        stats.scope_count = swapped.scope_count;
        // The stages reading the table got the scopes whose rows changed (swap_downstream.hpp).
      } else {
        debug_refusal(stage, refusal);
        // DELETE rather than TRUNCATE: readers keep seeing the old rows until we commit.
        stats.deleted = static_cast<int64>(spi_exec(sql.delete_all()));
        insert_routed(stage, rows, {},
                      [&] { stats.inserted = static_cast<int64>(spi_exec(sql.insert_all(count_rows))); });
      }
    }
  });
  return stats;
}

double monotonic_seconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace incview::pg
