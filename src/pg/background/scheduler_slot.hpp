// A database's scheduler and its entry in shared memory (shared_state.hpp's slots,
// worker_budget.hpp's demand table): claiming the slot at start, the start of a pass,
// leaving with the time the launcher should bring it back, and the cleanup at exit. The
// pass itself is scheduler_pass.cpp.
#pragma once
#include "pg/catalog/next_due.hpp"
#include "pg/support/pg_headers.hpp"

namespace incview::pg {

// Claims database's slot for this process; false when another live scheduler has it.
bool claim_slot(Oid database);

// before_shmem_exit callback (arg: the database): frees this scheduler's slot.
void release_slot(int code, Datum database);

// A pass is about to read the queue: commits from now on are news to it.
void begin_pass(Oid database);

// Exits the scheduler's slot, leaving when it is next due; false (stay) when a commit
// signalled work since the last pass began. requeue: work remains, but other databases
// waited: line up behind them.
bool leave(Oid database, const NextDue& next, bool requeue);

// No pg_incview here: the launcher leaves this database alone until a CREATE EXTENSION
// (which wakes it) anywhere; a database without the extension costs one start per server
// start.
void mark_no_extension(Oid database);

}  // namespace incview::pg
