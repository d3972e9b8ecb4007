// incview.set_policy: when background workers refresh a stage; and the launcher wake-up
// the extension script calls so a new CREATE EXTENSION gets its scheduler at once.
#include <set>

#include "pg/api/args.hpp"
#include "pg/capture/capture.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/catalog/stage_rows.hpp"
#include "pg/support/guard.hpp"
#include "pg/support/role.hpp"
#include "pg/background/shared_state.hpp"
#include "pg/support/spi.hpp"
#include "pg/background/worker_budget.hpp"

extern "C" {
PG_FUNCTION_INFO_V1(incview_set_policy);
PG_FUNCTION_INFO_V1(incview_wake_launcher);
}

using namespace incview;
using namespace incview::pg;

namespace {

// The budget cannot serve this database now: it waits for a process (or others already do
// and every process of the budget is taken), so its stages will lag behind their policy.
void warn_if_budget_full(const std::string& stage) {
  const BackgroundStatus b = background_status(MyDatabaseId);
  const bool waiting_here = std::string(b.status) == "waiting for a worker";
  if (!waiting_here && !(b.waiting_databases > 0 && b.in_use >= b.budget)) return;
  const std::string msg = "pg_incview's background processes are all busy: stage \"" + stage +
                          "\" will be refreshed when this database's turn comes";
  const std::string detail = "incview.worker_budget = " + std::to_string(b.budget) + ", in use " +
                             std::to_string(b.in_use) + ", databases waiting " + std::to_string(b.waiting_databases) +
                             ".";
  const char* m = msg.c_str();
  const char* d = detail.c_str();
  pg_call([&] {
    ereport(WARNING, (errmsg("%s", m), errdetail("%s", d),
                      errhint("raise incview.worker_budget (and max_worker_processes with it)")));
  });
}

}  // namespace

Datum incview_set_policy(PG_FUNCTION_ARGS) {
  return entry_guard([&]() -> Datum {
    const std::string name = required_text(fcinfo, 0, "stage");
    const std::string mode = required_text(fcinfo, 1, "mode");
    const SpiArg every = PG_ARGISNULL(2) ? null_arg(INTERVALOID) : SpiArg{INTERVALOID, PG_GETARG_DATUM(2), false};
    const SpiArg at = PG_ARGISNULL(3) ? null_arg(TIMEOID) : SpiArg{TIMEOID, PG_GETARG_DATUM(3), false};
    const SpiArg max_lag = PG_ARGISNULL(4) ? null_arg(INTERVALOID) : SpiArg{INTERVALOID, PG_GETARG_DATUM(4), false};
    const Policy policy = policy_or_throw(mode);
    if (policy == Policy::Interval && every.isnull)
      throw Error(sqlstate::kInvalidParameterValue, "policy \"interval\" needs every => interval", "",
                  "for example every => '5 minutes'");
    if (policy == Policy::Daily && at.isnull)
      throw Error(sqlstate::kInvalidParameterValue, "policy \"daily\" needs at => time", "",
                  "for example at => '02:30'");
    spi_connect();
    if (!every.isnull && spi_scalar("SELECT $1 <= interval '0'", {every}) == std::optional<std::string>("t"))
      throw Error(sqlstate::kInvalidParameterValue, "every must be a positive interval");
    if (!max_lag.isnull && spi_scalar("SELECT $1 <= interval '0'", {max_lag}) == std::optional<std::string>("t"))
      throw Error(sqlstate::kInvalidParameterValue, "max_lag must be a positive interval");
    const StageRecord stage = load_stage(name);
    check_stage_owner(stage, "change it");
    as_extension_owner([&] {
      save_policy(stage.id, mode, every, at, max_lag);  // (a fresh start for a failing stage)
      // Capture wakes the scheduler at commit only for continuous stages.
      invalidate_stage_capture(stage.id);
    });
    spi_finish();
    if (policy != Policy::Manual && !preloaded()) {
      const std::string msg =
          "pg_incview is not in shared_preload_libraries: no background worker will refresh stage \"" + name + "\"";
      const char* m = msg.c_str();
      pg_call([&] {
        ereport(WARNING, (errmsg("%s", m), errhint("add pg_incview to shared_preload_libraries and restart, or call "
                                                   "incview.refresh() / CALL incview.refresh_all() yourself")));
      });
    }
    if (policy != Policy::Manual && preloaded()) warn_if_budget_full(name);
    wake_scheduler(MyDatabaseId);
    request_scheduler_at_commit();  // started by the launcher if this database has none now
    PG_RETURN_VOID();
  });
}

Datum incview_wake_launcher(PG_FUNCTION_ARGS) {
  return entry_guard([&]() -> Datum {
    wake_launcher_at_commit();
    PG_RETURN_BOOL(preloaded());
  });
}
