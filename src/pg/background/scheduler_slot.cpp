// The scheduler's slot in shared memory (scheduler_slot.hpp). Every function takes the
// shared state's lock for its whole read-and-update, so the launcher never sees a slot
// half claimed or half left.
#include "pg/background/scheduler_slot.hpp"

#include "pg/background/shared_state.hpp"
#include "pg/background/worker_budget.hpp"
#include "pg/background/worker_common.hpp"

extern "C" {
#include "storage/proc.h"
#include "utils/timestamp.h"
}

namespace incview::pg {

namespace {

// Lock held: frees this scheduler's slot (kept as "no scheduler here" when DROP DATABASE
// asked it to go, so the launcher does not start a new one during the drop).
void release_slot_locked(SharedState* st, Oid database) {
  for (auto& s : st->slots)
    if (s.database == database && s.pid == MyProcPid && s.state == SlotState::Running) {
      s.state = s.stop_requested ? SlotState::NoExtension : SlotState::Free;
      s.checked_at = GetCurrentTimestamp();
      s.stop_requested = false;
      s.latch = nullptr;
      s.pid = 0;
    }
  if (DatabaseDemand* e = demand_entry(database, false)) e->refresh_workers = 0;
}

}  // namespace

void release_slot(int, Datum database) {
  SharedState* st = shared_state();
  if (!st) return;
  LWLockAcquire(st->lock, LW_EXCLUSIVE);
  release_slot_locked(st, DatumGetObjectId(database));
  LWLockRelease(st->lock);
}

void begin_pass(Oid database) {
  SharedState* st = shared_state();
  LWLockAcquire(st->lock, LW_EXCLUSIVE);
  if (DatabaseDemand* e = demand_entry(database, true)) {
    e->work_pending = false;
    e->dirtied = false;
    e->waiting_since = 0;
  }
  LWLockRelease(st->lock);
}

bool leave(Oid database, const NextDue& next, bool requeue) {
  SharedState* st = shared_state();
  bool left = false;
  LWLockAcquire(st->lock, LW_EXCLUSIVE);
  DatabaseDemand* e = demand_entry(database, true);
  if (!e) {  // more databases than kMaxKnownDatabases: nothing to record, just go
    release_slot_locked(st, database);
    left = true;
  } else if (requeue || !e->work_pending) {
    e->next_due = requeue ? 0 : next.at;
    e->next_due_if_dirty = next.if_dirty;
    e->min_max_lag_us = next.min_max_lag_us;
    e->waiting_since = requeue ? GetCurrentTimestamp() : 0;
    release_slot_locked(st, database);
    left = true;
  }
  LWLockRelease(st->lock);
  return left;
}

bool claim_slot(Oid database) {
  SharedState* st = shared_state();
  bool ok = false;
  LWLockAcquire(st->lock, LW_EXCLUSIVE);
  SchedulerSlot* mine = nullptr;
  for (auto& s : st->slots)
    if (s.database == database && s.state == SlotState::Running) mine = &s;
  if (mine && mine->pid != 0 && mine->pid != MyProcPid && pid_alive(mine->pid)) {
    ok = false;
  } else {
    if (!mine)
      for (auto& s : st->slots)
        if (s.state == SlotState::Free) {
          mine = &s;
          break;
        }
    if (mine) {
      mine->database = database;
      mine->pid = MyProcPid;
      mine->latch = MyLatch;
      mine->stop_requested = false;
      mine->state = SlotState::Running;
      ok = true;
    }
  }
  LWLockRelease(st->lock);
  return ok;
}

void mark_no_extension(Oid database) {
  SharedState* st = shared_state();
  LWLockAcquire(st->lock, LW_EXCLUSIVE);
  if (DatabaseDemand* e = demand_entry(database, true)) {
    e->no_extension = true;
    e->waiting_since = 0;
  }
  release_slot_locked(st, database);
  LWLockRelease(st->lock);
}

}  // namespace incview::pg
