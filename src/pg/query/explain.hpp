// incview.explain(stage): sources and mappings, place in the graph, the scoped refresh
// query of a sample batch, its plan, and in words whether the scope filter reached
// each source.
#pragma once
#include "pg/catalog/catalog.hpp"

namespace incview::pg {

std::string explain_stage(const StageRecord& stage);

// Whether the stage's scopes are independent (a scoped refresh is right): the query tree
// (independence.hpp) and, when the table has rows, the plan of a sample batch (the batch's
// own filter must constrain every scan of every source with the scope, plan_reach.hpp).
// nullopt when independent, else why not.
std::optional<std::string> independence_verdict(const StageRecord& stage);

// Records the verdict in incview.stage (scope_pushdown, scope_independence) and tells the
// user (NOTICE; WARNING when the owner declared the stage independent anyway).
void record_independence(const StageRecord& stage);

// EXPLAIN of a user's read query against the stage's table, and which of the stage's
// indexes (declared, scope, unique) and partitions the plan uses.
std::string explain_read_query(const StageRecord& stage, const std::string& read_query);

}  // namespace incview::pg
