// Retention (seed 004: "delete older than"): expired rows leave a stage in small batches,
// or whole range partitions at once; refreshes never re-create them (StageSql filters
// the query by the same cutoff).
#pragma once
#include "pg/catalog.hpp"
#include "pg/partitions.hpp"

namespace incview::pg {

inline constexpr long kRetentionBatch = 10000;

// Removes the stage's expired rows; `between_batches` runs after each batch (the worker
// commits there, so a long purge holds no long transaction). Returns rows removed.
template <typename F>
int64 apply_retention(const StageRecord& stage, F&& between_batches) {
  if (stage.shape.retention_column.empty()) return 0;
  int64 total = drop_expired_partitions(stage);
  const std::string sql = StageSql(stage.shape).delete_expired(kRetentionBatch);
  for (;;) {
    const uint64 n = spi_exec(sql);
    total += static_cast<int64>(n);
    if (n < static_cast<uint64>(kRetentionBatch)) break;
    between_batches();
  }
  as_extension_owner([&] {
    spi_exec("UPDATE incview.stage_state SET last_retention = now() WHERE stage_id = $1", {int4_arg(stage.id)});
  });
  return total;
}

}  // namespace incview::pg
