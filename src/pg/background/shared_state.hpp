// Shared memory of pg_incview (only when preloaded): the launcher's latch and one slot per
// database scheduler, so a committing writer can wake its database's scheduler at once.
#pragma once
#include "pg/support/pg_headers.hpp"

extern "C" {
#include "storage/latch.h"
#include "storage/lwlock.h"
}

namespace incview::pg {

inline constexpr int kMaxDatabases = 64;

enum class SlotState : int { Free = 0, Running = 1, NoExtension = 2 };

struct SchedulerSlot {
  Oid database;
  int pid;
  SlotState state;
  TimestampTz checked_at;  // NoExtension: when the scheduler found no extension there
  Latch* latch;            // the scheduler's MyLatch (lives in its PGPROC, shared)
  bool stop_requested;     // DROP DATABASE asked it to go: on exit, keep the launcher off
};

struct SharedState {
  LWLock* lock;
  int launcher_pid;
  Latch* launcher_latch;
  SchedulerSlot slots[kMaxDatabases];
};

// nullptr unless the library was loaded through shared_preload_libraries.
SharedState* shared_state();
bool preloaded();
void install_shmem_hooks();

// Wakes the scheduler of this database (after a commit that queued dirty keys).
void wake_scheduler(Oid database);
void wake_launcher();

// Marks the current transaction as having queued dirty keys; at commit the database's
// scheduler is woken (the "continuous" policy's millisecond lag).
void note_dirty_in_transaction();

// Wakes the launcher when the current transaction commits (CREATE EXTENSION: a scheduler
// started before the commit would not see the extension yet).
void wake_launcher_at_commit();

// Asks the scheduler of a database to exit and waits (up to timeout_ms) until it has:
// DROP DATABASE must not wait for our worker.
void stop_scheduler(Oid database, int timeout_ms);

}  // namespace incview::pg
