#include "pg/catalog/state_rows.hpp"

#include "pg/support/role.hpp"
#include "pg/support/spi.hpp"

namespace incview::pg {

void save_retention_time(int32 stage_id) {
  as_extension_owner([&] {
    spi_exec("UPDATE incview.stage_state SET last_retention = now() WHERE stage_id = $1", {int4_arg(stage_id)});
  });
}

std::optional<std::string> stored_scope_count(int32 stage_id) {
  std::optional<std::string> count;
  as_extension_owner([&] {
    count = spi_scalar("SELECT scope_count::pg_catalog.text FROM incview.stage_state WHERE stage_id = $1",
                       {int4_arg(stage_id)});
  });
  return count;
}

}  // namespace incview::pg
