// Background refresh under one budget (issue 20): what the launcher knows about every
// database without connecting to it, kept in shared memory of its own (beside
// shared_state.hpp, protected by the same LWLock).
//
// A database's scheduler lives only while there is work: it exits after
// incview.idle_timeout with nothing due (or at once when other databases wait for a
// process), leaving the next time something will be due. Commits that queue keys record
// that here; the launcher starts a scheduler when work is pending or a recorded time has
// come, oldest waiting database first, never more than incview.worker_budget processes
// (schedulers and refresh workers together) at once.
#pragma once
#include "pg/support/pg_headers.hpp"

namespace incview::pg {

inline constexpr int kMaxKnownDatabases = 1024;

struct DatabaseDemand {
  Oid database;                   // InvalidOid: a free entry
  bool no_extension;              // a scheduler found no pg_incview here (until CREATE EXTENSION)
  bool work_pending;              // a commit queued keys of a continuous stage (or set_policy ran)
  bool dirtied;                   // a commit queued keys of any stage since the scheduler last looked
  TimestampTz dirtied_at;         // when dirtied was first set
  TimestampTz next_due;           // left by the last scheduler: something is due then (DT_NOEND: nothing)
  TimestampTz next_due_if_dirty;  // ... and then if keys of an interval/daily stage were queued since
  int64 min_max_lag_us;           // smallest max_lag of those stages (0: none)
  TimestampTz waiting_since;      // needs a scheduler and has none since (0: not waiting)
  TimestampTz logged_at;          // last "could not start a scheduler" log line
  int refresh_workers;            // refresh workers its scheduler holds of the budget
};

struct DemandTable {
  DatabaseDemand entries[kMaxKnownDatabases];
};

// Shared-memory hooks of this table (chained; from _PG_init when preloaded).
void install_demand_shmem_hooks();
DemandTable* demand_table();  // nullptr unless preloaded

// The entry of a database, created when missing (lock held exclusively by the caller);
// nullptr when the table is full.
DatabaseDemand* demand_entry(Oid database, bool create);

// Writers: remember that this transaction queued keys (wakes = a continuous stage); at
// commit the database's entry says so, and the launcher is woken when no scheduler runs.
void note_queued_keys(bool wakes);
// set_policy: at commit the database's scheduler must look again (started if needed).
void request_scheduler_at_commit();
// CREATE EXTENSION in this database: forget its "no extension here" verdict and look at it
// now (lock held by the caller).
void forget_no_extension_locked(Oid database);

// The budget: processes pg_incview may run besides the launcher, and how many it runs now
// (schedulers holding a slot plus refresh workers; lock held by the caller).
int worker_budget();
int processes_in_use_locked();

// A scheduler asks for one more refresh worker of the budget (true: granted, count it) and
// gives it back when the worker has exited.
bool reserve_refresh_worker(Oid database);
void release_refresh_worker(Oid database);

// Whether another database waits for a process (a scheduler then yields).
bool others_waiting(Oid database);

// What incview.stages shows about this database's background refresh.
struct BackgroundStatus {
  const char* status;  // "running", "waiting for a worker", "asleep", "not preloaded"
  TimestampTz waiting_since = 0;
  TimestampTz next_due = 0;  // DT_NOEND when nothing is known to be due
  int scheduler_pid = 0;
  int budget = 0;
  int in_use = 0;
  int waiting_databases = 0;
};
BackgroundStatus background_status(Oid database);

}  // namespace incview::pg
