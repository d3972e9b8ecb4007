// Engine delta over several relations (UNION ALL branches, inner joins): the query-tree
// work behind capture_source and the table query. The map of a source is the stage's FROM
// and WHERE with that source read from a transition table, its output the group keys and
// the aggregates' arguments; it is deparsed schema-qualified and embedded in the capture
// statements (src/core/delta_plan.cpp). PostgreSQL calls: the tree functions run inside a
// pg_call (they palloc and may elog).
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "pg/support/pg_headers.hpp"

namespace incview::pg {

// copyObject without GNU typeof (this is ISO C++17).
template <typename T>
T* copy_node(const T* node) {
  return static_cast<T*>(copyObjectImpl(node));
}

// Parses and analyzes the stage query (one statement). Inside a pg_call.
Query* analyze_stage_query(const char* sql);

// The leaves of a UNION ALL tree (RangeTblRefs into the set operation's rtable); false
// when the tree has another set operation.
bool union_all_leaves(Node* n, List** leaves);

// The map query of `q`: its FROM and WHERE, output __incview_g_<pos> (group keys) and
// __incview_a_<pos> (aggregate arguments), no grouping.
Query* delta_map_query(Query* q);

// The relation entry `rte` read from the transition table `name` instead.
void read_from_transition(RangeTblEntry* rte, const char* name);

// The query as SQL, every relation, function and type schema-qualified.
char* deparse_qualified(Query* q);

// Multi-relation queries: the stage query with the hidden aggregates (name, template with
// $<pos> for the argument at output position <pos>) appended to its output, deparsed. As
// the owner, under the stage's search_path.
std::string multi_table_query(const std::string& query, const std::vector<std::pair<std::string, std::string>>& hidden);

}  // namespace incview::pg
