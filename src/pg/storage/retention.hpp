// Retention (the notification service scenario, seed 004: "delete older than"): expired rows leave a stage in small batches,
// or whole range partitions at once; refreshes never re-create them (StageSql filters
// the query by the same cutoff).
//
// Every step runs the stage's SQL (its table's triggers and index expressions fire on the
// DELETE) and so runs as the stage's owner, restricted; callers need no role switch. The
// background worker commits between batches, switching to the owner anew inside each
// transaction rather than committing while switched.
#pragma once
#include "pg/catalog/catalog.hpp"

namespace incview::pg {

inline constexpr long kRetentionBatch = 10000;

// Drops the range partitions that hold only expired rows; returns the rows they held.
int64 drop_expired_partitions_as_owner(const StageRecord& stage);

// Removes at most kRetentionBatch expired rows; returns how many (fewer: nothing is left).
int64 delete_expired_batch(const StageRecord& stage);

// Records that retention ran now (incview.stage_state.last_retention).
void mark_retention_applied(const StageRecord& stage);

// All of the above in the current transaction; returns rows removed.
int64 apply_retention(const StageRecord& stage);

}  // namespace incview::pg
