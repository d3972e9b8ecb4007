// Background refresh: one launcher per cluster starts one scheduler per database where
// pg_incview is installed; a scheduler refreshes the stages whose policy says they are due,
// in dependency order, committing after every batch, each stage as its owner.
#pragma once
#include "pg/support/pg_headers.hpp"

namespace incview::pg {

// From _PG_init when preloaded: registers the launcher.
void register_launcher();

}  // namespace incview::pg

extern "C" {
PGDLLEXPORT void incview_launcher_main(Datum arg);
PGDLLEXPORT void incview_scheduler_main(Datum arg);
PGDLLEXPORT void incview_refresh_worker_main(Datum arg);
}
