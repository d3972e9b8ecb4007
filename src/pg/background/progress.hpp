// Progress of long refreshes and rebuilds, for the view incview.progress (a
// pg_stat_progress_*-style view; PostgreSQL's own progress machinery only knows built-in
// commands). One slot per backend in shared memory, written only by its backend; needs
// shared_preload_libraries (without it every call here is a no-op and the view is empty).
#pragma once
#include "pg/support/pg_headers.hpp"

namespace incview::pg {

enum class ProgressPhase : int {
  Planning = 1,       // counting dirty scopes, choosing batches or a rebuild
  RefreshingBatches,  // re-deriving batches of scopes
  Rebuilding,         // re-deriving every scope (rows_done: rows the query produced so far)
  RecordingScopes,    // after a rebuild: counting the stage's scopes
};

// Shared memory (called from shared_state.cpp's hooks).
Size progress_shmem_size();
void progress_shmem_init();

// Starts reporting a run on a stage in this backend (replacing whatever was reported).
// Totals < 0 are unknown (NULL in the view).
void progress_begin(int32 stage_id, ProgressPhase phase, int64 scopes_total, int64 batches_total);
// Whether this backend reports a run on this stage (a refresh_step continuing one).
bool progress_running(int32 stage_id);
void progress_phase(ProgressPhase phase);
void progress_totals(int64 scopes_total, int64 batches_total);
void progress_rows_total(int64 rows_total);
// One batch of `scopes` scopes done, `rows` rows written.
void progress_batch_done(int64 scopes, int64 rows);
// Rows written outside batches (a rebuild's delete).
void progress_rows(int64 rows);
void progress_end();

// SQL expression counting, row by row, the rows of a rebuild's query (its WHERE clause).
inline constexpr const char* kProgressRowFilter = "incview.progress_row()";

// Reports a run for as long as it lives; ends it on the way out (also when an error
// unwinds the C++ stack; an ERROR that skips C++ frames is caught by the abort callback).
class ProgressRun {
 public:
  ProgressRun(int32 stage_id, ProgressPhase phase, int64 scopes_total, int64 batches_total) {
    progress_begin(stage_id, phase, scopes_total, batches_total);
  }
  ~ProgressRun() { progress_end(); }
  ProgressRun(const ProgressRun&) = delete;
  ProgressRun& operator=(const ProgressRun&) = delete;
};

}  // namespace incview::pg
