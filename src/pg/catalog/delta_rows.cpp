#include "pg/catalog/delta_rows.hpp"

#include "pg/support/role.hpp"

namespace incview::pg {

void save_rederive_every(int32 stage_id, const SpiArg& every) {
  as_extension_owner([&] {
    spi_exec("UPDATE incview.delta_stage SET rederive_every = $2 WHERE stage_id = $1", {int4_arg(stage_id), every});
  });
}

}  // namespace incview::pg
