#include "pg/query/delta_maps.hpp"

#include "core/sql_text.hpp"
#include "pg/support/guard.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "parser/parsetree.h"
#include "utils/ruleutils.h"
}

namespace {

// $<pos> of the hidden aggregates' template replaced by the argument at that position.
struct ParamArgs {
  Node** args;
  int n;
};

Node* substitute_params(Node* node, void* context) {
  if (node == nullptr) return nullptr;
  auto* a = static_cast<ParamArgs*>(context);
  if (IsA(node, Param)) {
    Param* p = castNode(Param, node);
    if (p->paramkind == PARAM_EXTERN && p->paramid >= 1 && p->paramid <= a->n && a->args[p->paramid - 1])
      return reinterpret_cast<Node*>(incview::pg::copy_node(a->args[p->paramid - 1]));
    elog(ERROR, "pg_incview: the delta engine's hidden aggregate refers to no argument");
  }
  return expression_tree_mutator(node, reinterpret_cast<Node* (*)()>(reinterpret_cast<void (*)()>(substitute_params)), context);
}

}  // namespace

namespace incview::pg {

Query* analyze_stage_query(const char* sql) {
  List* parsed = pg_parse_query(sql);
  if (list_length(parsed) != 1) elog(ERROR, "pg_incview: the stage query must be one statement");
  List* queries = pg_analyze_and_rewrite_fixedparams(linitial_node(RawStmt, parsed), sql, nullptr, 0, nullptr);
  if (list_length(queries) != 1) elog(ERROR, "pg_incview: the stage query rewrites to several statements");
  return linitial_node(Query, queries);
}

// The leaves of a UNION ALL tree (RangeTblRefs into the set operation's rtable); false
// when the tree has another set operation.
bool union_all_leaves(Node* n, List** leaves) {
  if (IsA(n, RangeTblRef)) {
    *leaves = lappend(*leaves, n);
    return true;
  }
  SetOperationStmt* op = castNode(SetOperationStmt, n);
  if (op->op != SETOP_UNION || !op->all) return false;
  return union_all_leaves(op->larg, leaves) && union_all_leaves(op->rarg, leaves);
}

// The map query: the stage's FROM and WHERE, its output the group keys (__incview_g_<pos>)
// and the aggregates' arguments (__incview_a_<pos>), no grouping.
Query* delta_map_query(Query* q) {
  Query* m = copy_node(q);
  List* tl = NIL;
  int pos = 0;
  ListCell* lc;
  foreach (lc, q->targetList) {
    TargetEntry* te = lfirst_node(TargetEntry, lc);
    if (te->resjunk) continue;
    ++pos;
    Expr* e = te->expr;
    if (IsA(e, Aggref)) {
      Aggref* a = castNode(Aggref, e);
      if (a->aggstar || list_length(a->args) != 1) continue;
      tl = lappend(tl, makeTargetEntry(copy_node(linitial_node(TargetEntry, a->args)->expr), list_length(tl) + 1,
                                       psprintf("__incview_a_%d", pos), false));
    } else {
      tl = lappend(tl, makeTargetEntry(copy_node(e), list_length(tl) + 1, psprintf("__incview_g_%d", pos), false));
    }
  }
  m->targetList = tl;
  m->groupClause = NIL;
  m->havingQual = nullptr;
  m->hasAggs = false;
  m->sortClause = NIL;
  m->distinctClause = NIL;
  return m;
}

// The relation entry `rte` read from the transition table `name` instead (a name the
// capture resolves to the statement's transition table, as its other statements do).
void read_from_transition(RangeTblEntry* rte, const char* name) {
  rte->rtekind = RTE_CTE;
  rte->ctename = pstrdup(name);
  rte->ctelevelsup = 0;
  rte->self_reference = false;
}

// The query as SQL with every relation, function and type schema-qualified (deparsed under
// an empty search_path): the statements embed it next to names of their own (the fold's
// CTEs a, j, q, v...), which must not capture a table of the same name.
char* deparse_qualified(Query* q) {
  OverrideSearchPath* path = static_cast<OverrideSearchPath*>(palloc0(sizeof(OverrideSearchPath)));
  path->schemas = NIL;
  path->addCatalog = true;
  path->addTemp = false;
  PushOverrideSearchPath(path);
  char* volatile out = nullptr;
  PG_TRY();
  { out = pg_get_querydef(q, false); }
  PG_FINALLY();
  { PopOverrideSearchPath(); }
  PG_END_TRY();
  return out;
}

std::string multi_table_query(const std::string& query, const std::vector<std::pair<std::string, std::string>>& hidden) {
  std::vector<std::string> exprs;
  for (const auto& h : hidden) exprs.push_back(h.second);
  const std::string tmpl = "SELECT " + join(exprs, ", ");
  const char* sql = query.c_str();
  const char* tsql = tmpl.c_str();
  std::vector<const char*> names;
  for (const auto& h : hidden) names.push_back(h.first.c_str());
  char* out = nullptr;
  pg_call([&] {
    Query* q = analyze_stage_query(sql);
    // The aggregates' arguments by output position: the template's $<pos>.
    const int n = list_length(q->targetList);
    Oid* types = static_cast<Oid*>(palloc0(sizeof(Oid) * (n + 1)));
    ParamArgs args;
    args.args = static_cast<Node**>(palloc0(sizeof(Node*) * (n + 1)));
    args.n = n;
    int pos = 0;
    ListCell* lc;
    foreach (lc, q->targetList) {
      TargetEntry* te = lfirst_node(TargetEntry, lc);
      if (te->resjunk) continue;
      types[pos] = INT4OID;
      if (IsA(te->expr, Aggref)) {
        Aggref* a = castNode(Aggref, te->expr);
        if (!a->aggstar && list_length(a->args) == 1) {
          args.args[pos] = reinterpret_cast<Node*>(linitial_node(TargetEntry, a->args)->expr);
          types[pos] = exprType(args.args[pos]);
        }
      }
      ++pos;
    }
    List* parsed = pg_parse_query(tsql);
    Query* t = linitial_node(Query, pg_analyze_and_rewrite_fixedparams(linitial_node(RawStmt, parsed), tsql, types, pos,
                                                                       nullptr));
    int i = 0;
    foreach (lc, t->targetList) {
      TargetEntry* te = lfirst_node(TargetEntry, lc);
      Expr* e = reinterpret_cast<Expr*>(substitute_params(reinterpret_cast<Node*>(te->expr), &args));
      q->targetList = lappend(q->targetList, makeTargetEntry(e, list_length(q->targetList) + 1, pstrdup(names[i++]), false));
    }
    out = deparse_qualified(q);
  });
  return out ? std::string(out) : std::string();
}

}  // namespace incview::pg
