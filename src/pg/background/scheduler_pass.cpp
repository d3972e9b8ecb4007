// The scheduler of one database (scheduler_pass.hpp): its pass and its loop, which decides
// after each pass whether to stay, sleep, yield to waiting databases or leave.
#include "pg/background/scheduler_pass.hpp"

#include <algorithm>

#include "pg/background/maintenance.hpp"
#include "pg/background/refresh_workers.hpp"
#include "pg/background/scheduler_slot.hpp"
#include "pg/background/worker_budget.hpp"
#include "pg/background/worker_common.hpp"
#include "pg/catalog/captured_changes.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/catalog/dirty_queue.hpp"
#include "pg/catalog/next_due.hpp"
#include "pg/catalog/stage_graph_catalog.hpp"
#include "pg/citus/citus.hpp"
#include "pg/support/settings.hpp"
#include "pg/support/subxact.hpp"

extern "C" {
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/timestamp.h"
}

namespace incview::pg {

namespace {

constexpr int kFairSliceMs = 2000;  // a busy scheduler yields to waiting databases after this

Oid my_database = InvalidOid;

// Set when this process's latch was set while a pass waited for refresh workers (maybe a
// writer's commit): the loop looks again right after the pass instead of sleeping.
bool woken_during_pass = false;

// Returns whether anything was due (false: the scheduler is idle).
bool scheduler_pass() {
  const TimestampTz started = GetCurrentTimestamp();
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
  const TimestampTz read = GetCurrentTimestamp();
  if (!installed) {
    mark_no_extension(my_database);
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
      refresh_level_in_parallel(level, woken_during_pass);
    else
      for (const auto& d : level) refresh_in_worker(d.name, expected_batches(d));
  }
  const bool retained = apply_due_retention();
  const bool rederived = apply_due_rederive();
  drop_idle_capture_when_free();
  // Where a pass's time goes (log_min_messages = debug1): the freshness lag of a continuous
  // stage is this pass and the one before it (bench/fixed_cost.md, "where the lag goes").
  int64 keys = 0;
  for (const auto& d : due) keys += d.dirty;
  const long prelude_us = static_cast<long>(read - started);
  const long total_us = static_cast<long>(GetCurrentTimestamp() - started);
  const int n_due = static_cast<int>(due.size());
  pg_call([&] {
    elog(DEBUG1,
         "pg_incview scheduler pass: %d stage(s) due, %lld key(s) queued, %ld us reading the queues, %ld us in all",
         n_due, static_cast<long long>(keys), prelude_us, total_us);
  });
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

}  // namespace incview::pg

using namespace incview::pg;

void incview_scheduler_main(Datum arg) {
  my_database = DatumGetObjectId(arg);
  pqsignal(SIGHUP, SignalHandlerForConfigReload);
  pqsignal(SIGTERM, die);  // also interrupts a running refresh: its batch rolls back, keys stay queued
  BackgroundWorkerUnblockSignals();
  BackgroundWorkerInitializeConnectionByOid(my_database, InvalidOid, 0);
  pgstat_report_appname("pg_incview scheduler");
  pin_search_path();
  if (!claim_slot(my_database)) proc_exit(0);
  before_shmem_exit(release_slot, ObjectIdGetDatum(my_database));
  const TimestampTz started = GetCurrentTimestamp();
  TimestampTz last_busy = started;
  while (!ShutdownRequestPending) {
    reload_config_if_asked();
    woken_during_pass = false;
    begin_pass(my_database);
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
        left = leave(my_database, next, slice_over);
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
