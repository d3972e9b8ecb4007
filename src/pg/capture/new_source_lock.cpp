#include "pg/capture/new_source_lock.hpp"

#include <algorithm>

#include "pg/support/guard.hpp"
#include "pg/support/role.hpp"
#include "pg/support/spi.hpp"

extern "C" {
#include "catalog/pg_class.h"
#include "storage/lmgr.h"
}

namespace incview::pg {

void lock_new_source(Oid source, const std::vector<Oid>& read_before) {
  if (std::find(read_before.begin(), read_before.end(), source) != read_before.end()) return;
  pg_call([&] {
    const char kind = get_rel_relkind(source);
    // Only tables carry capture triggers (foreign tables and materialized views are polled).
    if (kind == RELKIND_RELATION || kind == RELKIND_PARTITIONED_TABLE) LockRelationOid(source, ShareRowExclusiveLock);
  });
}

std::vector<Oid> sources_of(int32 stage_id) {
  std::vector<Oid> out;
  as_extension_owner([&] {
    const uint64 n =
        spi_exec("SELECT source::oid::text FROM incview.stage_source WHERE stage_id = $1", {int4_arg(stage_id)}, true);
    for (uint64 i = 0; i < n; ++i) out.push_back(static_cast<Oid>(std::stoul(spi_text_or(i, 1, "0"))));
  });
  return out;
}

}  // namespace incview::pg
