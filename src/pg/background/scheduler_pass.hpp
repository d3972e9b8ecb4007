// Background refresh, the per-database part: a scheduler (started by the launcher,
// launcher.hpp) runs passes while its database has work: collect captured changes into the
// stages' queues, find the due stages, refresh them in dependency order (upstream levels
// first, parallel within a level: refresh_workers.hpp), then housekeeping
// (maintenance.hpp). Idle for incview.idle_timeout, it leaves its slot (scheduler_slot.hpp)
// with the time it is next due.
#pragma once
#include "pg/support/pg_headers.hpp"

extern "C" {
PGDLLEXPORT void incview_scheduler_main(Datum arg);
}
