// Refreshing a stage from its dirty queue: plan (batches or full), then one step at a time.
#pragma once
#include "core/refresh_steps.hpp"
#include "pg/catalog/catalog.hpp"

namespace incview::pg {

using incview::StepResult;  // (core/refresh_steps.hpp)

// One step: a full rebuild when the planner says so (only when starting, after = nullopt),
// else the next batch of keys after `after`. A failing step rolls back, keeps its keys
// queued, is logged, and returns failed with the position past it.
// run_failed: an earlier step of the same run failed (kept visible in incview.stages).
StepResult refresh_step(const StageRecord& stage, const std::optional<std::string>& after, bool run_failed = false);

// Full rebuild now: takes the stage lock, consumes every queued key, rebuilds, records the
// scope count, logs. Returns what was written.
RefreshStats rebuild_and_log(const StageRecord& stage);

// All steps in this transaction; returns scopes re-derived (a full rebuild counts the
// dirty keys it made fresh).
int64 refresh_stage(const StageRecord& stage);

}  // namespace incview::pg
