// Module entry: PG_MODULE_MAGIC, settings, and the self-test used by the error-boundary tests.
#include "core/refresh_planner.hpp"
#include "pg/api/args.hpp"
#include "pg/capture/capture.hpp"
#include "pg/background/launcher.hpp"
#include "pg/background/shared_state.hpp"
#include "pg/background/worker_budget.hpp"

extern "C" {
#include "commands/dbcommands.h"
#include "tcop/utility.h"
}
#include "pg/support/guard.hpp"
#include "pg/support/settings.hpp"

#include <stdexcept>

extern "C" {
PG_MODULE_MAGIC;
void _PG_init(void);
PG_FUNCTION_INFO_V1(incview_selftest_throw);
}

namespace incview::pg {

Settings settings;

namespace {
// incview.worker_synchronous_commit: the names of kWorkerCommitModes, by index.
const config_enum_entry worker_commit_options[] = {{"off", 0, false},          {"local", 1, false},
                                                   {"remote_write", 2, false}, {"on", 3, false},
                                                   {"remote_apply", 4, false}, {"inherit", 5, false},
                                                   {nullptr, 0, false}};
}  // namespace

void define_settings() {
  DefineCustomBoolVariable("incview.enabled", "Whether background workers refresh stages.", nullptr, &settings.enabled,
                           true, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("incview.batch_size", "Scope keys re-derived per refresh batch.", nullptr,
                          &settings.batch_size, 1000, 1, 10000000, PGC_USERSET, 0, nullptr, nullptr, nullptr);
  DefineCustomRealVariable("incview.full_refresh_ratio",
                           "Engine auto rebuilds a stage when its dirty scopes exceed this share of all scopes.",
                           nullptr, &settings.full_refresh_ratio, incview::kDefaultFullRefreshRatio, 0.0, 1.0,
                           PGC_USERSET, 0, nullptr, nullptr, nullptr);
  DefineCustomRealVariable("incview.capture_all_ratio",
                           "A statement dirtying more than this share of a stage's scopes records one "
                           "\"every scope\" marker instead of the keys.",
                           // Superuser only: a writer setting it could flood every stage with markers.
                           nullptr, &settings.capture_all_ratio, 0.5, 0.0, 1.0, PGC_SUSET, 0, nullptr, nullptr,
                           nullptr);
  DefineCustomBoolVariable("incview.delta_capture_direct",
                           "Engine delta: a one-row INSERT or DELETE on a plain single-table stage queues its row "
                           "built directly, without the capture statement.",
                           // Superuser only, like capture_all_ratio: it changes how writers capture (the
                           // differential tests compare both paths).
                           nullptr, &settings.delta_capture_direct, true, PGC_SUSET, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("incview.max_workers", "Refresh workers per database running at once.", nullptr,
                          &settings.max_workers, 2, 1, 64, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("incview.naptime", "Longest sleep of the scheduler between checks.", nullptr,
                          &settings.naptime_ms, 1000, 10, 3600 * 1000, PGC_SIGHUP, GUC_UNIT_MS, nullptr, nullptr,
                          nullptr);
  DefineCustomStringVariable("incview.database",
                             "Comma-separated databases to schedule; empty means every database where "
                             "the extension is installed.",
                             nullptr, &settings.databases, "", PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("incview.retry_base",
                          "Back-off after the first failed refresh of a stage (doubles per failure).", nullptr,
                          &settings.retry_base_ms, 1000, 10, 3600 * 1000, PGC_SIGHUP, GUC_UNIT_MS, nullptr, nullptr,
                          nullptr);
  DefineCustomIntVariable("incview.retry_max", "Longest back-off between retries of a failing stage.", nullptr,
                          &settings.retry_max_ms, 300000, 10, 24 * 3600 * 1000, PGC_SIGHUP, GUC_UNIT_MS, nullptr,
                          nullptr, nullptr);
  DefineCustomStringVariable("incview.default_policy",
                             "Policy given to stages created from now on: continuous, interval, daily or manual "
                             "(interval and daily also need incview.set_policy).",
                             nullptr, &settings.default_policy, "continuous", PGC_USERSET, 0, nullptr, nullptr,
                             nullptr);
  DefineCustomIntVariable("incview.worker_budget",
                          "Background processes pg_incview runs at once in the whole cluster (schedulers and "
                          "refresh workers; the launcher not counted).",
                          "Each is one of max_worker_processes, the pool parallel query also draws from.",
                          &settings.worker_budget, 3, 1, 64, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("incview.idle_timeout",
                          "A database's scheduler exits after this long with nothing due (the launcher starts "
                          "it again when work arrives or falls due).",
                          nullptr, &settings.idle_timeout_ms, 30000, 0, 24 * 3600 * 1000, PGC_SIGHUP, GUC_UNIT_MS,
                          nullptr, nullptr, nullptr);
  // Superuser only (postgresql.conf, ALTER SYSTEM, ALTER DATABASE / ROLE ... SET): it decides
  // what a crash may take back (docs/reference.md, "Settings").
  DefineCustomEnumVariable("incview.worker_synchronous_commit",
                           "synchronous_commit of the transactions of pg_incview's background processes "
                           "(refreshes, collection of captured keys, retention).",
                           "A crash may take back their last commits, never a change they have not refreshed: "
                           "consuming a key and writing its rows commit together, so a lost refresh leaves its "
                           "keys queued and they are refreshed again.",
                           &settings.worker_synchronous_commit, 5, worker_commit_options, PGC_SUSET, 0, nullptr,
                           nullptr, nullptr);
  MarkGUCPrefixReserved("incview");
}

}  // namespace incview::pg

namespace {

ProcessUtility_hook_type prev_utility_hook = nullptr;

// DROP DATABASE must never wait for our scheduler: stop it first (it holds a connection).
// Only for a caller who may drop the database (its owner, or a superuser): anybody else's
// DROP DATABASE fails its permission check anyway and must not switch background refresh
// of that database off.
void utility_hook(PlannedStmt* pstmt, const char* query, bool read_only, ProcessUtilityContext context,
                  ParamListInfo params, QueryEnvironment* env, DestReceiver* dest, QueryCompletion* qc) {
  Node* stmt = pstmt->utilityStmt;
  if (stmt && IsA(stmt, DropdbStmt)) {
    Oid db = get_database_oid(reinterpret_cast<DropdbStmt*>(stmt)->dbname, true);
    if (OidIsValid(db) && pg_database_ownercheck(db, GetUserId())) incview::pg::stop_scheduler(db, 10000);
  }
  if (prev_utility_hook)
    prev_utility_hook(pstmt, query, read_only, context, params, env, dest, qc);
  else
    standard_ProcessUtility(pstmt, query, read_only, context, params, env, dest, qc);
}

}  // namespace

void _PG_init(void) {
  incview::pg::define_settings();
  incview::pg::register_capture_invalidation();
  if (process_shared_preload_libraries_in_progress) {
    incview::pg::install_shmem_hooks();
    incview::pg::install_demand_shmem_hooks();
    incview::pg::register_launcher();
    prev_utility_hook = ProcessUtility_hook;
    ProcessUtility_hook = utility_hook;
  }
}

// incview._selftest_throw(kind): proves each kind of failure crosses the boundary cleanly.
Datum incview_selftest_throw(PG_FUNCTION_ARGS) {
  using namespace incview::pg;
  return entry_guard([&]() -> Datum {
    const std::string kind = required_text(fcinfo, 0, "kind");
    if (kind == "std") throw std::runtime_error("self-test: std::runtime_error from C++");
    if (kind == "incview")
      throw incview::Error(incview::sqlstate::kInvalidParameterValue, "self-test: incview::Error", "detail survives",
                           "hint survives");
    if (kind == "unknown") throw 42;
    if (kind == "pg") {
      // A PostgreSQL ERROR raised below C++ frames: must reach the client unchanged.
      pg_call([] { ereport(ERROR, (errcode(ERRCODE_DIVISION_BY_ZERO), errmsg("self-test: division by zero"))); });
    }
    if (kind == "bad_alloc") throw std::bad_alloc();
    PG_RETURN_VOID();
  });
}
