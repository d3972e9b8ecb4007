// Refresh from the background (refresh_workers.hpp): the batch loop of one stage as a
// worker runs it (each batch its own transaction, the stage loaded anew, so a stage dropped
// or re-owned between batches is seen), and the parallel refresh workers of a graph level.
#include "pg/background/refresh_workers.hpp"

#include <algorithm>

#include "pg/background/worker_budget.hpp"
#include "pg/background/worker_common.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/refresh/stage_refresh.hpp"
#include "pg/support/settings.hpp"

extern "C" {
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
}

namespace incview::pg {

namespace {

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

}  // namespace

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

int64 expected_batches(const DueStage& d) {
  return settings.batch_size > 0 ? (d.dirty + settings.batch_size - 1) / settings.batch_size : 1;
}

void refresh_level_in_parallel(const std::vector<DueStage>& level, bool& woken) {
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
    pg_call([&] {
      int rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 100, PG_WAIT_EXTENSION);
      if (rc & WL_LATCH_SET) {
        ResetLatch(MyLatch);
        woken = true;  // may have been a writer's commit: look again right after
      }
      CHECK_FOR_INTERRUPTS();
    });
  }
}

}  // namespace incview::pg

using namespace incview::pg;

// One stage (id in bgw_extra) refreshed to the end of its queue, then exit.
void incview_refresh_worker_main(Datum arg) {
  pqsignal(SIGTERM, die);
  BackgroundWorkerUnblockSignals();
  BackgroundWorkerInitializeConnectionByOid(DatumGetObjectId(arg), InvalidOid, 0);
  pgstat_report_appname("pg_incview refresh");
  pin_search_path();
  apply_worker_commit_mode();
  const int32 stage_id = static_cast<int32>(strtol(MyBgworkerEntry->bgw_extra, nullptr, 10));
  guarded_iteration([stage_id] {
    std::optional<std::string> name;
    in_transaction([&] { name = stage_name_of(stage_id); });
    if (name) refresh_in_worker(*name, 0);
  });
  proc_exit(0);
}
