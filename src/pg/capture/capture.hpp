// Dirty-scope capture: statement-level AFTER triggers with transition tables on every
// source, one set per source table shared by all stages that read it. The trigger function
// (capture.cpp) keeps per backend what each source's statements capture, and decides what to
// write: change records (change_record.hpp, catalog/change_rows.hpp) and per-stage
// statements (catalog/dirty_rows.hpp). The triggers themselves: capture_triggers.hpp.
#pragma once
#include "pg/capture/capture_triggers.hpp"
#include "pg/catalog/catalog.hpp"

namespace incview::pg {

// Every backend reloads what it captures for this source at its next write to it.
void invalidate_capture(Oid source);

// invalidate_capture for every source of the stage (its policy or scope count changed).
void invalidate_stage_capture(int32 stage_id);

// Registers the relcache callback that drops cached capture plans (from _PG_init).
void register_capture_invalidation();

}  // namespace incview::pg
