// Refreshing due stages from the background: one stage to the end of its queue in the
// calling process, or the independent stages of one graph level in parallel refresh
// workers (up to incview.max_workers, each one process of the worker budget). The
// scheduler's pass (scheduler_pass.cpp) decides which stages and in which order.
#pragma once
#include "pg/catalog/next_due.hpp"
#include "pg/support/pg_headers.hpp"

namespace incview::pg {

// Refreshes one stage to the end of its queue, one committed transaction per batch, as
// the stage's owner. expected_batches only feeds "batch i of ~n" in pg_stat_activity.
void refresh_in_worker(const std::string& name, int64 expected_batches);

// The batches a due stage's queued keys make (for "batch i of ~n").
int64 expected_batches(const DueStage& d);

// Independent stages of one graph level, up to incview.max_workers at once, each in its
// own worker (here when no worker can be started); returns when all are done. Sets woken
// as soon as this process's latch is set meanwhile (maybe a writer's commit: the caller
// looks again right after instead of sleeping), so it holds even if a later refresh fails.
void refresh_level_in_parallel(const std::vector<DueStage>& level, bool& woken);

}  // namespace incview::pg

extern "C" {
PGDLLEXPORT void incview_refresh_worker_main(Datum arg);
}
