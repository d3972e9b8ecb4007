#include "pg/capture/delta_batch.hpp"

#include <algorithm>

#include "core/shared_delta_capture.hpp"
#include "pg/support/guard.hpp"
#include "pg/support/role.hpp"

extern "C" {
#include "storage/lmgr.h"
}

namespace incview::pg {

namespace {

bool is_delta(const StageCapture& sc) { return !sc.delta[0].empty() && !sc.delta[1].empty() && !sc.delta[2].empty(); }

bool same_runner(const StageCapture& a, const StageCapture& b) {
  return a.stage_owner == b.stage_owner && a.search_path == b.search_path;
}

}  // namespace

void batch_delta_stages(std::vector<std::unique_ptr<StageCapture>>* own,
                        std::vector<std::unique_ptr<DeltaBatch>>* batches) {
  std::vector<std::unique_ptr<StageCapture>> rest;
  std::vector<std::unique_ptr<DeltaBatch>> found;
  for (auto& sc : *own) {
    if (!is_delta(*sc)) {
      rest.push_back(std::move(sc));
      continue;
    }
    auto b = std::find_if(found.begin(), found.end(),
                          [&](const std::unique_ptr<DeltaBatch>& x) { return same_runner(*x->stages.front(), *sc); });
    if (b == found.end()) {
      found.push_back(std::make_unique<DeltaBatch>());
      b = found.end() - 1;
    }
    (*b)->stages.push_back(std::move(sc));
  }
  // A batch of one is a stage on its own statement, as before.
  for (auto& b : found) {
    if (b->stages.size() == 1)
      rest.push_back(std::move(b->stages.front()));
    else
      batches->push_back(std::move(b));
  }
  *own = std::move(rest);
}

void lock_delta_queues(const std::vector<std::unique_ptr<StageCapture>>& own,
                       const std::vector<std::unique_ptr<DeltaBatch>>& batches, Oid relid, CaptureEvent event) {
  if (event == CaptureEvent::Truncate) return;  // markers only
  std::vector<const StageCapture*> delta;
  for (const auto& sc : own)
    if (is_delta(*sc)) delta.push_back(sc.get());
  for (const auto& b : batches)
    for (const auto& sc : b->stages) delta.push_back(sc.get());
  for (const StageCapture* sc : delta) {
    if (!OidIsValid(sc->delta_queue) || delta_interleaved(*sc) || delta_rls_hides_rows(sc->stage_owner, relid))
      continue;
    const Oid queue = sc->delta_queue;
    const LOCKMODE mode = sc->delta_waits_for_writers ? ShareRowExclusiveLock : RowExclusiveLock;
    pg_call([&] { LockRelationOid(queue, mode); });
  }
}

void capture_delta_batch(DeltaBatch& batch, Oid relid, CaptureEvent event, int64 rows) {
  const StageCapture& first = *batch.stages.front();
  bool one_by_one = event == CaptureEvent::Truncate || delta_rls_hides_rows(first.stage_owner, relid);
  for (const auto& sc : batch.stages) one_by_one = one_by_one || delta_interleaved(*sc);
  if (one_by_one) {
    for (auto& sc : batch.stages) capture_stage(*sc, relid, event, rows);
    return;
  }
  // Every wait before the statement: its snapshot (READ COMMITTED) sees what each waited for.
  for (const auto& sc : batch.stages) delta_wait_for_writers(*sc);
  const int e = static_cast<int>(event);
  as_stage_owner(first.stage_owner, first.search_path, [&] {
    if (!batch.plans.plan[e]) {
      std::vector<std::string> inserts;
      for (const auto& sc : batch.stages) inserts.push_back(sc->delta[e]);
      batch.plans.plan[e] = prepare_kept(shared_delta_capture(inserts), 0, nullptr);
    }
    run_kept(batch.plans.plan[e], nullptr, nullptr);
  });
}

}  // namespace incview::pg
