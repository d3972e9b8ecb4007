// One stage's capture on a statement of its own (capture.cpp gives every other stage of the
// source a change record): the stages whose keys need the owner's code (a lookup mapping,
// scope columns of user-defined types, run as the stage owner in two phases), a session
// setting (floats, date-times), or the delta engine's partials, and the "every scope" markers
// of a statement. Runs with SPI connected and the statement's transition tables registered.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/capture_sql.hpp"
#include "core/delta_direct.hpp"
#include "pg/catalog/dirty_rows.hpp"
#include "pg/support/kept_plans.hpp"

namespace incview::pg {

struct DeltaDirectLayout;  // delta_direct.hpp

// What one stage captures from one source, with its prepared statements per event.
struct StageCapture {
  int32 stage_id = 0;
  Oid stage_owner = InvalidOid;
  std::string search_path;  // the stage's, for running its lookup mapping
  int64 scopes = 0;         // scopes in the stage at its last full build
  bool wakes = false;       // policy continuous: its commit wakes the scheduler
  // Same mapping over scope columns whose types are built in (or domains over them):
  // their equality, hashing and jsonb conversion run no user code, so the extension owner
  // may derive the keys in one statement. Otherwise keys are derived as the owner.
  bool builtin_types = true;
  CaptureSpec spec;
  StageKeyQueue queue;       // its statements on incview.dirty_scope (catalog/dirty_rows.hpp)
  KeptPlans<4> owner_plans;  // by event: phase 1 of a two-phase capture, or the delta
                             // statement, prepared as the stage owner
  // Engine delta (delta_engine.hpp): the statements queueing per-group partials for INSERT,
  // UPDATE and DELETE; empty when the stage captures keys. A join's other sides: a statement
  // pending on one of them when this capture runs makes its delta inexact (capture_delta).
  std::string delta[3];
  std::vector<Oid> delta_pending_check;
  bool delta_waits_for_writers = false;  // a join's side but the first: see capture_delta
  Oid delta_queue = InvalidOid;
  // A one-row INSERT, UPDATE or DELETE's queue row(s) built directly (delta_direct.hpp): its parts
  // (empty: always the statement) and how they map to the source, resolved at first use.
  std::vector<DirectPart> direct;
  std::shared_ptr<DeltaDirectLayout> direct_layout;
};

// More distinct keys than this in one statement queue one "every scope" marker
// (incview.capture_all_ratio of the stage's scope count; INT64_MAX below 100 scopes).
int64 marker_threshold(int64 scopes);

// Engine delta, the checks behind capture_delta (stage_capture.cpp), shared with the lock
// taken on the queues before a statement's capture (delta_queue_lock.hpp):
// whether row-level security hides rows of `relid` from `owner` (then the stage queues a marker);
bool delta_rls_hides_rows(Oid owner, Oid relid);
// whether a join's other side has a statement pending, or the transaction snapshot cannot see
// what the capture waited for (then the stage queues a marker);
bool delta_interleaved(const StageCapture& sc);
// a join's side but the first: waits for the other sides' writers (SHARE ROW EXCLUSIVE on the queue).
void delta_wait_for_writers(const StageCapture& sc);

// Captures the statement's `rows` changed rows (the larger transition table) for the stage.
// Runs with SPI connected and the statement's transition tables registered.
void capture_stage(StageCapture& sc, Oid relid, CaptureEvent event, int64 rows);

// Engine delta: a one-row INSERT, UPDATE or DELETE of a stage with direct parts captured without SPI
// and without the statement (delta_direct.hpp). False when it needs capture_stage.
bool capture_stage_direct(StageCapture& sc, const TriggerData* td, Oid relid, CaptureEvent event);

}  // namespace incview::pg
