#include "pg/background/shared_state.hpp"

#include "pg/background/progress.hpp"
#include "pg/support/settings.hpp"
#include "pg/background/worker_budget.hpp"

#include <csignal>

extern "C" {
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"
}

namespace incview::pg {

namespace {

SharedState* state = nullptr;
bool loaded_at_startup = false;
shmem_request_hook_type prev_request_hook = nullptr;
shmem_startup_hook_type prev_startup_hook = nullptr;
bool dirty_in_xact = false;
bool launcher_at_commit = false;
bool xact_callback_registered = false;

void request_shmem() {
  if (prev_request_hook) prev_request_hook();
  RequestAddinShmemSpace(MAXALIGN(sizeof(SharedState)));
  RequestAddinShmemSpace(MAXALIGN(progress_shmem_size()));
  RequestNamedLWLockTranche("pg_incview", 1);
}

void startup_shmem() {
  if (prev_startup_hook) prev_startup_hook();
  bool found = false;
  LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
  state = static_cast<SharedState*>(ShmemInitStruct("pg_incview", sizeof(SharedState), &found));
  if (!found) {
    memset(state, 0, sizeof(SharedState));
    state->lock = &(GetNamedLWLockTranche("pg_incview"))->lock;
  }
  progress_shmem_init();
  LWLockRelease(AddinShmemInitLock);
}

void xact_callback(XactEvent event, void*) {
  // Runs inside PostgreSQL's commit/abort processing: plain C, nothing that can throw.
  // With incview.enabled = off the scheduler does nothing: no signal to send.
  if (event == XACT_EVENT_COMMIT && dirty_in_xact && settings.enabled) wake_scheduler(MyDatabaseId);
  if (event == XACT_EVENT_COMMIT && launcher_at_commit) wake_launcher();
  if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_COMMIT ||
      event == XACT_EVENT_PARALLEL_ABORT) {
    dirty_in_xact = false;
    launcher_at_commit = false;
  }
}

}  // namespace

SharedState* shared_state() { return state; }
bool preloaded() { return loaded_at_startup; }

void install_shmem_hooks() {
  loaded_at_startup = true;
  prev_request_hook = shmem_request_hook;
  shmem_request_hook = request_shmem;
  prev_startup_hook = shmem_startup_hook;
  shmem_startup_hook = startup_shmem;
}

void wake_scheduler(Oid database) {
  if (!state) return;
  Latch* latch = nullptr;
  LWLockAcquire(state->lock, LW_SHARED);
  for (auto& slot : state->slots)
    if (slot.state == SlotState::Running && slot.database == database) latch = slot.latch;
  LWLockRelease(state->lock);
  if (latch) SetLatch(latch);
}

void wake_launcher() {
  if (!state) return;
  LWLockAcquire(state->lock, LW_EXCLUSIVE);
  // A new CREATE EXTENSION may have happened: forget "no extension here" verdicts.
  for (auto& slot : state->slots)
    if (slot.state == SlotState::NoExtension) slot.state = SlotState::Free;
  forget_no_extension_locked(MyDatabaseId);  // worker_budget.hpp
  Latch* latch = state->launcher_latch;
  LWLockRelease(state->lock);
  if (latch) SetLatch(latch);
}

namespace {
void ensure_xact_callback() {
  if (!xact_callback_registered) {
    RegisterXactCallback(xact_callback, nullptr);
    xact_callback_registered = true;
  }
}
}  // namespace

void note_dirty_in_transaction() {
  if (!state) return;
  ensure_xact_callback();
  dirty_in_xact = true;
}

void wake_launcher_at_commit() {
  if (!state) return;
  ensure_xact_callback();
  launcher_at_commit = true;
}

void stop_scheduler(Oid database, int timeout_ms) {
  if (!state) return;
  int pid = 0;
  LWLockAcquire(state->lock, LW_EXCLUSIVE);
  SchedulerSlot* slot = nullptr;
  for (auto& s : state->slots)
    if (s.database == database && s.state != SlotState::Free) slot = &s;
  if (slot && slot->state == SlotState::Running) {
    // Marked before the signal: when it exits, its slot says "no scheduler here" and the
    // launcher (woken by that very exit) does not start a new one during the drop.
    slot->stop_requested = true;
    pid = slot->pid;
  } else {
    if (!slot)
      for (auto& s : state->slots)
        if (s.state == SlotState::Free) {
          slot = &s;
          break;
        }
    if (slot) {
      slot->database = database;
      slot->pid = 0;
      slot->latch = nullptr;
      slot->state = SlotState::NoExtension;
      slot->checked_at = GetCurrentTimestamp();
    }
  }
  LWLockRelease(state->lock);
  if (pid == 0) return;
  kill(pid, SIGTERM);
  for (int waited = 0; waited <= timeout_ms; waited += 10) {
    bool running = false;
    LWLockAcquire(state->lock, LW_SHARED);
    running = slot->state == SlotState::Running && slot->database == database;
    LWLockRelease(state->lock);
    if (!running) return;
    pg_usleep(10000L);
  }
}

}  // namespace incview::pg
