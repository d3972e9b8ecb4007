// The launcher: which databases need a scheduler now (work pending, or a due time one left
// behind), and starting them within the worker budget. It has no database of its own and
// reads pg_database directly; its state is the shared memory of shared_state.hpp and
// worker_budget.hpp.
#include "pg/background/launcher.hpp"

#include <algorithm>

#include "core/launch_plan.hpp"

#include "pg/background/shared_state.hpp"
#include "pg/background/worker_budget.hpp"
#include "pg/background/worker_common.hpp"
#include "pg/support/guard.hpp"
#include "pg/support/settings.hpp"

extern "C" {
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_database.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/timestamp.h"
}

namespace incview::pg {

namespace {

constexpr int kLogEverySeconds = 300;  // "could not start a scheduler": per database
constexpr int kNoExtensionRecheckSeconds = 60;

std::vector<std::string> wanted_databases() {
  std::vector<std::string> out;
  const std::string list = settings.databases ? settings.databases : "";
  std::string cur;
  for (char c : list + ",") {
    if (c == ',') {
      const size_t b = cur.find_first_not_of(" \t"), e = cur.find_last_not_of(" \t");
      if (b != std::string::npos) out.push_back(cur.substr(b, e - b + 1));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  return out;
}

struct DatabaseEntry {
  Oid oid;
  std::string name;
};

std::vector<DatabaseEntry> list_databases() {
  List* oids = NIL;
  List* names = NIL;
  // The launcher has no database: read pg_database (a shared catalog) directly. Only
  // PostgreSQL lists inside the guard; copied into C++ containers afterwards.
  pg_call([&] {
    StartTransactionCommand();
    Relation rel = table_open(DatabaseRelationId, AccessShareLock);
    TableScanDesc scan = table_beginscan_catalog(rel, 0, nullptr);
    HeapTuple tup;
    MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
    while ((tup = heap_getnext(scan, ForwardScanDirection)) != nullptr) {
      Form_pg_database db = reinterpret_cast<Form_pg_database>(GETSTRUCT(tup));
      if (!db->datallowconn || db->datistemplate) continue;
      oids = lappend_oid(oids, db->oid);
      names = lappend(names, pstrdup(NameStr(db->datname)));
    }
    MemoryContextSwitchTo(old);
    table_endscan(scan);
    table_close(rel, AccessShareLock);
    CommitTransactionCommand();
  });
  std::vector<DatabaseEntry> out;
  for (int i = 0; i < list_length(oids); ++i)
    out.push_back({list_nth_oid(oids, i), static_cast<const char*>(list_nth(names, i))});
  pg_call([&] {
    list_free(oids);
    list_free_deep(names);
  });
  return out;
}

// Rate-limited (one line per database per kLogEverySeconds) warning that a scheduler could
// not be started: the database stays "waiting for a worker" and is tried again each pass.
void log_start_failure(const DatabaseEntry& db) {
  SharedState* st = shared_state();
  bool log = false;
  LWLockAcquire(st->lock, LW_EXCLUSIVE);
  if (DatabaseDemand* e = demand_entry(db.oid, false)) {
    const TimestampTz now = GetCurrentTimestamp();
    log = e->logged_at == 0 || TimestampDifferenceExceeds(e->logged_at, now, kLogEverySeconds * 1000);
    if (log) e->logged_at = now;
  }
  LWLockRelease(st->lock);
  if (log)
    ereport(WARNING, (errmsg("pg_incview: could not start a scheduler for database \"%s\"", db.name.c_str()),
                      errdetail("No background worker slot is free (max_worker_processes)."),
                      errhint("Its stages show status 'waiting for a worker' until one is free; this message "
                              "repeats at most every %d minutes.",
                              kLogEverySeconds / 60)));
}

// Starts a scheduler in db; false when PostgreSQL has no worker slot for it.
bool start_scheduler(const DatabaseEntry& db) {
  SharedState* st = shared_state();
  // Reserve a slot first so the next pass does not start a second scheduler.
  int free_slot = -1;
  LWLockAcquire(st->lock, LW_EXCLUSIVE);
  for (int i = 0; i < kMaxDatabases; ++i)
    if (st->slots[i].state == SlotState::Free) {
      free_slot = i;
      break;
    }
  if (free_slot < 0) {
    LWLockRelease(st->lock);
    return false;
  }
  SchedulerSlot& slot = st->slots[free_slot];
  slot.database = db.oid;
  slot.pid = 0;
  slot.latch = nullptr;
  slot.stop_requested = false;
  slot.state = SlotState::Running;
  LWLockRelease(st->lock);

  BackgroundWorker w = worker_template("pg_incview scheduler", "incview_scheduler_main");
  w.bgw_restart_time = BGW_NEVER_RESTART;
  w.bgw_main_arg = ObjectIdGetDatum(db.oid);
  w.bgw_notify_pid = MyProcPid;  // its exit sets our latch: a slot of the budget is free again
  BackgroundWorkerHandle* handle = nullptr;
  pid_t pid = 0;
  bool ok = RegisterDynamicBackgroundWorker(&w, &handle);
  if (ok) ok = WaitForBackgroundWorkerStartup(handle, &pid) == BGWH_STARTED;
  LWLockAcquire(st->lock, LW_EXCLUSIVE);
  if (!ok) {
    slot.state = SlotState::Free;
  } else if (slot.pid == 0 && slot.database == db.oid) {
    slot.pid = pid;  // the scheduler fills in its latch itself
  }
  LWLockRelease(st->lock);
  if (!ok) log_start_failure(db);
  return ok;
}

// When a database needs a scheduler (lock held): work pending, or a time it left has come.
TimestampTz due_time_locked(const DatabaseDemand& e) {
  DatabaseDemandFacts f;
  f.work_pending = e.work_pending;
  f.dirtied = e.dirtied;
  f.dirtied_at = e.dirtied_at;
  f.next_due = e.next_due == DT_NOEND ? kNever : e.next_due;
  f.next_due_if_dirty = e.next_due_if_dirty == DT_NOEND ? kNever : e.next_due_if_dirty;
  f.min_max_lag_us = e.min_max_lag_us;
  const int64 due = due_time(f);
  return due == kNever ? DT_NOEND : due;
}

// One pass of the launcher: which databases need a scheduler and have none, oldest waiting
// first, as many as the budget allows. Returns when it should look again (DT_NOEND: only
// when woken).
TimestampTz launcher_pass() {
  const auto wanted = wanted_databases();
  std::vector<DatabaseEntry> dbs;
  for (auto& db : list_databases())
    if (wanted.empty() || std::find(wanted.begin(), wanted.end(), db.name) != wanted.end()) dbs.push_back(db);
  SharedState* st = shared_state();
  DemandTable* table = demand_table();
  const TimestampTz now = GetCurrentTimestamp();
  TimestampTz wake_at = DT_NOEND;
  std::vector<std::pair<TimestampTz, DatabaseEntry>> waiting;
  int in_use = 0;
  LWLockAcquire(st->lock, LW_EXCLUSIVE);
  auto listed = [&](Oid oid) {
    return std::any_of(dbs.begin(), dbs.end(), [&](const DatabaseEntry& d) { return d.oid == oid; });
  };
  // Dropped (or no longer wanted) databases: their entries and leftover slots go.
  for (auto& e : table->entries)
    if (e.database != InvalidOid && !listed(e.database) && e.refresh_workers == 0) memset(&e, 0, sizeof e);
  for (auto& s : st->slots)
    if (s.state == SlotState::NoExtension && !listed(s.database)) s.state = SlotState::Free;
  for (const auto& db : dbs) {
    DatabaseDemand* e = demand_entry(db.oid, true);
    if (!e) continue;  // more than kMaxKnownDatabases databases
    bool running = false, dropping = false;
    for (auto& s : st->slots) {
      if (s.database != db.oid) continue;
      if (s.state == SlotState::Running) {
        if (s.pid != 0 && !pid_alive(s.pid))
          s.state = SlotState::Free;  // died without cleaning up
        else
          running = true;
      } else if (s.state == SlotState::NoExtension) {
        // DROP DATABASE stopped it; if that drop failed, look again after a while.
        if (TimestampDifferenceExceeds(s.checked_at, now, kNoExtensionRecheckSeconds * 1000))
          s.state = SlotState::Free;
        else
          dropping = true;
      }
    }
    if (running || dropping || e->no_extension) {
      e->waiting_since = 0;
      continue;
    }
    const TimestampTz due = due_time_locked(*e);
    if (due <= now) {
      if (e->waiting_since == 0) e->waiting_since = now;
      waiting.push_back({e->waiting_since, db});
    } else {
      e->waiting_since = 0;
      wake_at = std::min(wake_at, due);
    }
  }
  in_use = processes_in_use_locked();
  LWLockRelease(st->lock);
  std::vector<WaitingDatabase> queue;
  for (const auto& w : waiting) queue.push_back({w.second.oid, w.first});
  for (size_t i : launch_order(queue, worker_budget() - in_use))
    if (!start_scheduler(waiting[i].second)) break;  // no worker slot: the others would fail too
  return wake_at;
}

}  // namespace

void register_launcher() {
  BackgroundWorker w = worker_template("pg_incview launcher", "incview_launcher_main");
  w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
  w.bgw_restart_time = 5;
  RegisterBackgroundWorker(&w);
}

}  // namespace incview::pg

using namespace incview::pg;

void incview_launcher_main(Datum) {
  pqsignal(SIGHUP, SignalHandlerForConfigReload);
  pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
  BackgroundWorkerUnblockSignals();
  BackgroundWorkerInitializeConnection(nullptr, nullptr, 0);
  pgstat_report_appname("pg_incview launcher");
  SharedState* st = shared_state();
  LWLockAcquire(st->lock, LW_EXCLUSIVE);
  st->launcher_pid = MyProcPid;
  st->launcher_latch = MyLatch;
  LWLockRelease(st->lock);
  while (!ShutdownRequestPending) {
    reload_config_if_asked();
    TimestampTz wake_at = DT_NOEND;
    if (settings.enabled) guarded_iteration([&] { wake_at = launcher_pass(); });
    // Woken by commits that need a scheduler and by every scheduler's exit; otherwise
    // at the next due time a scheduler left, or after naptime at the latest.
    long sleep_ms = std::max(settings.naptime_ms, 100);
    if (wake_at != DT_NOEND)
      sleep_ms = std::clamp<long>(TimestampDifferenceMilliseconds(GetCurrentTimestamp(), wake_at) + 1, 10, sleep_ms);
    (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, sleep_ms, PG_WAIT_EXTENSION);
    ResetLatch(MyLatch);
    CHECK_FOR_INTERRUPTS();
  }
  proc_exit(0);
}
