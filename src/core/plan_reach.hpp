// Reads an EXPLAIN (text) plan of a scoped refresh statement and tells, for one source
// table, whether the batch's own scope filter reached its scans. When it does not,
// something above the scan mixes scopes (a window or aggregate not partitioned by the
// scope, DISTINCT, LIMIT, a materialized CTE...), so the rows of one scope may depend on
// other scopes: a scoped refresh of such a stage would be wrong, not only slow.
//
// "Reached" means the batch's filter, not any predicate on a column of that name (a
// query's own `WHERE customer_id > 0` under a LIMIT must not pass for it): a scan is
// reached for a scope column when its conditions carry the batch's array literal for that
// column (`customer_id = ANY ('{1,2}'::integer[])`), or when a condition of the scan or of
// a join above it equates the column with the same column of another scan that is
// reached (`m.customer_id = o.customer_id`: nested-loop parameters, hash and merge join
// conditions). A scan is reached when it is reached for every scope column.
#pragma once
#include "core/no_postgres.hpp"

#include <string>
#include <vector>

namespace incview {

enum class ScopeReach {
  NotRead,       // the plan does not scan this table
  IndexScan,     // scanned through an index with the scope condition
  FilteredScan,  // scanned sequentially, constrained by the batch's filter (directly or through a join)
  NotReached,    // some scan of it is not constrained by the batch's filter
};

// batch_literals: for each scope column, the batch's array as EXPLAIN prints its literal
// ("{1,2,3}" for '{1,2,3}'::integer[]).
ScopeReach scope_reach(const std::vector<std::string>& plan, const std::string& relname,
                       const std::vector<std::string>& scope_columns, const std::vector<std::string>& batch_literals);

const char* describe(ScopeReach reach);

}  // namespace incview
