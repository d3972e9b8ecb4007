// Applies a stage's engine to batches of scope keys (docs/design.md, "The path of a write").
#pragma once
#include "core/refresh_planner.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/refresh/key_batch.hpp"

namespace incview::pg {

// One refresher per stage: a transaction-scoped advisory lock keyed by the stage id.
// Readers and writers of the sources and the target never take it.
void lock_stage(int32 stage_id);

// What the engine decision (core/refresh_planner.hpp) needs to know of this stage.
EngineFacts engine_facts(const StageRecord& stage);

// The engine batches of this stage use (batch_engine in core/refresh_planner.hpp).
Engine batch_engine(const StageRecord& stage);

// Re-derives every key of every batch; returns what was written (not logged).
RefreshStats refresh_batches(const StageRecord& stage, const std::vector<KeyBatch>& batches);

// Re-derives everything: engine full (delete all + insert), or a whole-table diff when
// the stage's engine is diff.
RefreshStats rebuild_stage(const StageRecord& stage);

// Seconds since an arbitrary origin (monotonic), for durations.
double monotonic_seconds();

}  // namespace incview::pg
