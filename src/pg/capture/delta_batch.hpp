// Delta stages of one source that capture in one statement (issue 18). Each delta stage
// queues the write statement's partial aggregates into its own queue with a statement run as
// its owner (stage_capture.hpp, capture_delta); a source with N delta stages paid N
// statements per write. Stages of the same owner and search_path now share one: their
// INSERTs as data-modifying CTEs of one statement (core/shared_delta_capture.hpp), prepared
// once per backend and event and kept until the source's capture list is reloaded (a stage
// created, dropped, re-engined or re-owned, DDL on the source: capture.cpp's relcache
// callback). Run as that owner, restricted, like each INSERT alone: no privilege is added,
// since every INSERT is the owner's on the owner's queue.
#pragma once
#include <memory>
#include <vector>

#include "pg/capture/stage_capture.hpp"
#include "pg/support/kept_plans.hpp"

namespace incview::pg {

struct DeltaBatch {
  std::vector<std::unique_ptr<StageCapture>> stages;  // two or more, one owner and search_path
  KeptPlans<3> plans;                                 // by event: INSERT, UPDATE, DELETE
};

// Moves the delta stages of `own` that share an owner and search_path with another one into
// batches; the others stay in `own`.
void batch_delta_stages(std::vector<std::unique_ptr<StageCapture>>* own,
                        std::vector<std::unique_ptr<DeltaBatch>>* batches);

// Takes, before the statement writes anything, the lock on the queue of every delta stage (in
// `own` or a batch) whose capture will run its INSERT: SHARE ROW EXCLUSIVE for a join's side
// that waits for other writers (capture_delta), ROW EXCLUSIVE otherwise. A drop_stage holding
// a queue makes this wait; its invalidation is processed once the lock is granted, so the
// caller sees its capture list reset and reloads it, instead of the kept plan failing on the
// dropped queue ("relation ... does not exist", the writer's statement lost).
void lock_delta_queues(const std::vector<std::unique_ptr<StageCapture>>& own,
                       const std::vector<std::unique_ptr<DeltaBatch>>& batches, Oid relid, CaptureEvent event);

// The statement's capture for every stage of the batch, exactly as capture_stage would make
// it one stage at a time: a TRUNCATE, rows row-level security hides from the owner, or a
// join's side with a statement pending on another side (then each stage decides alone, as
// before) queue markers; otherwise the sides that wait for other writers take their locks,
// and one statement queues every stage's partials.
void capture_delta_batch(DeltaBatch& batch, Oid relid, CaptureEvent event, int64 rows);

}  // namespace incview::pg
