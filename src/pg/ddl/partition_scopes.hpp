// The scopes a partition's rows belong to, queued when those rows join or leave a source
// without any DML (ALTER TABLE ... ATTACH / DETACH PARTITION, DROP TABLE of a partition):
// no capture trigger fires then, and an "every scope" marker would make the next refresh
// rebuild the whole stage for what is usually one month of data.
#pragma once
#include "pg/support/pg_headers.hpp"

namespace incview::pg {

// For every stage reading `anchor` or one of its ancestors: queues the keys of the rows of
// `table` (read now, before the DDL runs), by the mapping of the nearest registered
// ancestor, as the stage owner. An "every scope" marker instead when the mapping is `all`,
// row-level security hides rows from the owner, the owner may not read the table, the
// keys exceed the stage's marker threshold, or anything else fails.
// DROP/DETACH: anchor = the partition; ATTACH: anchor = the parent it joins.
void dirty_scopes_of_partition(Oid table, Oid anchor);

}  // namespace incview::pg
