#include "pg/capture/new_source_lock.hpp"

#include <algorithm>

#include "pg/support/guard.hpp"

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

}  // namespace incview::pg
