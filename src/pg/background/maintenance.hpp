// The scheduler's housekeeping after its refreshes, each bounded so a pass stays short:
// retention (expired rows of stages with a retention column), the float re-derive of delta
// stages on a cadence, and dropping capture triggers left idle by drop_stage/alter_stage.
#pragma once
#include "pg/support/pg_headers.hpp"

namespace incview::pg {

// Stages with retention whose expired rows were last removed over a minute ago: removed
// now, as the stage owner, committing every batch. True when any stage was due.
bool apply_due_retention();

// Delta stages whose float drift is repaired on a cadence (incview.set_rederive) and whose
// last complete re-derive is older than it: their folded groups re-derived now. True when
// any stage was due.
bool apply_due_rederive();

// Idle capture triggers (idle_capture.hpp): dropped when nobody holds a lock on their
// table, every ten seconds at most.
void drop_idle_capture_when_free();

}  // namespace incview::pg
