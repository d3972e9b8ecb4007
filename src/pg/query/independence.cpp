#include "pg/query/independence.hpp"

#include "pg/support/guard.hpp"

extern "C" {
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "utils/lsyscache.h"
}

// The analysis is plain C over PostgreSQL's node trees: it runs inside one pg_call (no C++
// objects, no exceptions) and answers with a palloc'd reason, NULL when independent.
namespace {

struct Ctx {
  int nscope;
  const char* const* names;  // scope column names
};

constexpr int kMaxScope = 32;

// A column of a range table entry at one query level, as one int for PostgreSQL's int lists.
int key_of(Index varno, AttrNumber attno) { return static_cast<int>(varno) * 2048 + attno; }

// Strips binary-compatible casts.
Node* strip(Node* n) {
  while (n && IsA(n, RelabelType)) n = reinterpret_cast<Node*>(reinterpret_cast<RelabelType*>(n)->arg);
  return n;
}

// The base column a Var stands for, looking through join aliases at this level (a Var of an
// outer level is taken as it is); NULL when it is an expression or a whole-row reference.
Var* base_var(Query* q, Node* n) {
  n = strip(n);
  while (n && IsA(n, Var)) {
    Var* v = reinterpret_cast<Var*>(n);
    if (v->varattno <= 0) return nullptr;
    if (v->varlevelsup != 0) return v;
    RangeTblEntry* rte = rt_fetch(v->varno, q->rtable);
    if (rte->rtekind != RTE_JOIN) return v;
    n = strip(static_cast<Node*>(list_nth(rte->joinaliasvars, v->varattno - 1)));
  }
  return nullptr;
}

// PostgreSQL 15 declares tree walkers as old-style `bool (*)()`.
using Walker = bool (*)();
template <typename F>
Walker walker(F f) {
  return reinterpret_cast<Walker>(reinterpret_cast<void (*)()>(f));
}

bool relation_has_scope(Oid relid, const Ctx* cx) {
  for (int k = 0; k < cx->nscope; ++k)
    if (get_attnum(relid, cx->names[k]) == InvalidAttrNumber) return false;
  return true;
}

bool reads_scoped_walker(Node* node, void* context) {
  const Ctx* cx = static_cast<const Ctx*>(context);
  if (node == nullptr) return false;
  if (IsA(node, RangeTblEntry)) {
    RangeTblEntry* rte = reinterpret_cast<RangeTblEntry*>(node);
    return rte->rtekind == RTE_RELATION && relation_has_scope(rte->relid, cx);
  }
  if (IsA(node, Query))
    return query_tree_walker(reinterpret_cast<Query*>(node), walker(reads_scoped_walker), context,
                             QTW_EXAMINE_RTES_BEFORE);
  return expression_tree_walker(node, walker(reads_scoped_walker), context);
}

// Whether anything in this query (sub-queries, CTEs and sublinks included) reads a
// relation that has every scope column.
bool query_reads_scoped(Query* q, const Ctx* cx) {
  return reads_scoped_walker(reinterpret_cast<Node*>(q), const_cast<Ctx*>(cx));
}

CommonTableExpr* find_cte(Query* q, const char* name) {
  ListCell* lc;
  foreach (lc, q->cteList) {
    CommonTableExpr* cte = lfirst_node(CommonTableExpr, lc);
    if (strcmp(cte->ctename, name) == 0) return cte;
  }
  return nullptr;
}

Query* rte_query(Query* q, RangeTblEntry* rte) {
  if (rte->rtekind == RTE_SUBQUERY) return rte->subquery;
  if (rte->rtekind == RTE_CTE && rte->ctelevelsup == 0) {
    CommonTableExpr* cte = find_cte(q, rte->ctename);
    return cte ? reinterpret_cast<Query*>(cte->ctequery) : nullptr;
  }
  return nullptr;
}

bool rte_reads_scoped(Query* q, RangeTblEntry* rte, const Ctx* cx) {
  if (rte->rtekind == RTE_RELATION) return relation_has_scope(rte->relid, cx);
  if (rte->rtekind == RTE_CTE && rte->ctelevelsup > 0) return true;  // unknown: assume it does
  Query* sub = rte_query(q, rte);
  return sub && query_reads_scoped(sub, cx);
}

AttrNumber rte_column(RangeTblEntry* rte, const char* name) {
  if (rte->rtekind == RTE_RELATION) return get_attnum(rte->relid, name);
  int i = 0;
  ListCell* lc;
  foreach (lc, rte->eref->colnames) {
    ++i;
    if (strcmp(strVal(lfirst(lc)), name) == 0) return static_cast<AttrNumber>(i);
  }
  return InvalidAttrNumber;
}

const char* rte_name(RangeTblEntry* rte) {
  if (rte->rtekind == RTE_RELATION) {
    char* rel = get_rel_name(rte->relid);
    return rel ? rel : "a table";
  }
  return rte->eref && rte->eref->aliasname ? rte->eref->aliasname : "a subquery";
}

struct Equality {
  Index levelsup_a;
  int a;
  Index levelsup_b;
  int b;
};

// Top-level AND-ed "x = y" between two columns, in WHERE and JOIN ... ON at this level.
void collect_equalities(Query* q, Node* node, List** out) {
  if (node == nullptr) return;
  if (IsA(node, FromExpr)) {
    FromExpr* f = reinterpret_cast<FromExpr*>(node);
    ListCell* lc;
    foreach (lc, f->fromlist) collect_equalities(q, static_cast<Node*>(lfirst(lc)), out);
    collect_equalities(q, f->quals, out);
  } else if (IsA(node, JoinExpr)) {
    JoinExpr* j = reinterpret_cast<JoinExpr*>(node);
    collect_equalities(q, j->larg, out);
    collect_equalities(q, j->rarg, out);
    collect_equalities(q, j->quals, out);
  } else if (IsA(node, List)) {
    ListCell* lc;
    foreach (lc, reinterpret_cast<List*>(node)) collect_equalities(q, static_cast<Node*>(lfirst(lc)), out);
  } else if (IsA(node, BoolExpr) && reinterpret_cast<BoolExpr*>(node)->boolop == AND_EXPR) {
    collect_equalities(q, reinterpret_cast<Node*>(reinterpret_cast<BoolExpr*>(node)->args), out);
  } else if (IsA(node, OpExpr)) {
    OpExpr* op = reinterpret_cast<OpExpr*>(node);
    if (list_length(op->args) != 2) return;
    char* name = get_opname(op->opno);
    if (!name || strcmp(name, "=") != 0) return;
    Node* l = strip(static_cast<Node*>(linitial(op->args)));
    Node* r = strip(static_cast<Node*>(lsecond(op->args)));
    if (!l || !r || !IsA(l, Var) || !IsA(r, Var)) return;
    Var* lv = base_var(q, l);
    Var* rv = base_var(q, r);
    if (!lv || !rv) return;
    auto* e = static_cast<Equality*>(palloc(sizeof(Equality)));
    e->levelsup_a = lv->varlevelsup;
    e->a = key_of(lv->varno, lv->varattno);
    e->levelsup_b = rv->varlevelsup;
    e->b = key_of(rv->varno, rv->varattno);
    *out = lappend(*out, e);
  }
}

char* check_level(Query* q, List** linked, List** outer_linked, const Ctx* cx, const char* where);

// Whether the target entry is one of these GROUP BY / DISTINCT ON clauses.
bool in_clauses(List* clauses, TargetEntry* tle) {
  ListCell* lc;
  foreach (lc, clauses)
    if (tle->ressortgroupref != 0 && lfirst_node(SortGroupClause, lc)->tleSortGroupRef == tle->ressortgroupref)
      return true;
  return false;
}

// A query whose output carries the scope at columns `resnos`: its constructs must keep
// scopes apart, and every scoped source in it must be tied to those columns.
char* check_query(Query* q, const AttrNumber* resnos, const Ctx* cx, const char* where) {
  if (q->limitCount || q->limitOffset) return psprintf("LIMIT/OFFSET/FETCH in %s", where);
  if (q->setOperations) {
    // Each branch computes its own rows; rows of different scopes never meet (set
    // operations compare whole rows, scope columns included).
    ListCell* lc;
    foreach (lc, q->rtable) {
      RangeTblEntry* rte = static_cast<RangeTblEntry*>(lfirst(lc));
      if (rte->rtekind != RTE_SUBQUERY || rte->inFromCl) continue;
      char* r = check_query(rte->subquery, resnos, cx, psprintf("a branch of the set operation in %s", where));
      if (r) return r;
    }
    return nullptr;
  }
  if (q->groupingSets) return psprintf("GROUPING SETS / ROLLUP / CUBE in %s", where);
  if (q->hasRecursive) return psprintf("WITH RECURSIVE in %s", where);
  TargetEntry* tle[kMaxScope];
  for (int k = 0; k < cx->nscope; ++k) {
    tle[k] = get_tle_by_resno(q->targetList, resnos[k]);
    if (!tle[k] || tle[k]->resjunk)
      return psprintf("the scope column \"%s\" is not an output of %s", cx->names[k], where);
  }
  if (q->groupClause || q->hasAggs || q->havingQual)
    for (int k = 0; k < cx->nscope; ++k)
      if (!in_clauses(q->groupClause, tle[k]))
        return psprintf("an aggregate or GROUP BY that does not group by the scope column \"%s\" in %s", cx->names[k],
                        where);
  if (q->hasDistinctOn)
    for (int k = 0; k < cx->nscope; ++k)
      if (!in_clauses(q->distinctClause, tle[k]))
        return psprintf("DISTINCT ON without the scope column \"%s\" in %s", cx->names[k], where);
  if (q->hasWindowFuncs) {
    ListCell* wl;
    foreach (wl, q->windowClause) {
      WindowClause* wc = lfirst_node(WindowClause, wl);
      for (int k = 0; k < cx->nscope; ++k) {
        bool partitioned = false;
        ListCell* lc;
        foreach (lc, wc->partitionClause) {
          Node* e = get_sortgroupclause_expr(lfirst_node(SortGroupClause, lc), q->targetList);
          partitioned = partitioned || equal(strip(e), strip(reinterpret_cast<Node*>(tle[k]->expr)));
        }
        if (!partitioned)
          return psprintf("a window function whose PARTITION BY does not contain the scope column \"%s\" in %s",
                          cx->names[k], where);
      }
    }
  }
  // Where the scope columns come from: a column of one range table entry each.
  List* linked[kMaxScope];
  for (int k = 0; k < cx->nscope; ++k) {
    Var* v = base_var(q, reinterpret_cast<Node*>(tle[k]->expr));
    if (!v || v->varlevelsup != 0)
      return psprintf("the scope column \"%s\" is computed (not a column of a table or subquery) in %s", cx->names[k],
                      where);
    linked[k] = list_make1_int(key_of(v->varno, v->varattno));
  }
  return check_level(q, linked, nullptr, cx, where);
}

// Every range table entry of this level that reads a scoped source must be tied to the
// scope (its scope columns equal, through join/WHERE equalities, to the linked columns);
// its own query is checked with those columns as its scope; sublinks must be correlated
// on the scope. outer_linked: the linked columns one level up (for sublinks).
char* check_level(Query* q, List** linked, List** outer_linked, const Ctx* cx, const char* where) {
  List* eqs = NIL;
  collect_equalities(q, reinterpret_cast<Node*>(q->jointree), &eqs);
  for (int k = 0; k < cx->nscope; ++k) {
    ListCell* lc;
    // Correlation: an equality with a linked column of the level above links this side.
    if (outer_linked)
      foreach (lc, eqs) {
        auto* e = static_cast<Equality*>(lfirst(lc));
        if (e->levelsup_a == 1 && e->levelsup_b == 0 && list_member_int(outer_linked[k], e->a))
          linked[k] = list_append_unique_int(linked[k], e->b);
        if (e->levelsup_b == 1 && e->levelsup_a == 0 && list_member_int(outer_linked[k], e->b))
          linked[k] = list_append_unique_int(linked[k], e->a);
      }
    for (bool grew = true; grew;) {
      grew = false;
      foreach (lc, eqs) {
        auto* e = static_cast<Equality*>(lfirst(lc));
        if (e->levelsup_a != 0 || e->levelsup_b != 0) continue;
        const bool a = list_member_int(linked[k], e->a), b = list_member_int(linked[k], e->b);
        if (a && !b) linked[k] = lappend_int(linked[k], e->b), grew = true;
        if (b && !a) linked[k] = lappend_int(linked[k], e->a), grew = true;
      }
    }
  }
  Index rti = 0;
  ListCell* lc;
  foreach (lc, q->rtable) {
    ++rti;
    RangeTblEntry* rte = static_cast<RangeTblEntry*>(lfirst(lc));
    if (rte->rtekind == RTE_JOIN || !rte->inFromCl) continue;
    if (!rte_reads_scoped(q, rte, cx)) continue;
    // A LATERAL subquery may instead be correlated on the scope (WHERE m.patient_id =
    // pt.patient_id inside it): then it is checked like a subquery expression.
    if (rte->lateral && rte->rtekind == RTE_SUBQUERY) {
      bool tied = true;
      for (int k = 0; k < cx->nscope; ++k) {
        const AttrNumber a = rte_column(rte, cx->names[k]);
        tied = tied && a != InvalidAttrNumber && list_member_int(linked[k], key_of(rti, a));
      }
      if (!tied) {
        List* inner[kMaxScope];
        for (int k = 0; k < cx->nscope; ++k) inner[k] = NIL;
        char* r = check_level(rte->subquery, inner, linked, cx, psprintf("LATERAL %s", rte_name(rte)));
        if (r) return psprintf("%s (a LATERAL subquery must be joined or correlated on the scope)", r);
        continue;
      }
    }
    AttrNumber attnos[kMaxScope];
    for (int k = 0; k < cx->nscope; ++k) {
      attnos[k] = rte_column(rte, cx->names[k]);
      if (attnos[k] == InvalidAttrNumber)
        return psprintf("%s reads a source with the scope but has no column \"%s\" to tie it to the scope, in %s",
                        rte_name(rte), cx->names[k], where);
      if (!list_member_int(linked[k], key_of(rti, attnos[k])))
        return psprintf(
            "%s is read without being joined on the scope column \"%s\" (every scope would see all of "
            "its rows), in %s",
            rte_name(rte), cx->names[k], where);
    }
    if (rte->rtekind == RTE_CTE && rte->ctelevelsup > 0)
      return psprintf("a CTE of an outer query level (%s) in %s", rte_name(rte), where);
    Query* sub = rte_query(q, rte);
    if (sub) {
      char* r = check_query(sub, attnos, cx, psprintf("%s", rte_name(rte)));
      if (r) return r;
    }
  }
  // Sublinks (WHERE x IN (SELECT ...), scalar subqueries in the SELECT list, EXISTS, ...).
  List* sublinks = NIL;
  struct Finder {
    static bool walk(Node* node, void* ctx) {
      if (node == nullptr) return false;
      if (IsA(node, SubLink)) {
        *static_cast<List**>(ctx) = lappend(*static_cast<List**>(ctx), node);
        return false;  // its subselect is checked as a level of its own
      }
      if (IsA(node, Query)) return false;
      return expression_tree_walker(node, walker(walk), ctx);
    }
  };
  Finder::walk(reinterpret_cast<Node*>(q->targetList), &sublinks);
  Finder::walk(reinterpret_cast<Node*>(q->jointree), &sublinks);
  Finder::walk(q->havingQual, &sublinks);
  foreach (lc, sublinks) {
    Query* sub = reinterpret_cast<Query*>(lfirst_node(SubLink, lc)->subselect);
    if (!query_reads_scoped(sub, cx)) continue;
    if (sub->setOperations) return psprintf("a set operation inside a subquery expression in %s", where);
    List* inner[kMaxScope];
    for (int k = 0; k < cx->nscope; ++k) inner[k] = NIL;
    char* r = check_level(sub, inner, linked, cx, psprintf("a subquery expression in %s", where));
    if (r) return psprintf("%s (a subquery expression must be correlated on the scope)", r);
  }
  return nullptr;
}

}  // namespace

namespace incview::pg {

std::optional<std::string> independence_problem(const std::string& query, const std::vector<std::string>& scope) {
  if (scope.empty() || scope.size() > static_cast<size_t>(kMaxScope)) return std::string("unsupported scope");
  std::vector<const char*> names;
  for (const auto& s : scope) names.push_back(s.c_str());
  const char* text = query.c_str();
  char* reason = nullptr;
  pg_call([&] {
    List* raw = pg_parse_query(text);
    List* queries = pg_analyze_and_rewrite_fixedparams(linitial_node(RawStmt, raw), text, nullptr, 0, nullptr);
    Query* q = linitial_node(Query, queries);
    Ctx cx{static_cast<int>(names.size()), names.data()};
    if (contain_volatile_functions(reinterpret_cast<Node*>(q))) {
      reason = pstrdup("a volatile function (its value differs between a refresh and a rebuild)");
      return;
    }
    AttrNumber resnos[kMaxScope];
    for (int k = 0; k < cx.nscope; ++k) {
      resnos[k] = InvalidAttrNumber;
      ListCell* lc;
      foreach (lc, q->targetList) {
        TargetEntry* t = lfirst_node(TargetEntry, lc);
        if (!t->resjunk && t->resname && strcmp(t->resname, names[k]) == 0 && resnos[k] == InvalidAttrNumber)
          resnos[k] = t->resno;
      }
      if (resnos[k] == InvalidAttrNumber) {
        reason = psprintf("the scope column \"%s\" is not an output column", names[k]);
        return;
      }
    }
    reason = check_query(q, resnos, &cx, "the stage query");
  });
  if (!reason) return std::nullopt;
  return std::string(reason);
}

}  // namespace incview::pg
