#include "pg/background/progress.hpp"

#include "pg/support/guard.hpp"

extern "C" {
#include "port/atomics.h"
#include "storage/backendid.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/timestamp.h"
}

extern "C" {
PG_FUNCTION_INFO_V1(incview_progress);
PG_FUNCTION_INFO_V1(incview_progress_row);
}

namespace incview::pg {

namespace {

// Written by its own backend only; readers copy it under the spinlock. rows_done is an
// atomic outside the lock: a rebuild bumps it once per row and must stay cheap.
struct ProgressSlot {
  slock_t mutex;
  int pid;  // 0: nothing reported
  Oid database;
  int32 stage_id;
  int phase;
  int64 batches_done;
  int64 batches_total;
  int64 scopes_done;
  int64 scopes_total;
  int64 rows_total;
  TimestampTz started_at;
  pg_atomic_uint64 rows_done;
};

struct ProgressArray {
  int count;
  ProgressSlot slots[FLEXIBLE_ARRAY_MEMBER];
};

ProgressArray* progress = nullptr;
ProgressSlot* mine = nullptr;  // this backend's slot while a run is reported
bool callbacks_registered = false;

ProgressSlot* own_slot() {
  if (!progress || MyBackendId < 1 || MyBackendId > progress->count) return nullptr;
  return &progress->slots[MyBackendId - 1];
}

void clear_slot() {
  ProgressSlot* slot = own_slot();
  if (!slot) return;
  SpinLockAcquire(&slot->mutex);
  slot->pid = 0;
  SpinLockRelease(&slot->mutex);
  mine = nullptr;
}

// An ERROR that aborts the transaction ends the run (as PostgreSQL does for its own
// progress reports); so does the backend's exit. A commit does not: refresh_all and the
// scheduler commit after every batch of one run.
void on_xact(XactEvent event, void*) {
  if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT) clear_slot();
}
void on_exit(int, Datum) { clear_slot(); }

void register_callbacks() {
  if (callbacks_registered) return;
  RegisterXactCallback(on_xact, nullptr);
  before_shmem_exit(on_exit, 0);
  callbacks_registered = true;
}

template <typename F>
void update(F&& f) {
  if (!mine) return;
  SpinLockAcquire(&mine->mutex);
  f(*mine);
  SpinLockRelease(&mine->mutex);
}

Datum nullable_int8(int64 v, bool* isnull) {
  *isnull = v < 0;
  return Int64GetDatum(v);
}

const char* phase_name(int phase) {
  switch (static_cast<ProgressPhase>(phase)) {
    case ProgressPhase::Planning: return "planning";
    case ProgressPhase::RefreshingBatches: return "refreshing batches";
    case ProgressPhase::Rebuilding: return "rebuilding";
    case ProgressPhase::RecordingScopes: return "counting scopes";
  }
  return "unknown";
}

}  // namespace

Size progress_shmem_size() {
  return add_size(offsetof(ProgressArray, slots), mul_size(MaxBackends, sizeof(ProgressSlot)));
}

void progress_shmem_init() {
  bool found = false;
  progress = static_cast<ProgressArray*>(ShmemInitStruct("pg_incview progress", progress_shmem_size(), &found));
  if (!found) {
    progress->count = MaxBackends;
    for (int i = 0; i < MaxBackends; ++i) {
      ProgressSlot* s = &progress->slots[i];
      memset(s, 0, sizeof(*s));
      SpinLockInit(&s->mutex);
      pg_atomic_init_u64(&s->rows_done, 0);
    }
  }
}

void progress_begin(int32 stage_id, ProgressPhase phase, int64 scopes_total, int64 batches_total) {
  ProgressSlot* slot = own_slot();
  if (!slot) return;
  register_callbacks();
  const TimestampTz now = GetCurrentTimestamp();
  SpinLockAcquire(&slot->mutex);
  slot->pid = MyProcPid;
  slot->database = MyDatabaseId;
  slot->stage_id = stage_id;
  slot->phase = static_cast<int>(phase);
  slot->batches_done = 0;
  slot->batches_total = batches_total;
  slot->scopes_done = 0;
  slot->scopes_total = scopes_total;
  slot->rows_total = -1;
  slot->started_at = now;
  pg_atomic_write_u64(&slot->rows_done, 0);
  SpinLockRelease(&slot->mutex);
  mine = slot;
}

bool progress_running(int32 stage_id) { return mine && mine->pid == MyProcPid && mine->stage_id == stage_id; }

void progress_phase(ProgressPhase phase) {
  update([&](ProgressSlot& s) { s.phase = static_cast<int>(phase); });
}

void progress_totals(int64 scopes_total, int64 batches_total) {
  update([&](ProgressSlot& s) {
    s.scopes_total = scopes_total;
    s.batches_total = batches_total;
  });
}

void progress_rows_total(int64 rows_total) {
  update([&](ProgressSlot& s) { s.rows_total = rows_total; });
}

void progress_batch_done(int64 scopes, int64 rows) {
  update([&](ProgressSlot& s) {
    s.batches_done += 1;
    s.scopes_done += scopes;
    // More keys may have been queued since the totals were taken: never done > total.
    if (s.batches_total >= 0 && s.batches_done > s.batches_total) s.batches_total = s.batches_done;
    if (s.scopes_total >= 0 && s.scopes_done > s.scopes_total) s.scopes_total = s.scopes_done;
  });
  progress_rows(rows);
}

void progress_rows(int64 rows) {
  if (mine) pg_atomic_write_u64(&mine->rows_done, pg_atomic_read_u64(&mine->rows_done) + rows);
}

void progress_end() {
  if (mine) clear_slot();
}

}  // namespace incview::pg

using namespace incview::pg;

// incview.progress_row() -> true: in a rebuild's WHERE clause, counts the rows its query
// produces so far. Cheap (one store into this backend's own slot); a no-op outside a run.
extern "C" Datum incview_progress_row(PG_FUNCTION_ARGS) {
  return entry_guard([&]() -> Datum {
    progress_rows(1);
    PG_RETURN_BOOL(true);
  });
}

// incview._progress() -> the runs reported by every backend of the cluster (the view
// incview.progress keeps this database's and adds the stage names).
extern "C" Datum incview_progress(PG_FUNCTION_ARGS) {
  return entry_guard([&]() -> Datum {
    pg_call([&] {
      InitMaterializedSRF(fcinfo, 0);
      auto* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
      const int n = progress ? progress->count : 0;
      for (int i = 0; i < n; ++i) {
        ProgressSlot* src = &progress->slots[i];
        SpinLockAcquire(&src->mutex);
        const int pid = src->pid;
        const Oid database = src->database;
        const int32 stage_id = src->stage_id;
        const int phase = src->phase;
        const int64 batches_done = src->batches_done, batches_total = src->batches_total;
        const int64 scopes_done = src->scopes_done, scopes_total = src->scopes_total;
        const int64 rows_total = src->rows_total;
        const TimestampTz started_at = src->started_at;
        SpinLockRelease(&src->mutex);
        if (pid == 0) continue;
        const int64 rows_done = static_cast<int64>(pg_atomic_read_u64(&src->rows_done));
        Datum values[11];
        bool nulls[11] = {false};
        values[0] = Int32GetDatum(pid);
        values[1] = ObjectIdGetDatum(database);
        values[2] = Int32GetDatum(stage_id);
        values[3] = CStringGetTextDatum(phase_name(phase));
        values[4] = Int64GetDatum(batches_done);
        values[5] = nullable_int8(batches_total, &nulls[5]);
        values[6] = Int64GetDatum(scopes_done);
        values[7] = nullable_int8(scopes_total, &nulls[7]);
        values[8] = Int64GetDatum(rows_done);
        values[9] = nullable_int8(rows_total, &nulls[9]);
        values[10] = TimestampTzGetDatum(started_at);
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
      }
    });
    return static_cast<Datum>(0);
  });
}
