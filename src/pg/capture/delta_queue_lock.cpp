#include "pg/capture/delta_queue_lock.hpp"

#include "pg/support/guard.hpp"

extern "C" {
#include "storage/lmgr.h"
}

namespace incview::pg {

void lock_delta_queues(const std::vector<std::unique_ptr<StageCapture>>& stages, Oid relid, CaptureEvent event) {
  if (event == CaptureEvent::Truncate) return;  // markers only
  for (const auto& sc : stages) {
    if (sc->delta[0].empty() || !OidIsValid(sc->delta_queue)) continue;
    if (delta_interleaved(*sc) || delta_rls_hides_rows(sc->stage_owner, relid)) continue;
    const Oid queue = sc->delta_queue;
    const LOCKMODE mode = sc->delta_waits_for_writers ? ShareRowExclusiveLock : RowExclusiveLock;
    pg_call([&] { LockRelationOid(queue, mode); });
  }
}

}  // namespace incview::pg
