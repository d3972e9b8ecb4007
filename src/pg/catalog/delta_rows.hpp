// incview.delta_stage rows outside turning the engine on and off (refresh/delta_engine.cpp):
// the float re-derive's cadence. As the extension owner under the safe search path
// (docs/design.md, "The catalog layer").
#pragma once
#include "pg/support/pg_headers.hpp"
#include "pg/support/spi.hpp"

namespace incview::pg {

// Writes: how often the scheduler re-derives the stage's folded groups
// (incview.delta_stage.rederive_every; a NULL interval turns it off).
void save_rederive_every(int32 stage_id, const SpiArg& every);

}  // namespace incview::pg
