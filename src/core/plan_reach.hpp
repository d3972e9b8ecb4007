// Reads an EXPLAIN (text) plan of a scoped refresh statement and tells, for one source
// table, whether the scope filter reached its scans. When it does not, something above
// the scan mixes scopes (a window or aggregate not partitioned by the scope, DISTINCT,
// LIMIT, a materialized CTE...), so the rows of one scope may depend on other scopes:
// a scoped refresh of such a stage would be wrong, not only slow.
#pragma once
#include "core/no_postgres.hpp"

#include <string>
#include <vector>

namespace incview {

enum class ScopeReach {
  NotRead,       // the plan does not scan this table
  IndexScan,     // scanned through an index with the scope condition
  FilteredScan,  // scanned sequentially, but with the scope condition applied at the scan
  NotReached,    // scanned without any scope condition
};

ScopeReach scope_reach(const std::vector<std::string>& plan, const std::string& relname,
                       const std::vector<std::string>& scope_columns);

const char* describe(ScopeReach reach);

}  // namespace incview
