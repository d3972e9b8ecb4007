// The stage graph as the catalog describes it: stage B depends on stage A when B's
// query reads A's target table.
#pragma once
#include "pg/pg_headers.hpp"

#include "core/stage_graph.hpp"

namespace incview::pg {

StageGraph load_stage_graph();

}  // namespace incview::pg
