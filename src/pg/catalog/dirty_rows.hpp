// Capture's per-stage statements on incview.dirty_scope (capture/capture.cpp decides which
// stage needs which; docs/design.md, "The catalog layer"): the stages whose keys are not in
// change records (catalog/change_rows.hpp) queue them here in the writer's transaction. The
// statements are core/capture_sql's, kept prepared per stage and event for the life of the
// backend; they read the statement's transition tables, registered with SPI by the caller
// (SPI_register_trigger_data), and run as the extension owner.
#pragma once
#include "core/capture_sql.hpp"
#include "pg/support/kept_plans.hpp"

namespace incview::pg {

// One stage's statements, in capture's per-backend cache (dropped with it: the plans are
// released, see kept_plans.hpp).
class StageKeyQueue {
 public:
  // The keys of the statement's changed rows for a Same mapping over built-in types (or the
  // "every scope" marker of an All mapping): capture_statement(spec, event, size), with
  // `threshold` distinct keys at most before it queues a marker instead.
  void queue_changed_keys(const CaptureSpec& spec, CaptureEvent event, CaptureSize size, int32 stage_id,
                          int64 threshold);
  // One "every scope" marker when the statement changed any row.
  void queue_marker(CaptureEvent event, int32 stage_id, int64 threshold);
  // Phase 2 of a two-phase capture: `keys` (jsonb[], derived by the stage owner's code).
  void queue_keys(CaptureEvent event, int32 stage_id, int64 threshold, Datum keys);

 private:
  static constexpr int kSizes = 3;  // CaptureSize variants
  KeptPlans<4 * kSizes> changed_;   // by event and size
  KeptPlans<4> markers_;            // by event
  KeptPlans<4> keys_;               // by event
};

}  // namespace incview::pg
