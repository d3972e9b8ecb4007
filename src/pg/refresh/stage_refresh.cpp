#include "pg/refresh/stage_refresh.hpp"

#include "pg/catalog/captured_changes.hpp"

#include "core/refresh_planner.hpp"
#include "pg/citus/citus.hpp"
#include "pg/catalog/dirty_queue.hpp"
#include "pg/query/explain.hpp"
#include "pg/background/progress.hpp"
#include "pg/refresh/refresher.hpp"
#include "pg/refresh/delta_engine.hpp"
#include "pg/refresh/scope_count.hpp"
#include "pg/support/settings.hpp"
#include "pg/support/spi.hpp"
#include "pg/support/subxact.hpp"

namespace incview::pg {

namespace {

void warn_failure(const StageRecord& stage, const std::string& error) {
  const std::string msg = "refresh of stage \"" + stage.name + "\" failed: " + error;
  const char* m = msg.c_str();
  pg_call([&] {
    ereport(WARNING, (errmsg("%s", m),
                      errdetail("its dirty scopes stay queued; see incview.refresh_log")));  // not SQL: a hint
  });
}

StepResult step_as_owner(const StageRecord& stage, const std::optional<std::string>& after, bool run_failed);
RefreshStats rebuild_as_owner(const StageRecord& stage);

}  // namespace

// Both run the stage's SQL (query, casts to its types, triggers and index expressions of
// its table) as its owner, restricted, whoever calls: the owner, a member of its role, a
// superuser's CALL incview.refresh_all(), or the background scheduler.
//
// incview.progress: a run starts with the first step (after = nullopt) and ends with the
// step that finds the queue empty, so the steps of refresh_all and of the scheduler, each
// in its own transaction, report one run. A step continuing a run this backend does not
// report (refresh_step called by hand) starts one with unknown totals.
StepResult refresh_step(const StageRecord& stage, const std::optional<std::string>& after, bool run_failed) {
  StepResult result;
  // A run starts by collecting the keys queued on Citus shards (none without Citus sources).
  if (!after) drain_citus_queues();
  // ... and the change records of its sources (captured_changes.hpp).
  if (!after) collect_captured(stage.id);
  if (!after)
    progress_begin(stage.id, ProgressPhase::Planning, -1, -1);
  else if (!progress_running(stage.id))
    progress_begin(stage.id, ProgressPhase::RefreshingBatches, -1, -1);
  try {
    as_owner_of(stage, [&] { result = step_as_owner(stage, after, run_failed); });
  } catch (...) {
    progress_end();
    throw;
  }
  if (!result.last_key) progress_end();
  return result;
}

RefreshStats rebuild_and_log(const StageRecord& stage) {
  RefreshStats stats;
  ProgressRun run(stage.id, ProgressPhase::Rebuilding, -1, 1);
  as_owner_of(stage, [&] { stats = rebuild_as_owner(stage); });
  return stats;
}

namespace {

StepResult step_as_owner(const StageRecord& stage, const std::optional<std::string>& after, bool run_failed) {
  lock_stage(stage.id);
  StepResult result;
  RefreshStats stats;
  stats.engine = to_string(batch_engine(stage));
  const double t0 = monotonic_seconds();

  if (!after) {
    const DirtySummary dirty = dirty_summary(stage);
    // Delta stages: only deltas queued, the usual case: fold them (one statement), done.
    // With scopes queued too, the batches or the rebuild below settle the deltas first.
    if (delta_active(stage) && !dirty.every_scope && dirty.keys == 0) {
      stats.engine = "delta";
      // Nothing queued: nothing to fold, log or undo (no subtransaction, no fold statement).
      if (!dirty.deltas_queued) return result;
      // One scan of the queue, under the stage's lock (no other fold runs until commit): the
      // answer to "is a delta queued" and, for a one-row change, the row the fold applies.
      const QueueScan queued = scan_delta_queue(stage.delta_queue);
      if (queued.rows == QueuedRows::None) return result;
      auto error = in_subtransaction([&] { stats = fold_deltas(stage, &queued); });
      if (error || stats.scopes > 0)
        log_refresh(stage, stats, monotonic_seconds() - t0,
                    error ? std::optional<std::string>(error->message) : std::nullopt, run_failed);
      if (error) warn_failure(stage, error->message);
      result.scopes = error ? 0 : stats.scopes;
      result.failed = error.has_value();
      return result;
    }
    RefreshInput in;
    in.facts = engine_facts(stage);
    in.every_scope = dirty.every_scope;
    in.dirty = dirty.keys;
    in.total = dirty.total_scopes;
    in.full_ratio = settings.full_refresh_ratio;
    const RefreshMode mode = plan_refresh(in);
    if (mode == RefreshMode::Nothing) return result;
    if (mode == RefreshMode::Full) {
      progress_totals(dirty.every_scope ? (dirty.total_scopes > 0 ? dirty.total_scopes : -1) : dirty.keys, 1);
      int64 scopes = 0;
      auto error = in_subtransaction([&] {
        consume_all_dirty(stage, /*collected=*/true);  // by refresh_step, moments ago
        stats = rebuild_stage(stage);
        progress_phase(ProgressPhase::RecordingScopes);
        scopes = stats.scope_count >= 0 ? stats.scope_count : record_scope_count(stage);
        if (!stage.independence_known) record_independence(stage);
      });
      // A rebuild re-derives every scope; with only keys queued, report those.
      stats.scopes = dirty.every_scope ? scopes : dirty.keys;
      log_refresh(stage, stats, monotonic_seconds() - t0,
                  error ? std::optional<std::string>(error->message) : std::nullopt);
      if (error) warn_failure(stage, error->message);
      result.scopes = error ? 0 : stats.scopes;
      result.failed = error.has_value();
      return result;
    }
    const int64 batch = std::max(settings.batch_size, 1);
    progress_totals(dirty.keys, (dirty.keys + batch - 1) / batch);
  }

  std::optional<std::string> last_key;
  bool more = false;
  auto error = in_subtransaction([&] {
    DirtyBatch batch = take_dirty_batch(stage, after, settings.batch_size);
    last_key = batch.last_key;
    more = batch.full;
    if (!batch.batches.empty()) stats = refresh_batches(stage, batch.batches);
  });
  if (!last_key && !error) return result;  // queue empty past `after`
  // A batch short of the limit took every key queued past `after` when it ran: the run ends
  // with it, without one more step (lock, subtransaction, queue query) that would find the
  // queue empty. Keys queued since belong to the next run, as if they came a moment later.
  result.last_key = more ? last_key : std::nullopt;
  log_refresh(stage, stats, monotonic_seconds() - t0, error ? std::optional<std::string>(error->message) : std::nullopt,
              run_failed);
  if (error) warn_failure(stage, error->message);
  result.scopes = error ? 0 : stats.scopes;
  result.failed = error.has_value();
  return result;
}

RefreshStats rebuild_as_owner(const StageRecord& stage) {
  lock_stage(stage.id);
  const double t0 = monotonic_seconds();
  consume_all_dirty(stage);
  // The query may be new (alter_stage), or the table was empty: its independence is checked
  // again (a plan of a sample batch, keys taken from the table). Before the rebuild when the
  // table has rows: after a storage swap, everything up to the commit runs under the swap's
  // ACCESS EXCLUSIVE lock, which readers wait for (bench/rebuild.md).
  const bool had_rows = spi_scalar("SELECT 1 FROM " + stage.shape.target + " LIMIT 1").has_value();
  if (had_rows) record_independence(stage);
  RefreshStats stats = rebuild_stage(stage);
  progress_phase(ProgressPhase::RecordingScopes);
  stats.scopes = stats.scope_count >= 0 ? stats.scope_count : record_scope_count(stage);
  log_refresh(stage, stats, monotonic_seconds() - t0, std::nullopt);
  if (!had_rows) record_independence(stage);
  return stats;
}

}  // namespace

int64 refresh_stage(const StageRecord& stage) {
  return run_steps([&](const std::optional<std::string>& after, bool run_failed) -> std::optional<StepResult> {
    // Each step at an SPI level of its own: the rows its statements return and its key
    // arrays are freed when it ends, so one call refreshing many batches holds one batch's
    // memory, not every batch's (issue 12, item 6). (On an error the transaction's abort
    // frees the level.)
    spi_connect();
    const StepResult result = refresh_step(stage, after, run_failed);
    spi_finish();
    return result;
  });
}

}  // namespace incview::pg
