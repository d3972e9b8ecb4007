#include "pg/background/worker_budget.hpp"

#include <csignal>

#include "pg/support/settings.hpp"
#include "pg/background/shared_state.hpp"

extern "C" {
#include "access/xact.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"
}

namespace incview::pg {

namespace {

DemandTable* table = nullptr;
shmem_request_hook_type prev_request_hook = nullptr;
shmem_startup_hook_type prev_startup_hook = nullptr;
bool queued_in_xact = false;
bool wakes_in_xact = false;
bool callback_registered = false;

void request_shmem() {
  if (prev_request_hook) prev_request_hook();
  RequestAddinShmemSpace(MAXALIGN(sizeof(DemandTable)));
}

void startup_shmem() {
  if (prev_startup_hook) prev_startup_hook();
  bool found = false;
  LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
  table = static_cast<DemandTable*>(ShmemInitStruct("pg_incview demand", sizeof(DemandTable), &found));
  if (!found) memset(table, 0, sizeof(DemandTable));
  LWLockRelease(AddinShmemInitLock);
}

bool scheduler_running_locked(const SharedState* st, Oid database) {
  for (const auto& s : st->slots)
    if (s.database == database && s.state == SlotState::Running) return true;
  return false;
}

// Busy databases commit all the time: when an earlier commit already left what this one
// would (and woke the launcher if needed), a shared lock is all it costs.
bool already_noted(SharedState* st) {
  LWLockAcquire(st->lock, LW_SHARED);
  const DatabaseDemand* e = demand_entry(MyDatabaseId, false);
  const bool noted = e && e->dirtied && (!wakes_in_xact || e->work_pending);
  LWLockRelease(st->lock);
  return noted;
}

// At commit of a transaction that queued keys: plain C, nothing that can throw.
void xact_callback(XactEvent event, void*) {
  if (event == XACT_EVENT_COMMIT && queued_in_xact && settings.enabled) {
    SharedState* st = shared_state();
    if (st && table && !already_noted(st)) {
      Latch* launcher = nullptr;
      LWLockAcquire(st->lock, LW_EXCLUSIVE);
      if (DatabaseDemand* e = demand_entry(MyDatabaseId, true)) {
        if (wakes_in_xact) e->work_pending = true;
        if (!e->dirtied) e->dirtied_at = GetCurrentTimestamp();
        e->dirtied = true;
        // A running scheduler is woken through its own latch (shared_state.cpp); without
        // one, the launcher must start it.
        if (wakes_in_xact && !scheduler_running_locked(st, MyDatabaseId)) launcher = st->launcher_latch;
      }
      LWLockRelease(st->lock);
      if (launcher) SetLatch(launcher);
    }
  }
  if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_COMMIT ||
      event == XACT_EVENT_PARALLEL_ABORT) {
    queued_in_xact = false;
    wakes_in_xact = false;
  }
}

void ensure_callback() {
  if (!callback_registered) {
    RegisterXactCallback(xact_callback, nullptr);
    callback_registered = true;
  }
}

}  // namespace

void install_demand_shmem_hooks() {
  prev_request_hook = shmem_request_hook;
  shmem_request_hook = request_shmem;
  prev_startup_hook = shmem_startup_hook;
  shmem_startup_hook = startup_shmem;
}

DemandTable* demand_table() { return table; }

DatabaseDemand* demand_entry(Oid database, bool create) {
  if (!table || !OidIsValid(database)) return nullptr;
  DatabaseDemand* free_entry = nullptr;
  for (auto& e : table->entries) {
    if (e.database == database) return &e;
    if (!free_entry && e.database == InvalidOid) free_entry = &e;
  }
  if (!create || !free_entry) return nullptr;
  memset(free_entry, 0, sizeof *free_entry);
  free_entry->database = database;
  free_entry->next_due = 0;  // never looked at: a scheduler must find out what is there
  free_entry->next_due_if_dirty = DT_NOEND;
  return free_entry;
}

void note_queued_keys(bool wakes) {
  if (!table) return;
  ensure_callback();
  queued_in_xact = true;
  wakes_in_xact = wakes_in_xact || wakes;
}

void request_scheduler_at_commit() { note_queued_keys(true); }

void forget_no_extension_locked(Oid database) {
  if (DatabaseDemand* e = demand_entry(database, true)) {
    e->no_extension = false;
    e->next_due = 0;
  }
}

int worker_budget() { return std::min(settings.worker_budget, kMaxDatabases); }

int processes_in_use_locked() {
  int n = 0;
  if (SharedState* st = shared_state())
    for (const auto& s : st->slots)
      if (s.state == SlotState::Running) ++n;
  if (table)
    for (const auto& e : table->entries)
      if (e.database != InvalidOid) n += e.refresh_workers;
  return n;
}

bool reserve_refresh_worker(Oid database) {
  SharedState* st = shared_state();
  if (!st || !table) return true;
  bool ok = false;
  LWLockAcquire(st->lock, LW_EXCLUSIVE);
  DatabaseDemand* e = demand_entry(database, true);
  if (e && processes_in_use_locked() < worker_budget()) {
    ++e->refresh_workers;
    ok = true;
  }
  LWLockRelease(st->lock);
  return ok;
}

void release_refresh_worker(Oid database) {
  SharedState* st = shared_state();
  if (!st || !table) return;
  LWLockAcquire(st->lock, LW_EXCLUSIVE);
  DatabaseDemand* e = demand_entry(database, false);
  if (e && e->refresh_workers > 0) --e->refresh_workers;
  LWLockRelease(st->lock);
}

bool others_waiting(Oid database) {
  SharedState* st = shared_state();
  if (!st || !table) return false;
  bool any = false;
  LWLockAcquire(st->lock, LW_SHARED);
  for (const auto& e : table->entries)
    if (e.database != InvalidOid && e.database != database && e.waiting_since != 0) any = true;
  LWLockRelease(st->lock);
  return any;
}

BackgroundStatus background_status(Oid database) {
  BackgroundStatus out;
  SharedState* st = shared_state();
  if (!st || !table) {
    out.status = "not preloaded";
    return out;
  }
  out.status = "asleep";
  out.next_due = DT_NOEND;
  out.budget = worker_budget();
  LWLockAcquire(st->lock, LW_SHARED);
  out.in_use = processes_in_use_locked();
  for (const auto& e : table->entries)
    if (e.database != InvalidOid && e.waiting_since != 0) ++out.waiting_databases;
  for (const auto& s : st->slots)
    if (s.database == database && s.state == SlotState::Running) out.scheduler_pid = s.pid;
  if (const DatabaseDemand* e = demand_entry(database, false)) {
    out.waiting_since = e->waiting_since;
    out.next_due = e->next_due;
  }
  LWLockRelease(st->lock);
  if (out.scheduler_pid != 0)
    out.status = "running";
  else if (out.waiting_since != 0)
    out.status = "waiting for a worker";
  return out;
}

}  // namespace incview::pg
