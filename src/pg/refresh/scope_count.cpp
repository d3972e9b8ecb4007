#include "pg/refresh/scope_count.hpp"

#include "core/stage_sql.hpp"
#include "pg/capture/capture.hpp"
#include "pg/support/role.hpp"
#include "pg/support/spi.hpp"

namespace incview::pg {

int64 record_scope_count(const StageRecord& stage, const std::string& relation) {
  // Exact: pg_stats' n_distinct can be off by a factor of two on big tables. (About 1 s per
  // 5 million rows, next to a full build that costs 15 s or more.)
  int64 count = 0;
  as_stage_owner(stage.owner, stage.search_path, [&] {  // DISTINCT runs the scope types' equality
    spi_exec("SELECT count(*) FROM (SELECT DISTINCT " + StageSql(stage.shape).scope_columns() + " FROM " +
             (relation.empty() ? stage.shape.target : relation) + ") AS k");
    count = spi_int8(0, 1);
  });
  return record_known_scope_count(stage, count);
}

int64 record_known_scope_count(const StageRecord& stage, int64 count) {
  save_scope_count(stage.id, count);
  // Capture reads the count to decide when a statement dirties "every scope".
  as_extension_owner([&] { invalidate_stage_capture(stage.id); });
  return count;
}

}  // namespace incview::pg
