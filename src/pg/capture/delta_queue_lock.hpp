// The queues of a source's delta stages, locked before a write statement's capture writes
// anything. A stage's capture INSERT runs from a plan kept per backend (stage_capture.hpp);
// when drop_stage holds the stage's queue (it drops it, ACCESS EXCLUSIVE until commit), that
// plan's own lock waits, and once the drop commits the plan is re-planned against a queue that
// no longer exists: the writer's statement failed with `relation "incview.delta_<n>" does not
// exist` (specs/delta_shared_ddl.spec). Locking the queues here instead processes the drop's
// invalidation as soon as the lock is granted: the capture list is reset, and capture.cpp
// reloads it and captures for the stages that exist.
#pragma once
#include <memory>
#include <vector>

#include "pg/capture/stage_capture.hpp"

namespace incview::pg {

// Locks the queue of every delta stage of `stages` whose capture will run its INSERT for this
// statement (no TRUNCATE, no row-level security for its owner, no join side pending): SHARE
// ROW EXCLUSIVE for a join's side that waits for other writers (capture_delta), ROW EXCLUSIVE
// otherwise, the modes the capture itself takes.
void lock_delta_queues(const std::vector<std::unique_ptr<StageCapture>>& stages, Oid relid, CaptureEvent event);

}  // namespace incview::pg
