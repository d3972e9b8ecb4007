// Background refresh, the cluster-wide part: one launcher per cluster (registered at
// server start when the library is preloaded) starts a scheduler (scheduler_pass.hpp) in
// each database that needs one, within incview.worker_budget, oldest waiting first.
#pragma once
#include "pg/support/pg_headers.hpp"

namespace incview::pg {

// From _PG_init when preloaded: registers the launcher.
void register_launcher();

}  // namespace incview::pg

extern "C" {
PGDLLEXPORT void incview_launcher_main(Datum arg);
}
