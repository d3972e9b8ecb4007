// Engine `delta` (issue 13): per-group partial aggregates queued by capture and folded into
// the stage's table. How it stays exact (docs/engines.md):
// - capture runs in the writer's transaction and queues one row per touched group and
//   statement into the stage's own queue table incview.delta_<id>, so a queued delta
//   commits (or rolls back) with the change it describes;
// - the fold consumes the queue (DELETE ... RETURNING) and applies it to the table in ONE
//   statement: one snapshot, one transaction, so a delta is applied exactly when it is
//   consumed — a crash or error undoes both;
// - groups the partials cannot settle (HAVING; a deleted row that may have held min/max)
//   are re-derived from the source inside that same statement, with the same snapshot;
// - anything that re-derives scopes from the source in separate statements (key batches,
//   rebuild) first takes the queue in SHARE mode (writers' inserts wait; the writers in
//   flight finish first) and folds or discards it, so no delta is counted twice.
#pragma once
#include "pg/catalog/catalog.hpp"

namespace incview::pg {

inline bool delta_active(const StageRecord& stage) { return !stage.delta_queue.empty(); }

// Turns the delta engine on for a stage (engine: "delta", or "auto" choosing it): ERROR
// naming what disqualifies the query. Creates the queue, adds the hidden columns,
// records the statements, rebuilds the table. The caller checked ownership.
void enable_delta(const StageRecord& stage, const std::string& engine);

// Turns it off: folds what is queued, drops the hidden columns and the queue.
void disable_delta(const StageRecord& stage);

// Drops the queue table (drop_stage), as the extension owner.
void drop_delta_queue(const StageRecord& stage);

// Folds the queued deltas into the table (one statement). As the stage owner.
RefreshStats fold_deltas(const StageRecord& stage);

// Before re-deriving scopes in statements of their own (as the stage owner): waits for
// writers with deltas in flight, keeps new ones out until commit, and folds (fold = true)
// or discards (before a full rebuild) what is queued.
void settle_delta_queue(const StageRecord& stage, bool fold);

// engine auto: whether the delta engine pays off for this stage (it qualifies and its
// scopes are large enough); as the stage owner.
bool auto_prefers_delta(const StageRecord& stage);

}  // namespace incview::pg
