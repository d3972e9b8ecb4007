// The stage graph as the catalog describes it: stage B depends on stage A when B's
// query reads A's target table.
#pragma once
#include "pg/pg_headers.hpp"

#include "core/stage_graph.hpp"

namespace incview::pg {

// Without the edges into `ignore_upstreams_of` (to test a redefinition of that stage).
StageGraph load_stage_graph(const std::string& ignore_upstreams_of = {});

}  // namespace incview::pg
