// incview.explain(stage): sources and mappings, place in the graph, the scoped refresh
// query of a sample batch, its plan, and in words whether the scope filter reached
// each source.
#pragma once
#include "pg/catalog.hpp"

namespace incview::pg {

std::string explain_stage(const StageRecord& stage);

// Plans a sample batch and records in the catalog whether the scope filter reaches every
// source that has the scope columns; tells the user (NOTICE / WARNING) when it does not.
void record_scope_pushdown(const StageRecord& stage);

// EXPLAIN of a user's read query against the stage's table, and which of the stage's
// indexes (declared, scope, unique) and partitions the plan uses.
std::string explain_read_query(const StageRecord& stage, const std::string& read_query);

}  // namespace incview::pg
