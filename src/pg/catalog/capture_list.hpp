// The capture trigger's read of the catalog (capture/capture.cpp): which stages capture a
// source, how each maps its rows to keys, and the delta engine's statements for it
// (incview.stage_source, stage, stage_state, delta_capture, delta_stage). Runs as the
// caller: capture calls it as the extension owner (docs/design.md, "The catalog layer").
#pragma once
#include "pg/support/pg_headers.hpp"

namespace incview::pg {

// The stages capturing `relid`, read with the latest snapshot rather than the writer's
// transaction snapshot, as PostgreSQL reads its own catalogs: a writer in REPEATABLE READ
// or SERIALIZABLE whose snapshot predates a stage created since would otherwise queue
// nothing for it, and its rows, committed after the stage's build, are not in the build
// either (specs/new_source_race.spec). Leaves the rows in SPI_tuptable (columns: stage id,
// owner, mapping kind, mapping, search_path, scope count, one scope column per row in
// order, continuous, then the delta capture statements, pending check, waits_for_writers
// and queue, NULL for a stage without the delta engine).
uint64 read_capture_list(Oid relid);

}  // namespace incview::pg
