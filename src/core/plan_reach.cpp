#include "core/plan_reach.hpp"

#include <cctype>

namespace incview {

namespace {

size_t indent_of(const std::string& line) {
  const size_t p = line.find_first_not_of(' ');
  return p == std::string::npos ? line.size() : p;
}

bool is_node(const std::string& line) {
  const size_t p = indent_of(line);
  return line.compare(p, 2, "->") == 0 || p == 0;
}

// "Seq Scan on meds m", "Index Scan using ix on meds", "Bitmap Heap Scan on meds":
// the table name right after " on ", followed by a space or the end.
bool scans(const std::string& line, const std::string& relname) {
  const std::string needle = " on " + relname;
  for (size_t at = line.find(needle); at != std::string::npos; at = line.find(needle, at + 1)) {
    const size_t end = at + needle.size();
    if ((end == line.size() || line[end] == ' ') && line.find("Scan") != std::string::npos && line.find("Scan") < at)
      return true;
  }
  return false;
}

bool mentions_scope(const std::string& line, const std::vector<std::string>& scope) {
  if (line.find("Cond:") == std::string::npos && line.find("Filter:") == std::string::npos) return false;
  for (const auto& col : scope) {
    for (size_t at = line.find(col); at != std::string::npos; at = line.find(col, at + 1)) {
      const char before = at == 0 ? ' ' : line[at - 1];
      const size_t end = at + col.size();
      const char after = end < line.size() ? line[end] : ' ';
      const bool ident_before = std::isalnum(static_cast<unsigned char>(before)) || before == '_';
      const bool ident_after = std::isalnum(static_cast<unsigned char>(after)) || after == '_';
      if (!ident_before && !ident_after) return true;
    }
  }
  return false;
}

}  // namespace

ScopeReach scope_reach(const std::vector<std::string>& plan, const std::string& relname,
                       const std::vector<std::string>& scope_columns) {
  bool seen = false, all_reached = true, any_index = false;
  for (size_t i = 0; i < plan.size(); ++i) {
    if (!scans(plan[i], relname)) continue;
    seen = true;
    const size_t indent = indent_of(plan[i]);
    const bool index = plan[i].find("Index") != std::string::npos || plan[i].find("Bitmap Heap") != std::string::npos;
    bool reached = false;
    // Detail lines of this node: deeper indentation, up to the next plan node.
    for (size_t j = i + 1; j < plan.size() && indent_of(plan[j]) > indent; ++j) {
      if (is_node(plan[j])) break;
      reached = reached || mentions_scope(plan[j], scope_columns);
    }
    any_index = any_index || (index && reached);
    all_reached = all_reached && reached;
  }
  if (!seen) return ScopeReach::NotRead;
  if (!all_reached) return ScopeReach::NotReached;
  return any_index ? ScopeReach::IndexScan : ScopeReach::FilteredScan;
}

const char* describe(ScopeReach reach) {
  switch (reach) {
    case ScopeReach::NotRead: return "not read by this plan";
    case ScopeReach::IndexScan: return "index scan: the scope filter is pushed down";
    case ScopeReach::FilteredScan:
      return "sequential scan with the scope filter pushed down (no usable index on the scope column, or the "
             "batch is a large share of the table)";
    case ScopeReach::NotReached:
      return "SEQUENTIAL SCAN: the scope filter does not reach this source. Something above it mixes scopes "
             "(a window function or aggregate not partitioned by the scope, DISTINCT or GROUP BY without the "
             "scope column, a LIMIT, a MATERIALIZED CTE, a volatile function), so a scope's rows may depend on "
             "other scopes: engine auto rebuilds this stage in full, and replace/diff could be wrong.";
  }
  return "?";
}

}  // namespace incview
