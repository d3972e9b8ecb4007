// What every pg_incview background process shares (the launcher, the per-database
// schedulers, the refresh workers): how a worker is registered, how one iteration of its
// loop survives an ERROR, a transaction around its catalog work, and the pinned search path
// its own SQL runs under. Each process's own logic lives in launcher.cpp, scheduler_pass.cpp,
// refresh_workers.cpp and maintenance.cpp.
#pragma once
#include "pg/support/guard.hpp"
#include "pg/support/spi.hpp"

extern "C" {
#include "postmaster/bgworker.h"
}

namespace incview::pg {

// A worker of this library: shared memory, a database connection, started once recovery
// has finished. The caller sets the restart time, argument and notify pid.
BackgroundWorker worker_template(const char* name, const char* function);

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

// Starts a transaction with SPI and a snapshot; the body runs inside, then commits.
// The worker's own statements (fixed texts over our catalog, pinned search path) keep their
// plans for the life of the process: a pass runs them all each time a commit wakes it, so
// under a steady write load their parsing and planning was part of every freshness lag.
// The stage owner's SQL inside (as_stage_owner) is planned for each batch, but for the
// scoped statements of small batches (refresh/batch_plans.hpp).
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

// SIGHUP seen: the configuration file read again.
void reload_config_if_asked();

// Whether a process with this pid exists (a slot's owner that died without cleaning up
// does not).
bool pid_alive(int pid);

// Whether pg_incview is installed in the connected database (inside a transaction).
bool extension_installed();

// A worker's own SQL runs as the bootstrap superuser: its search path is pinned before
// anything runs, so no schema but pg_catalog (and, for tables only, its own pg_temp) can
// supply a function or operator to it. Stage SQL runs at its own GUC nest level, rolled
// back after (role.hpp), so a stage cannot change this for the worker's later statements.
void pin_search_path();

// synchronous_commit of this background process's own transactions, from
// incview.worker_synchronous_commit (default inherit: left as configured; measured, `off`
// did not shorten the freshness lag, bench/fixed_cost.md): set at start and after each reload of
// the configuration, at session level, so it applies to the refreshes, the collection of
// captured keys and the housekeeping of this process only, never to a user's session or a
// user's own incview.refresh(). Safe for exactly-once: a refresh consumes its keys and
// writes its rows in one transaction, so a crash that takes the commit back takes back
// both, and the keys are refreshed again (docs/reference.md, "Settings"). The stage's SQL
// runs at a GUC nest level of its own (role.hpp): it cannot change this for later
// transactions.
void apply_worker_commit_mode();

// pg_stat_activity's query column of this worker: what it is doing now.
void report_activity(const std::string& what);

}  // namespace incview::pg
