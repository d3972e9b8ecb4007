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
#include "pg/catalog/delta_single.hpp"

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

// DROP EXTENSION pg_incview (its event trigger): the queue tables are not members of the
// extension (pg_dump must dump them) and the extension's schema outlives it (the control
// file's schema): without this they would be left behind, and a new CREATE EXTENSION's
// stage ids would collide with them. Transactional: a DROP refused later undoes it.
void drop_all_delta_queues();

// Folds the queued deltas into the table (one statement). As the stage owner. `scanned`: what
// the caller's scan of the queue found in this transaction, under the stage's lock
// (scan_delta_queue, delta_single.hpp; its row is consumed here); nullptr: scanned here.
RefreshStats fold_deltas(const StageRecord& stage, const QueueScan* scanned = nullptr);

// Before re-deriving scopes in statements of their own (as the stage owner): waits for
// writers with deltas in flight, keeps new ones out until commit, and folds (fold = true)
// or discards (before a full rebuild) what is queued.
void settle_delta_queue(const StageRecord& stage, bool fold);

// Float drift (docs/engines.md, "Exactness"): a delta stage with sum/avg over real/double
// precision marks every group a fold writes (__incview_folded); re-deriving a marked group
// from the source repairs whatever rounding the folds accumulated. Each batch is one fold
// statement that also re-derives the groups (DeltaPlan::rederive): writers never wait.
//
// Whether the stage can drift (a delta stage with a float sum/avg).
bool rederives(const StageRecord& stage);
// Groups marked now (as the stage owner).
int64 folded_groups(const StageRecord& stage);
// One batch: folds the queue and re-derives at most `limit` marked groups, under the
// stage's lock; logs it like a refresh. Returns the groups re-derived (0: none, or the
// stage cannot drift). Caller: any role, the stage's SQL runs as its owner.
int64 rederive_batch(const StageRecord& stage, int64 limit);
// Records the time of a complete re-derive (incview.delta_stage.last_rederive).
void mark_rederived(const StageRecord& stage);
// Every group marked when it starts, in batches of incview.batch_size groups, in the
// current transaction (incview.rederive); then mark_rederived. Returns groups re-derived.
int64 rederive_folded(const StageRecord& stage);

// engine auto: whether the delta engine pays off for this stage (it qualifies, its scopes
// are large enough, and no source of it has kAutoDeltaStagesPerSource delta stages already:
// then a NOTICE says why not and how to force it; core/delta_write_cost.hpp); as the stage owner.
bool auto_prefers_delta(const StageRecord& stage);

// After an explicit delta: a WARNING when a source of the stage now has more delta stages
// than auto allows (each adds a capture statement to every write to it).
void warn_delta_write_cost(const StageRecord& stage);

}  // namespace incview::pg
