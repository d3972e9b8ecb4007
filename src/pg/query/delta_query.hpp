// Engine `delta`: the description of a stage query that src/core/delta_plan decides on,
// read from the analyzed query tree (expressions deparsed as PostgreSQL prints them).
#pragma once
#include "core/delta_plan.hpp"
#include "pg/support/pg_headers.hpp"

namespace incview::pg {

// Parses and analyzes `query` and describes it. Runs the parser: call it as the stage's
// owner, under the stage's search_path (the deparsed text is qualified for that path).
DeltaQueryDescription describe_for_delta(const std::string& query);

// describe_for_delta + DeltaPlan::qualify: ERROR 0A000 naming what disqualifies the query.
DeltaPlan delta_plan_for(const std::string& query);

}  // namespace incview::pg
