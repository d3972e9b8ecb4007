#include "pg/refresh/refresher.hpp"

#include <chrono>

#include "pg/citus/citus.hpp"
#include "pg/support/guard.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/storage/partitions.hpp"
#include "pg/background/progress.hpp"
#include "pg/support/role.hpp"
#include "pg/support/spi.hpp"

namespace incview::pg {

namespace {
// First half of the advisory lock key: "incv" — keeps our locks apart from the user's.
constexpr int32 kLockSpace = 0x696e6376;
}  // namespace

void lock_stage(int32 stage_id) {
  spi_exec("SELECT pg_catalog.pg_advisory_xact_lock($1, $2)", {int4_arg(kLockSpace), int4_arg(stage_id)});
}

EngineFacts engine_facts(const StageRecord& stage) {
  EngineFacts facts;
  facts.declared = stage.engine;
  facts.scopes_independent = stage.scope_pushdown;
  facts.has_unique_key = !stage.shape.unique_key.empty();
  facts.has_downstream = stage.has_downstream;
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
  int64 rows_reported = 0;  // rows already counted in incview.progress
  progress_phase(ProgressPhase::RefreshingBatches);
  with_session_settings(stage.search_path, [&] {
  for (const auto& batch : batches) {
    const auto args = batch_args(batch, stage.scope_types);
    const std::string rows = sql.select_scoped(batch.nulls);
    if (engine == Engine::Diff) {
      insert_routed(stage, rows, args, [&] { spi_exec(sql.diff_scoped(batch.nulls), args); });
      stats.deleted += spi_int8(0, 1);
      stats.inserted += spi_int8(0, 2);
      stats.updated += spi_int8(0, 3);
    } else {
      stats.deleted += static_cast<int64>(spi_exec(sql.delete_scoped(batch.nulls), args));
      insert_routed(stage, rows, args, [&] {
        stats.inserted += static_cast<int64>(spi_exec(sql.insert_scoped(batch.nulls), args));
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

}  // namespace

RefreshStats rebuild_stage(const StageRecord& stage) {
  const StageSql sql(stage.shape);
  RefreshStats stats;
  const std::string count_rows = report_rebuild(stage);
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
    // DELETE rather than TRUNCATE: readers keep seeing the old rows until we commit.
    stats.deleted = static_cast<int64>(spi_exec(sql.delete_all()));
    insert_routed(stage, rows, {},
                  [&] { stats.inserted = static_cast<int64>(spi_exec(sql.insert_all(count_rows))); });
  }
  });
  return stats;
}

double monotonic_seconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace incview::pg
