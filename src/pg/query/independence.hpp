// Scope independence from the stage query's tree (issue 17): whether the rows of one scope
// depend only on source rows of that scope, so that re-deriving a batch of scopes is
// right. Read from the parsed, analyzed and rewritten query (views expanded), whatever a
// sample plan happens to look like. Unknown constructs count as not independent.
//
// Not independent: LIMIT/OFFSET/FETCH; an aggregate, GROUP BY or HAVING that does not
// group by every scope column; GROUPING SETS/ROLLUP/CUBE; DISTINCT ON without the scope; a
// window whose PARTITION BY lacks a scope column; a scope column that is computed rather
// than taken from a table or subquery; a source that has the scope columns (or a
// subquery/CTE reading one) not tied to the scope by equalities in WHERE / JOIN ... ON;
// a subquery expression over such a source that is not correlated on the scope; a
// recursive CTE; a volatile function. Set operations are checked branch by branch.
#pragma once
#include "pg/support/pg_headers.hpp"

namespace incview::pg {

// nullopt when the scopes are independent, else which construct breaks it and where.
// Runs the parser and rewriter: call it as the stage's owner.
std::optional<std::string> independence_problem(const std::string& query, const std::vector<std::string>& scope);

}  // namespace incview::pg
