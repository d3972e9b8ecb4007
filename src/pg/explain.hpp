// incview.explain(stage): sources and mappings, place in the graph, the scoped refresh
// query of a sample batch, its plan, and in words whether the scope filter reached
// each source.
#pragma once
#include "pg/catalog.hpp"

namespace incview::pg {

std::string explain_stage(const StageRecord& stage);

}  // namespace incview::pg
