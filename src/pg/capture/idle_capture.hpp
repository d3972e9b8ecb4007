// Capture triggers no stage needs any more ("idle"), and their removal without waiting.
//
// DROP TRIGGER takes ACCESS EXCLUSIVE on the table until commit, which would make every reader
// and writer of a busy source wait behind drop_stage or alter_stage (issue 19). So those never
// wait for it: they drop the triggers of a source no stage reads any more only when nobody
// holds a lock on it and they are not inside a transaction block (the lock then lasts the few
// statements to commit); otherwise the triggers stay, idle — the capture function finds no
// stage for the source and returns — and the scheduler removes them later in a short
// transaction of its own, again only when the table is free. incview.drop_idle_capture()
// removes them on request, waiting for the lock like any DDL.
#pragma once
#include "pg/support/pg_headers.hpp"

#include <vector>

namespace incview::pg {

enum class IdleLock {
  IfFree,  // skip a table whose ACCESS EXCLUSIVE lock is not granted at once
  Wait,    // wait for it (lock_timeout applies)
};

// Drops pg_incview's capture triggers from those of `tables` that no stage reads, as the
// current user, skipping tables the user does not own. IfFree also skips everything inside a
// transaction block. Returns the number of tables whose triggers were dropped.
int drop_capture_if_idle(const std::vector<Oid>& tables, IdleLock lock);

// drop_capture_if_idle for the tables carrying pg_incview's capture triggers that no stage reads.
int drop_all_idle_capture(IdleLock lock);

// Tables carrying pg_incview's capture triggers that no stage reads (the scheduler's list).
std::vector<Oid> idle_capture_tables();

}  // namespace incview::pg
