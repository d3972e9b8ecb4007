// The incview.stage_state row of a successful refresh run, written by a direct heap update
// (issue 13's one-row target): the row's UPDATE statement was most of the log's ~23 % of a
// one-row delta refresh call, its executor start-up and finish for one row
// (bench/fixed_cost.md). The new row version is the one the statement wrote (status idle,
// last_refresh now, the duration, no error, failures and back-off cleared; with
// keep_failure, status, error, failures and back-off kept), WAL-logged, HOT when the page
// has room, its index entries made otherwise, and commits or rolls back with the run.
// docs/design.md, "The catalog layer".
#pragma once
#include "pg/support/pg_headers.hpp"

namespace incview::pg {

// Updates the stage's state row and returns true; returns false, writing nothing, when the
// table is not exactly the one our scripts made (another column, index or trigger than the
// foreign key's own, forced row security), when the row is missing, or when a concurrent
// transaction updated or deleted it (waited for first, as the statement would): the caller
// then runs the statement, which applies the triggers and the isolation level's rules
// (READ COMMITTED: the newest version; otherwise a serialization failure), as before.
bool update_state_row_ok(int32 stage_id, int64 duration_us, bool keep_failure);

}  // namespace incview::pg
