#include "core/plan_reach.hpp"

#include <cctype>
#include <map>
#include <set>

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

bool ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$'; }

// How EXPLAIN prints a column name: bare when it is a plain lower-case identifier, else
// double-quoted (reserved words are not told apart: a scope column named like one is rare).
std::string printed(const std::string& name) {
  bool plain = !name.empty() && (std::islower(static_cast<unsigned char>(name[0])) || name[0] == '_');
  for (char c : name)
    plain = plain &&
            (std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_');
  if (plain) return name;
  std::string out = "\"";
  for (char c : name) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

struct Node {
  size_t line = 0;
  size_t indent = 0;
  std::string scan_rel;  // the relation a scan node reads ("" for other nodes)
  std::string alias;     // how its columns are qualified in conditions
  std::vector<std::string> details;
  int parent = -1;
};

// "Seq Scan on meds m  (cost", "Index Scan using ix on meds  (cost": relation and alias.
bool parse_scan(const std::string& line, std::string* rel, std::string* alias) {
  const size_t scan = line.find("Scan");
  if (scan == std::string::npos) return false;
  const size_t on = line.find(" on ", scan);
  if (on == std::string::npos) return false;
  size_t p = on + 4;
  size_t e = line.find(' ', p);
  if (e == std::string::npos) e = line.size();
  *rel = line.substr(p, e - p);
  const size_t a = line.find_first_not_of(' ', e);
  if (a != std::string::npos && line[a] != '(') {
    size_t ae = line.find(' ', a);
    *alias = line.substr(a, (ae == std::string::npos ? line.size() : ae) - a);
  } else {
    *alias = *rel;
  }
  // Schema-qualified names print as "s.t"; conditions use the bare alias.
  const size_t dot = rel->rfind('.');
  if (dot != std::string::npos && *alias == *rel) *alias = rel->substr(dot + 1);
  return true;
}

std::vector<Node> parse(const std::vector<std::string>& plan) {
  std::vector<Node> nodes;
  std::vector<int> stack;  // open nodes by indentation
  for (size_t i = 0; i < plan.size(); ++i) {
    const std::string& line = plan[i];
    if (is_node(line)) {
      Node n;
      n.line = i;
      n.indent = indent_of(line);
      while (!stack.empty() && nodes[static_cast<size_t>(stack.back())].indent >= n.indent) stack.pop_back();
      n.parent = stack.empty() ? -1 : stack.back();
      parse_scan(line, &n.scan_rel, &n.alias);
      nodes.push_back(n);
      stack.push_back(static_cast<int>(nodes.size()) - 1);
    } else if (!nodes.empty()) {
      // Detail lines belong to the innermost open node above them.
      while (stack.size() > 1 && nodes[static_cast<size_t>(stack.back())].indent >= indent_of(line)) stack.pop_back();
      nodes[static_cast<size_t>(stack.back())].details.push_back(line);
    }
  }
  return nodes;
}

bool condition_line(const std::string& line) {
  return line.find("Cond:") != std::string::npos || line.find("Filter:") != std::string::npos;
}

// Column references "x.col" or "col" (col = the printed scope column) in a line, with the
// qualifier ("" when bare) and their positions.
struct ColumnRef {
  std::string qualifier;
  size_t begin = 0, end = 0;
};

std::vector<ColumnRef> column_refs(const std::string& line, const std::string& col) {
  std::vector<ColumnRef> out;
  for (size_t at = line.find(col); at != std::string::npos; at = line.find(col, at + 1)) {
    const size_t end = at + col.size();
    if (col[0] != '"' && end < line.size() && ident_char(line[end])) continue;
    ColumnRef r;
    r.end = end;
    r.begin = at;
    if (at > 0 && line[at - 1] == '.') {
      size_t q = at - 1;
      while (q > 0 && (ident_char(line[q - 1]) || line[q - 1] == '"')) --q;
      r.qualifier = line.substr(q, at - 1 - q);
      r.begin = q;
    } else if (col[0] != '"' && at > 0 && ident_char(line[at - 1])) {
      continue;
    }
    out.push_back(r);
  }
  return out;
}

}  // namespace

ScopeReach scope_reach(const std::vector<std::string>& plan, const std::string& relname,
                       const std::vector<std::string>& scope_columns, const std::vector<std::string>& batch_literals) {
  const std::vector<Node> nodes = parse(plan);
  const size_t k = scope_columns.size();
  // reached[c][alias]: the scan(s) with this alias are constrained by the batch for column c.
  std::vector<std::set<std::string>> reached(k);
  // edges[c]: pairs of aliases whose column c is equated in some condition.
  std::vector<std::set<std::pair<std::string, std::string>>> edges(k);
  for (const Node& n : nodes) {
    for (const std::string& line : n.details) {
      if (!condition_line(line)) continue;
      for (size_t c = 0; c < k; ++c) {
        const std::string col = printed(scope_columns[c]);
        const std::vector<ColumnRef> refs = column_refs(line, col);
        // The batch's own filter on this column: "col = ANY ('{...}'" right after the reference.
        if (!n.scan_rel.empty() && c < batch_literals.size()) {
          std::string quoted;  // as a SQL literal: quotes doubled
          for (char ch : batch_literals[c]) quoted += ch == '\'' ? std::string("''") : std::string(1, ch);
          const std::string lit = " = ANY ('" + quoted + "'";
          for (const auto& r : refs)
            if ((r.qualifier.empty() || r.qualifier == n.alias) && line.compare(r.end, lit.size(), lit) == 0)
              reached[c].insert(n.alias);
        }
        // Equalities between two references of the column: "a.col = b.col", "col = b.col".
        for (const auto& r : refs) {
          if (line.compare(r.end, 3, " = ") != 0) continue;
          for (const auto& s : refs) {
            if (s.begin != r.end + 3) continue;
            const std::string left = r.qualifier.empty() ? n.alias : r.qualifier;
            const std::string right = s.qualifier.empty() ? n.alias : s.qualifier;
            if (!left.empty() && !right.empty() && left != right) {
              edges[c].insert({left, right});
              edges[c].insert({right, left});
            }
          }
        }
      }
    }
  }
  for (size_t c = 0; c < k; ++c) {
    for (bool grew = true; grew;) {
      grew = false;
      for (const auto& [a, b] : edges[c])
        if (reached[c].count(b) && !reached[c].count(a)) grew = reached[c].insert(a).second;
    }
  }
  bool seen = false, all_reached = true, any_index = false;
  for (const Node& n : nodes) {
    if (n.scan_rel != relname) continue;
    seen = true;
    bool ok = k > 0;
    for (size_t c = 0; c < k; ++c) ok = ok && reached[c].count(n.alias) > 0;
    const std::string& line = plan[n.line];
    const bool index = line.find("Index") != std::string::npos || line.find("Bitmap Heap") != std::string::npos;
    any_index = any_index || (index && ok);
    all_reached = all_reached && ok;
  }
  if (!seen) return ScopeReach::NotRead;
  if (!all_reached) return ScopeReach::NotReached;
  return any_index ? ScopeReach::IndexScan : ScopeReach::FilteredScan;
}

const char* describe(ScopeReach reach) {
  switch (reach) {
    case ScopeReach::NotRead: return "not read by this plan";
    case ScopeReach::IndexScan: return "index scan: the batch's scope filter is pushed down";
    case ScopeReach::FilteredScan:
      return "sequential scan constrained by the batch's scope filter (at the scan, or through a join on the "
             "scope; no usable index, or the batch is a large share of the table)";
    case ScopeReach::NotReached:
      return "NOT CONSTRAINED by the batch's scope filter: something above this scan mixes scopes (a window "
             "function or aggregate not partitioned by the scope, DISTINCT or GROUP BY without the scope column, "
             "a LIMIT, a subquery over the whole table, a MATERIALIZED CTE, a volatile function), so a scope's "
             "rows may depend on other scopes: refreshes rebuild this stage in full.";
  }
  return "?";
}

}  // namespace incview
