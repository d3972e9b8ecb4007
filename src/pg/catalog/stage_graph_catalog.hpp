// The stage graph as the catalog describes it: stage B depends on stage A when B's
// query reads A's target table.
#pragma once
#include "pg/support/pg_headers.hpp"

#include "core/graph_dot.hpp"
#include "core/stage_graph.hpp"

namespace incview::pg {

// Without the edges into `ignore_upstreams_of` (to test a redefinition of that stage).
StageGraph load_stage_graph(const std::string& ignore_upstreams_of = {});

// ERROR 42P19 when stage `reader` reading `relations` would close a cycle: one of them is
// the table of `reader` itself or of a stage downstream of it. `what` starts the message
// ("redefining stage \"x\""). Adds the new edges to `graph`. Checked by alter_stage and by
// map_source/add_source (a declared source is an edge like a read one).
void refuse_cycle(StageGraph& graph, const std::string& reader, const std::vector<Oid>& relations,
                  const std::string& what);

// Reads: graph_dot's stages (incview.stage with the incview.stages view's queue counts)
// and edges (incview.stage_source, with the stage whose table a source is), by name.
void load_graph_dot(std::vector<DotStage>& stages, std::vector<DotSource>& sources);

}  // namespace incview::pg
