#include "pg/storage/retention.hpp"

#include "pg/catalog/state_rows.hpp"
#include "pg/storage/partitions.hpp"
#include "pg/support/spi.hpp"

namespace incview::pg {

int64 drop_expired_partitions_as_owner(const StageRecord& stage) {
  int64 rows = 0;
  as_owner_of(stage, [&] { rows = drop_expired_partitions(stage); });
  return rows;
}

int64 delete_expired_batch(const StageRecord& stage) {
  int64 n = 0;
  as_owner_of(stage, [&] { n = static_cast<int64>(spi_exec(StageSql(stage.shape).delete_expired(kRetentionBatch))); });
  return n;
}

void mark_retention_applied(const StageRecord& stage) { save_retention_time(stage.id); }

int64 apply_retention(const StageRecord& stage) {
  if (stage.shape.retention_column.empty()) return 0;
  int64 total = drop_expired_partitions_as_owner(stage);
  for (;;) {
    const int64 n = delete_expired_batch(stage);
    total += n;
    if (n < kRetentionBatch) break;
  }
  mark_retention_applied(stage);
  return total;
}

}  // namespace incview::pg
