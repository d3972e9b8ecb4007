#include "pg/background/scheduler.hpp"

#include "pg/catalog/captured_changes.hpp"

#include "core/launch_plan.hpp"

#include <algorithm>
#include <csignal>

#include "pg/catalog/catalog.hpp"
#include "pg/catalog/dirty_queue.hpp"
#include "pg/citus/citus.hpp"
#include "pg/support/guard.hpp"
#include "pg/capture/idle_capture.hpp"
#include "pg/catalog/next_due.hpp"
#include "pg/refresh/delta_engine.hpp"
#include "pg/storage/retention.hpp"
#include "pg/support/role.hpp"
#include "pg/support/settings.hpp"
#include "pg/background/shared_state.hpp"
#include "pg/support/spi.hpp"
#include "pg/support/subxact.hpp"
#include "pg/catalog/stage_graph_catalog.hpp"
#include "pg/refresh/stage_refresh.hpp"
#include "pg/background/worker_budget.hpp"

extern "C" {
#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_database.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/timestamp.h"
}

namespace incview::pg {

namespace {

constexpr int kNoExtensionRecheckSeconds = 60;
constexpr int kLogEverySeconds = 300;  // "could not start a scheduler": per database
constexpr int kFairSliceMs = 2000;     // a busy scheduler yields to waiting databases after this

BackgroundWorker worker_template(const char* name, const char* function) {
  BackgroundWorker w;
  memset(&w, 0, sizeof w);
  w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
  w.bgw_start_time = BgWorkerStart_RecoveryFinished;
  snprintf(w.bgw_library_name, BGW_MAXLEN, "pg_incview");
  snprintf(w.bgw_function_name, BGW_MAXLEN, "%s", function);
  snprintf(w.bgw_name, BGW_MAXLEN, "%s", name);
  snprintf(w.bgw_type, BGW_MAXLEN, "%s", name);
  return w;
}

// Runs one iteration of a worker loop; an ERROR is logged and the loop goes on (after its
// sleep), so one bad stage or catalog hiccup never takes the worker down.
template <typename F>
void guarded_iteration(F&& body) {
  MemoryContext cxt = CurrentMemoryContext;
  PG_TRY();
  {
    (void)entry_guard([&]() -> Datum {
      body();
      return 0;
    });
  }
  PG_CATCH();
  {
    MemoryContextSwitchTo(TopMemoryContext);
    EmitErrorReport();
    FlushErrorState();
    AbortCurrentTransaction();
    MemoryContextSwitchTo(cxt);
  }
  PG_END_TRY();
}

void reload_config_if_asked() {
  if (ConfigReloadPending) {
    ConfigReloadPending = false;
    ProcessConfigFile(PGC_SIGHUP);
  }
}

bool pid_alive(int pid) { return pid > 0 && kill(pid, 0) == 0; }

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

// ------------------------------------------------------------------ launcher

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

// ------------------------------------------------------------------ scheduler

Oid my_database = InvalidOid;

// Lock held: frees this scheduler's slot (kept as "no scheduler here" when DROP DATABASE
// asked it to go, so the launcher does not start a new one during the drop).
void release_slot_locked(SharedState* st) {
  for (auto& s : st->slots)
    if (s.database == my_database && s.pid == MyProcPid && s.state == SlotState::Running) {
      s.state = s.stop_requested ? SlotState::NoExtension : SlotState::Free;
      s.checked_at = GetCurrentTimestamp();
      s.stop_requested = false;
      s.latch = nullptr;
      s.pid = 0;
    }
  if (DatabaseDemand* e = demand_entry(my_database, false)) e->refresh_workers = 0;
}

void release_slot(int, Datum) {
  SharedState* st = shared_state();
  if (!st) return;
  LWLockAcquire(st->lock, LW_EXCLUSIVE);
  release_slot_locked(st);
  LWLockRelease(st->lock);
}

// A pass is about to read the queue: commits from now on are news to it.
void begin_pass() {
  SharedState* st = shared_state();
  LWLockAcquire(st->lock, LW_EXCLUSIVE);
  if (DatabaseDemand* e = demand_entry(my_database, true)) {
    e->work_pending = false;
    e->dirtied = false;
    e->waiting_since = 0;
  }
  LWLockRelease(st->lock);
}

// Exits the scheduler's slot, leaving when it is next due; false (stay) when a commit
// signalled work since the last pass began. requeue: work remains, but other databases
// waited: line up behind them.
bool leave(const NextDue& next, bool requeue) {
  SharedState* st = shared_state();
  bool left = false;
  LWLockAcquire(st->lock, LW_EXCLUSIVE);
  DatabaseDemand* e = demand_entry(my_database, true);
  if (!e) {  // more databases than kMaxKnownDatabases: nothing to record, just go
    release_slot_locked(st);
    left = true;
  } else if (requeue || !e->work_pending) {
    e->next_due = requeue ? 0 : next.at;
    e->next_due_if_dirty = next.if_dirty;
    e->min_max_lag_us = next.min_max_lag_us;
    e->waiting_since = requeue ? GetCurrentTimestamp() : 0;
    release_slot_locked(st);
    left = true;
  }
  LWLockRelease(st->lock);
  return left;
}

// Claims this database's slot; false when another live scheduler already has it.
bool claim_slot() {
  SharedState* st = shared_state();
  bool ok = false;
  LWLockAcquire(st->lock, LW_EXCLUSIVE);
  SchedulerSlot* mine = nullptr;
  for (auto& s : st->slots)
    if (s.database == my_database && s.state == SlotState::Running) mine = &s;
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
      mine->database = my_database;
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

// No pg_incview here: the launcher leaves this database alone until a CREATE EXTENSION
// (which wakes it) anywhere; a database without the extension costs one start per server
// start.
void mark_no_extension() {
  SharedState* st = shared_state();
  LWLockAcquire(st->lock, LW_EXCLUSIVE);
  if (DatabaseDemand* e = demand_entry(my_database, true)) {
    e->no_extension = true;
    e->waiting_since = 0;
  }
  release_slot_locked(st);
  LWLockRelease(st->lock);
}

// Starts a transaction with SPI and a snapshot; the body runs inside, then commits.
// The worker's own statements (fixed texts over our catalog, pinned search path) keep their
// plans for the life of the process: a pass runs them all each time a commit wakes it, so
// under a steady write load their parsing and planning was part of every freshness lag.
// The stage owner's SQL inside (as_stage_owner) is still planned for each batch.
template <typename F>
void in_transaction(F&& body) {
  pg_call([] {
    SetCurrentStatementStartTimestamp();
    StartTransactionCommand();
    PushActiveSnapshot(GetTransactionSnapshot());
  });
  spi_connect();
  CatalogPlans plans;
  body();
  spi_finish();
  pg_call([] {
    PopActiveSnapshot();
    CommitTransactionCommand();
  });
}

bool extension_installed() {
  return spi_scalar("SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_incview'").has_value();
}

// A worker's own SQL runs as the bootstrap superuser: its search path is pinned before
// anything runs, so no schema but pg_catalog (and, for tables only, its own pg_temp) can
// supply a function or operator to it. Stage SQL runs at its own GUC nest level, rolled
// back after (role.hpp), so a stage cannot change this for the worker's later statements.
void pin_search_path() {
  pg_call([] { SetConfigOption("search_path", kSafeSearchPath, PGC_SUSET, PGC_S_SESSION); });
}

void report_activity(const std::string& what) {
  const char* w = what.c_str();
  pg_call([&] { pgstat_report_activity(STATE_RUNNING, w); });
}

// Refreshes one stage to the end of its queue, one committed transaction per batch, as
// the stage's owner.
void refresh_in_worker(const std::string& name, int64 expected_batches) {
  int batch = 0;
  run_steps([&](const std::optional<std::string>& after, bool run_failed) -> std::optional<StepResult> {
    if (ShutdownRequestPending) return std::nullopt;
    ++batch;
    report_activity("pg_incview: refreshing stage \"" + name + "\", batch " + std::to_string(batch) + " of ~" +
                    std::to_string(std::max<int64>(expected_batches, batch)));
    std::optional<StepResult> step;  // stays empty when the stage is gone
    in_transaction([&] {
      auto stage = find_stage(name);
      if (!stage || stage->shape.target.empty()) return;
      step = refresh_step(*stage, after, run_failed);  // as the stage's owner, restricted
    });
    return step;
  });
}

bool woken_during_pass = false;

int64 expected_batches(const DueStage& d) {
  return settings.batch_size > 0 ? (d.dirty + settings.batch_size - 1) / settings.batch_size : 1;
}

// Starts a refresh worker for one stage; nullptr when no worker slot is free.
BackgroundWorkerHandle* start_refresh_worker(const DueStage& d) {
  BackgroundWorker w = worker_template("pg_incview refresh", "incview_refresh_worker_main");
  w.bgw_restart_time = BGW_NEVER_RESTART;
  w.bgw_main_arg = ObjectIdGetDatum(MyDatabaseId);
  w.bgw_notify_pid = MyProcPid;
  snprintf(w.bgw_extra, BGW_EXTRALEN, "%d", d.id);
  BackgroundWorkerHandle* handle = nullptr;
  bool ok = false;
  pg_call([&] { ok = RegisterDynamicBackgroundWorker(&w, &handle); });
  return ok ? handle : nullptr;
}

// Independent stages of one graph level, up to incview.max_workers at once, each in its
// own worker; the level is finished before the next one starts.
void refresh_level_in_parallel(const std::vector<DueStage>& level) {
  std::vector<BackgroundWorkerHandle*> running;
  size_t next = 0;
  while (next < level.size() || !running.empty()) {
    for (size_t i = 0; i < running.size();) {
      pid_t pid;
      BgwHandleStatus status = BGWH_STOPPED;
      BackgroundWorkerHandle* h = running[i];
      pg_call([&] { status = GetBackgroundWorkerPid(h, &pid); });
      if (status == BGWH_STOPPED || status == BGWH_POSTMASTER_DIED) {
        release_refresh_worker(MyDatabaseId);
        pg_call([&] { pfree(h); });
        running.erase(running.begin() + static_cast<long>(i));
      } else {
        ++i;
      }
    }
    while (next < level.size() && static_cast<int>(running.size()) < settings.max_workers) {
      // Each refresh worker is one process of the cluster-wide budget; without one to spare
      // (or a free worker slot) the scheduler refreshes the stage itself.
      BackgroundWorkerHandle* h = nullptr;
      if (reserve_refresh_worker(MyDatabaseId)) {
        h = start_refresh_worker(level[next]);
        if (!h) release_refresh_worker(MyDatabaseId);
      }
      if (h)
        running.push_back(h);
      else
        refresh_in_worker(level[next].name, expected_batches(level[next]));  // no free slot: do it here
      ++next;
    }
    if (running.empty()) continue;
    report_activity("pg_incview: waiting for " + std::to_string(running.size()) + " refresh worker(s)");
    pg_call([] {
      int rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 100, PG_WAIT_EXTENSION);
      if (rc & WL_LATCH_SET) {
        ResetLatch(MyLatch);
        woken_during_pass = true;  // may have been a writer's commit: look again right after
      }
      CHECK_FOR_INTERRUPTS();
    });
  }
}

// Stages with retention whose expired rows were last removed over a minute ago: removed
// now, as the stage owner, committing every batch.
bool apply_due_retention() {
  std::vector<std::string> names;
  in_transaction([&] { names = stages_due_for_retention(); });
  for (const auto& name : names) {
    report_activity("pg_incview: removing expired rows of stage \"" + name + "\"");
    // One transaction per step, each loading the stage and switching to its owner anew
    // (the stage may be dropped or change owner between batches).
    auto step = [&](auto&& body) {
      bool gone = false;
      in_transaction([&] {
        auto stage = find_stage(name);
        if (!stage || stage->shape.target.empty() || stage->shape.retention_column.empty())
          gone = true;
        else
          body(*stage);
      });
      return !gone;
    };
    if (!step([](const StageRecord& s) { (void)drop_expired_partitions_as_owner(s); })) continue;
    bool more = true;
    while (more && !ShutdownRequestPending)
      if (!step([&](const StageRecord& s) { more = delete_expired_batch(s) >= kRetentionBatch; })) more = false;
    (void)step([](const StageRecord& s) { mark_retention_applied(s); });
  }
  return !names.empty();
}

// Delta stages whose float drift is repaired on a cadence (incview.set_rederive) and whose
// last complete re-derive is older than it: their folded groups re-derived now, a batch of
// incview.batch_size groups per transaction (each one fold statement under the stage's lock:
// writers never wait, a refresh of the stage waits one batch at most). Bounded by the groups
// folded when it starts, as incview.rederive is.
bool apply_due_rederive() {
  std::vector<std::string> names;
  in_transaction([&] {
    if (!catalog_is_0_2()) return;
    names = stages_due_for_rederive();
  });
  const int64 limit = std::max(settings.batch_size, 1);
  for (const auto& name : names) {
    report_activity("pg_incview: re-deriving folded groups of stage \"" + name + "\"");
    int64 todo = -1;
    bool more = true;
    while (more && !ShutdownRequestPending) {
      in_transaction([&] {
        auto stage = find_stage(name);
        if (!stage || stage->shape.target.empty() || !rederives(*stage)) {
          more = false;
          return;
        }
        // A batch that fails (a source dropped meanwhile, the owner's SQL raising) is
        // reported and tried again at the next cadence, not on every pass.
        auto error = in_subtransaction([&] {
          if (todo < 0) todo = folded_groups(*stage);
          more = todo > 0 && rederive_batch(*stage, limit) >= limit;
        });
        todo -= limit;
        if (error) {
          more = false;
          const std::string msg = "pg_incview: re-derive of stage \"" + name + "\" failed: " + error->message;
          pg_call([&] { ereport(WARNING, (errmsg("%s", msg.c_str()))); });
        }
        if (!more) mark_rederived(*stage);
      });
    }
  }
  return !names.empty();
}

// Idle capture triggers left by drop_stage/alter_stage (idle_capture.hpp): every ten seconds
// at most, each table in a transaction of its own (its ACCESS EXCLUSIVE lock lasts only the
// DROP TRIGGERs), and only a table nobody holds a lock on: the scheduler never waits for one.
void drop_idle_capture_when_free() {
  static TimestampTz last = 0;
  const TimestampTz now = GetCurrentTimestamp();
  if (last != 0 && !TimestampDifferenceExceeds(last, now, 10000)) return;
  last = now;
  std::vector<Oid> tables;
  in_transaction([&] { tables = idle_capture_tables(); });
  for (Oid t : tables) {
    report_activity("pg_incview: dropping idle capture triggers");
    in_transaction([&] { (void)drop_capture_if_idle({t}, IdleLock::IfFree); });
  }
}

// Returns whether anything was due (false: the scheduler is idle).
bool scheduler_pass() {
  std::vector<DueStage> due;
  std::vector<std::vector<std::string>> levels;
  bool installed = true;
  bool polls_shards = false;
  in_transaction([&] {
    installed = extension_installed();
    if (!installed) return;
    forget_keys_of_dropped_stages();
    // Change records (one per source and statement) into the stages' own queues, which
    // everything below reads.
    (void)collect_all_captured();
    levels = load_stage_graph().levels();
    // Keys captured on Citus shards reach incview.dirty_scope here (no commit on a worker
    // can wake this scheduler): at most a naptime late. A worker that cannot be reached
    // leaves them where they are, for the next pass.
    if (auto error = in_subtransaction([] { drain_citus_queues(); }))
      pg_call([&] {
        ereport(WARNING, (errmsg("pg_incview: could not collect keys from Citus shards: %s", error->message.c_str())));
      });
    // For the same reason such a database is never idle while a stage that is not manual
    // reads a distributed source: the scheduler stays to collect (the budget's fair slice
    // still makes it yield to waiting databases).
    polls_shards = catalog_is_0_2() && reads_distributed_sources();
    queue_polled_periods();
    due = read_due_stages();
  });
  if (!installed) {
    mark_no_extension();
    proc_exit(0);
  }
  // Level by level: a downstream stage runs after its upstreams' refresh of this pass.
  for (const auto& names : levels) {
    std::vector<DueStage> level;
    for (const auto& name : names) {
      auto it = std::find_if(due.begin(), due.end(), [&](const DueStage& d) { return d.name == name; });
      if (it != due.end()) level.push_back(*it);
    }
    if (level.size() > 1 && settings.max_workers > 1)
      refresh_level_in_parallel(level);
    else
      for (const auto& d : level) refresh_in_worker(d.name, expected_batches(d));
  }
  const bool retained = apply_due_retention();
  const bool rederived = apply_due_rederive();
  drop_idle_capture_when_free();
  pg_call([] { pgstat_report_activity(STATE_IDLE, nullptr); });
  return !due.empty() || retained || rederived || polls_shards;
}

NextDue next_due_in_transaction() {
  NextDue next;
  in_transaction([&] {
    if (extension_installed()) next = read_next_due();  // else nothing will be due here
  });
  return next;
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

void incview_scheduler_main(Datum arg) {
  my_database = DatumGetObjectId(arg);
  pqsignal(SIGHUP, SignalHandlerForConfigReload);
  pqsignal(SIGTERM, die);  // also interrupts a running refresh: its batch rolls back, keys stay queued
  BackgroundWorkerUnblockSignals();
  BackgroundWorkerInitializeConnectionByOid(my_database, InvalidOid, 0);
  pgstat_report_appname("pg_incview scheduler");
  pin_search_path();
  if (!claim_slot()) proc_exit(0);
  before_shmem_exit(release_slot, 0);
  const TimestampTz started = GetCurrentTimestamp();
  TimestampTz last_busy = started;
  while (!ShutdownRequestPending) {
    reload_config_if_asked();
    woken_during_pass = false;
    begin_pass();
    bool busy = settings.enabled;  // a pass that fails counts as busy: tried again after naptime
    if (settings.enabled) guarded_iteration([&] { busy = scheduler_pass(); });
    const TimestampTz now = GetCurrentTimestamp();
    if (busy) last_busy = now;
    // Nothing due: exit once idle_timeout has passed, or at once when other databases
    // wait for a process. Busy while others wait: yield after a fair slice.
    const bool yield = others_waiting(my_database);
    const bool idle_over = !busy && (yield || TimestampDifferenceExceeds(last_busy, now, settings.idle_timeout_ms));
    const bool slice_over = busy && yield && TimestampDifferenceExceeds(started, now, kFairSliceMs);
    if (idle_over || slice_over) {
      bool left = false, stayed = false;
      guarded_iteration([&] {
        const NextDue next = slice_over ? NextDue{} : next_due_in_transaction();
        left = leave(next, slice_over);
        stayed = !left;
      });
      if (left) proc_exit(0);
      if (stayed) continue;  // a commit signalled work meanwhile: look again at once
    }
    long sleep_ms = settings.naptime_ms;
    if (!busy) {
      const long idle_left = settings.idle_timeout_ms - TimestampDifferenceMilliseconds(last_busy, now);
      sleep_ms = std::clamp<long>(idle_left + 1, 10, sleep_ms);
    }
    if (!woken_during_pass)
      (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, sleep_ms, PG_WAIT_EXTENSION);
    ResetLatch(MyLatch);
    CHECK_FOR_INTERRUPTS();
  }
  proc_exit(0);
}

// One stage (id in bgw_extra) refreshed to the end of its queue, then exit.
void incview_refresh_worker_main(Datum arg) {
  pqsignal(SIGTERM, die);
  BackgroundWorkerUnblockSignals();
  BackgroundWorkerInitializeConnectionByOid(DatumGetObjectId(arg), InvalidOid, 0);
  pgstat_report_appname("pg_incview refresh");
  pin_search_path();
  const int32 stage_id = static_cast<int32>(strtol(MyBgworkerEntry->bgw_extra, nullptr, 10));
  guarded_iteration([stage_id] {
    std::optional<std::string> name;
    in_transaction([&] { name = stage_name_of(stage_id); });
    if (name) refresh_in_worker(*name, 0);
  });
  proc_exit(0);
}
