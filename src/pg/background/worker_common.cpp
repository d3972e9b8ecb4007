// The helpers every background process shares (worker_common.hpp says what each is for).
#include "pg/background/worker_common.hpp"

#include <csignal>

#include "pg/support/role.hpp"
#include "pg/support/settings.hpp"

extern "C" {
#include "pgstat.h"
#include "postmaster/interrupt.h"
}

namespace incview::pg {

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

void reload_config_if_asked() {
  if (ConfigReloadPending) {
    ConfigReloadPending = false;
    ProcessConfigFile(PGC_SIGHUP);
    apply_worker_commit_mode();  // incview.worker_synchronous_commit may have changed
  }
}

bool pid_alive(int pid) { return pid > 0 && kill(pid, 0) == 0; }

bool extension_installed() {
  return spi_scalar("SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_incview'").has_value();
}

void pin_search_path() {
  pg_call([] { SetConfigOption("search_path", kSafeSearchPath, PGC_SUSET, PGC_S_SESSION); });
}

void apply_worker_commit_mode() {
  static bool overridden = false;  // a value of ours is in force, not the inherited one
  const bool inherit = settings.worker_synchronous_commit == kWorkerCommitInherit;
  if (inherit && !overridden) return;
  pg_call([&] {
    // Back to "inherit": the value the server's, database's and role's settings give.
    const char* mode = inherit ? GetConfigOptionResetString("synchronous_commit")
                               : kWorkerCommitModes[settings.worker_synchronous_commit];
    SetConfigOption("synchronous_commit", mode, PGC_SUSET, PGC_S_SESSION);
  });
  overridden = !inherit;
}

void report_activity(const std::string& what) {
  const char* w = what.c_str();
  pg_call([&] { pgstat_report_activity(STATE_RUNNING, w); });
}

}  // namespace incview::pg
