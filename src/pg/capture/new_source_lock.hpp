// Registering a table as a new source of a stage, without losing the writes in flight.
#pragma once
#include <vector>

#include "pg/catalog/source_rows.hpp"  // sources_of: the `read_before` of a stage
#include "pg/support/pg_headers.hpp"

namespace incview::pg {

// A stage that starts reading a table must get every write to it, either in the snapshot
// it is built from or as keys its capture queues. A writer whose transaction is open while
// the stage is registered misses both when the table already carries pg_incview's
// triggers (another stage reads it): its capture works from the stages committed when it
// looked (the new one is not), and if it commits after the build's snapshot, its rows are
// not in the build either; the stage stays silently stale (specs/new_source_race.spec).
// So the stage waits for the table's open writers and holds new ones until it commits:
// SHARE ROW EXCLUSIVE, the lock CREATE TRIGGER takes when the table has no triggers yet.
// Readers are not blocked. Taken without a privilege check, like CREATE TRIGGER's (the
// owner's TRIGGER privilege was checked). No-op for a table in `read_before`.
void lock_new_source(Oid source, const std::vector<Oid>& read_before);

}  // namespace incview::pg
