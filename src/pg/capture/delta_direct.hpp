// Engine delta, direct capture of a one-row INSERT, UPDATE or DELETE (core/delta_direct.hpp says which
// stages and what the row is): the queue row built in C from the changed row and appended by a
// direct heap insert (catalog/delta_queue_rows.hpp), instead of the capture statement, whose
// executor start-up and hash aggregate were most of a delta stage's writer cost
// (bench/delta.md). No user code runs here: the row's values are the source's column values
// and PostgreSQL's own casts between built-in numeric types, so the stage owner's role is not
// needed (the statement runs as the owner because its SQL is the owner's). An UPDATE's rows
// are the two rows' or their combination (core/delta_direct.hpp, update_rows); whether the
// group keys' equality is identity is asked of built-in equalimage functions only.
#pragma once
#include "core/capture_sql.hpp"
#include "pg/capture/stage_capture.hpp"

namespace incview::pg {

// How a stage's direct row is made from the source's columns, resolved at the first
// one-row statement (null: not yet; `usable` false: the columns or types did not match, the
// statement is used).
struct DeltaDirectLayout;

// Captures the statement's one changed row for `sc` directly; false when the stage, the event
// or the setting incview.delta_capture_direct does not allow it (the caller runs the statement).
bool capture_delta_direct(StageCapture& sc, const TriggerData* td, CaptureEvent event);

}  // namespace incview::pg
