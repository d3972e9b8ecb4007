// Refreshing a stage from its dirty queue: plan (batches or full), then one step at a time.
#pragma once
#include "pg/catalog/catalog.hpp"

namespace incview::pg {

struct StepResult {
  int64 scopes = 0;                     // scopes re-derived by this step (-1: full rebuild)
  std::optional<std::string> last_key;  // keyset position to continue after; nullopt = done
  bool failed = false;
};

// One step: a full rebuild when the planner says so (only when starting, after = nullopt),
// else the next batch of keys after `after`. A failing step rolls back, keeps its keys
// queued, is logged, and returns failed with the position past it.
// run_failed: an earlier step of the same run failed (kept visible in incview.stages).
StepResult refresh_step(const StageRecord& stage, const std::optional<std::string>& after,
                        bool run_failed = false);

// Full rebuild now: takes the stage lock, consumes every queued key, rebuilds, records the
// scope count, logs. Returns what was written.
RefreshStats rebuild_and_log(const StageRecord& stage);

// The steps of one run, from the start of the queue to its end: the one copy of this loop
// (refresh_stage in one transaction, the scheduler's workers in one transaction per step).
// step(after, run_failed) runs one step and returns its result, or nullopt to stop the
// run early (shutdown, the stage dropped). Returns the scopes re-derived.
template <typename Step>
int64 run_steps(Step&& step) {
  int64 total = 0;
  bool failed = false;
  std::optional<std::string> after;
  do {
    const std::optional<StepResult> result = step(after, failed);
    if (!result) break;
    failed = failed || result->failed;
    if (result->scopes > 0) total += result->scopes;
    after = result->last_key;
  } while (after);
  return total;
}

// All steps in this transaction; returns scopes re-derived (a full rebuild counts the
// dirty keys it made fresh).
int64 refresh_stage(const StageRecord& stage);

}  // namespace incview::pg
