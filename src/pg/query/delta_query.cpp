#include "pg/query/delta_query.hpp"

#include "pg/query/delta_maps.hpp"

#include "core/sql_text.hpp"
#include "pg/support/guard.hpp"

extern "C" {
#include "catalog/pg_aggregate.h"
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_inherits.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "nodes/makefuncs.h"
#include "parser/parsetree.h"
#include "utils/ruleutils.h"
}

// Plain C over the tree inside one pg_call: palloc'd strings only, copied out afterwards.
namespace {

using incview::pg::analyze_stage_query;
using incview::pg::copy_node;
using incview::pg::delta_map_query;
using incview::pg::deparse_qualified;
using incview::pg::read_from_transition;
using incview::pg::union_all_leaves;

constexpr int kMaxProblems = 8;

struct RawOutput {
  char* name;
  char* text;
  char* type;
  bool group_key, aggregate, builtin, star, distinct, filter, ordered;
  char* function;
  char* arg;
  char* arg_type;
  bool arg_fixed_scale;
};

struct RawDescription {
  int nproblems;
  char* problems[kMaxProblems];
  int relations;
  char* source;
  bool has_group_by;
  char* where;
  char* having;
  int ngroup;
  char** group_by;
  int nout;
  RawOutput* outs;
  bool multi, join;
  int nsources;
  char** sources;  // every relation read, quoted
  int nmaps;
  char** map_source;
  char** map_new;
  char** map_old;
};

void problem(RawDescription* d, char* text) {
  if (d->nproblems < kMaxProblems) d->problems[d->nproblems++] = text;
}

char* relation_name(Oid relid) {
  return psprintf("%s.%s", quote_identifier(get_namespace_name(get_rel_namespace(relid))),
                  quote_identifier(get_rel_name(relid)));
}

// A relation the engine can capture and re-derive: a plain table without inheritance
// children, without row-level security for the stage owner.
void check_relation(RawDescription* d, RangeTblEntry* rte) {
  if (rte->relkind != RELKIND_RELATION)
    problem(d, psprintf("it reads %s, which is not a plain table (views, partitioned and foreign tables are not supported)",
                        get_rel_name(rte->relid)));
  else if (rte->inh && has_subclass(rte->relid))
    problem(d, psprintf("table %s has inheritance children", get_rel_name(rte->relid)));
  if (rte->securityQuals)
    problem(d, psprintf("row-level security applies to %s for the stage owner", get_rel_name(rte->relid)));
}

// A UNION ALL branch the engine maps on its own: SELECT <expressions> FROM one table [WHERE].
void check_branch(RawDescription* d, Query* leaf) {
  if (leaf->setOperations || leaf->hasAggs || leaf->groupClause || leaf->havingQual || leaf->distinctClause ||
      leaf->hasWindowFuncs || leaf->hasTargetSRFs || leaf->cteList || leaf->limitCount || leaf->limitOffset)
    problem(d, pstrdup("a UNION ALL branch is not a plain SELECT from one table (it aggregates, uses DISTINCT, "
                       "WITH, LIMIT, a window or set-returning function, or another set operation)"));
  if (leaf->hasSubLinks) problem(d, pstrdup("a UNION ALL branch uses a subquery expression"));
  int relations = 0;
  ListCell* lc;
  foreach (lc, leaf->rtable) {
    RangeTblEntry* rte = lfirst_node(RangeTblEntry, lc);
    if (rte->rtekind == RTE_RELATION) {
      ++relations;
      check_relation(d, rte);
    } else {
      ++relations;
      problem(d, pstrdup("a UNION ALL branch reads something other than one table (a join, subquery, view or function)"));
    }
  }
  if (relations != 1) problem(d, pstrdup("a UNION ALL branch reads more than one relation"));
}

void add_map(RawDescription* d, Oid relid, Query* with_new, Query* with_old) {
  d->map_source[d->nmaps] = relation_name(relid);
  d->map_new[d->nmaps] = deparse_qualified(with_new);
  d->map_old[d->nmaps] = deparse_qualified(with_old);
  ++d->nmaps;
}

// Several relations: a UNION ALL subquery of single-table branches, or inner joins of
// distinct tables. One map per occurrence of a table.
void describe_multi(Query* q, RawDescription* d, int relations, int subqueries) {
  ListCell* lc;
  // Every GROUP BY expression must be an output column (the engine finds groups by key).
  foreach (lc, q->groupClause) {
    SortGroupClause* sgc = lfirst_node(SortGroupClause, lc);
    bool found = false;
    ListCell* t;
    foreach (t, q->targetList) {
      TargetEntry* te = lfirst_node(TargetEntry, t);
      if (!te->resjunk && te->ressortgroupref == sgc->tleSortGroupRef) found = true;
    }
    if (!found)
      problem(d, pstrdup("a GROUP BY expression is not an output column (the engine finds each group by its key)"));
  }
  const int n = list_length(q->rtable);
  d->sources = static_cast<char**>(palloc0(sizeof(char*) * (n + 64)));
  d->map_source = static_cast<char**>(palloc0(sizeof(char*) * (n + 64)));
  d->map_new = static_cast<char**>(palloc0(sizeof(char*) * (n + 64)));
  d->map_old = static_cast<char**>(palloc0(sizeof(char*) * (n + 64)));
  if (subqueries > 0) {
    if (subqueries != 1 || relations != 0 || n != 1) {
      problem(d, pstrdup("it reads a subquery or a view in FROM next to other relations (a UNION ALL subquery must "
                         "be the only relation)"));
      return;
    }
    RangeTblEntry* s = linitial_node(RangeTblEntry, q->rtable);
    Query* u = s->subquery;
    List* leaves = NIL;
    if (u->setOperations == nullptr || !union_all_leaves(u->setOperations, &leaves)) {
      problem(d, pstrdup("it reads a subquery or a view in FROM that is not a UNION ALL of single-table branches "
                         "(UNION without ALL, INTERSECT, EXCEPT or another query)"));
      return;
    }
    if (list_length(u->rtable) != list_length(leaves) || u->hasSubLinks || u->cteList || u->limitCount ||
        u->limitOffset) {
      problem(d, pstrdup("it reads a view or a UNION ALL with more than its branches (WITH, LIMIT, a subquery)"));
      return;
    }
    if (list_length(leaves) + 1 >= 64) {
      problem(d, pstrdup("its UNION ALL has more than 62 branches"));
      return;
    }
    foreach (lc, leaves) check_branch(d, rt_fetch(lfirst_node(RangeTblRef, lc)->rtindex, u->rtable)->subquery);
    if (d->nproblems > 0) return;
    d->multi = true;
    Query* m = delta_map_query(q);
    foreach (lc, leaves) {
      Query* leaf = rt_fetch(lfirst_node(RangeTblRef, lc)->rtindex, u->rtable)->subquery;
      const Oid relid = linitial_node(RangeTblEntry, leaf->rtable)->relid;
      Query* maps[2];
      const char* names[2] = {"incview_new", "incview_old"};
      for (int k = 0; k < 2; ++k) {
        maps[k] = copy_node(m);
        RangeTblEntry* ms = linitial_node(RangeTblEntry, maps[k]->rtable);
        // The branch alone under the subquery's name and column names (the outer query
        // reads the columns by the names of the first branch).
        ms->subquery = copy_node(leaf);
        ms->alias = makeAlias(s->alias ? s->alias->aliasname : s->eref->aliasname, copy_node(s->eref->colnames));
        read_from_transition(linitial_node(RangeTblEntry, ms->subquery->rtable), names[k]);
      }
      add_map(d, relid, maps[0], maps[1]);
      bool seen = false;
      for (int i = 0; i < d->nsources; ++i) seen = seen || strcmp(d->sources[i], d->map_source[d->nmaps - 1]) == 0;
      if (!seen) d->sources[d->nsources++] = d->map_source[d->nmaps - 1];
    }
    return;
  }
  // Inner joins: each table once (a self-join's delta would need both sides' changes).
  List* seen = NIL;
  foreach (lc, q->rtable) {
    RangeTblEntry* rte = lfirst_node(RangeTblEntry, lc);
    if (rte->rtekind != RTE_RELATION) continue;
    if (list_member_oid(seen, rte->relid)) {
      problem(d, psprintf("it reads table %s twice (a self-join)", get_rel_name(rte->relid)));
      return;
    }
    seen = lappend_oid(seen, rte->relid);
  }
  if (d->nproblems > 0) return;
  d->multi = true;
  d->join = true;
  Query* m = delta_map_query(q);
  int index = 0;
  foreach (lc, q->rtable) {
    ++index;
    RangeTblEntry* rte = lfirst_node(RangeTblEntry, lc);
    if (rte->rtekind != RTE_RELATION) continue;
    Query* with_new = copy_node(m);
    Query* with_old = copy_node(m);
    read_from_transition(rt_fetch(index, with_new->rtable), "incview_new");
    read_from_transition(rt_fetch(index, with_old->rtable), "incview_old");
    add_map(d, rte->relid, with_new, with_old);
    d->sources[d->nsources++] = d->map_source[d->nmaps - 1];
  }
}

void describe(Query* q, RawDescription* d) {
  if (q->setOperations) problem(d, pstrdup("it is a set operation (UNION, INTERSECT or EXCEPT)"));
  if (q->cteList) problem(d, pstrdup("it uses WITH"));
  if (q->hasWindowFuncs) problem(d, pstrdup("it uses a window function"));
  if (q->distinctClause) problem(d, pstrdup("it uses DISTINCT"));
  if (q->limitCount || q->limitOffset) problem(d, pstrdup("it uses LIMIT or OFFSET"));
  if (q->hasSubLinks) problem(d, pstrdup("it uses a subquery expression"));
  if (q->hasTargetSRFs) problem(d, pstrdup("it uses a set-returning function in its output"));
  if (q->groupingSets) problem(d, pstrdup("it uses GROUPING SETS, ROLLUP or CUBE"));
  // A function that is not IMMUTABLE would be evaluated when a row is written (capture)
  // and again when a group is re-derived: the two would disagree (now(), random()).
  if (contain_mutable_functions(reinterpret_cast<Node*>(q)))
    problem(d, pstrdup("it calls a function that is not IMMUTABLE (now(), random(), a STABLE cast...)"));
  Oid relid = InvalidOid;
  int relations = 0, subqueries = 0;
  ListCell* lc;
  foreach (lc, q->rtable) {
    RangeTblEntry* rte = lfirst_node(RangeTblEntry, lc);
    if (rte->lateral) problem(d, pstrdup("it uses LATERAL"));
    if (rte->rtekind == RTE_RELATION) {
      ++relations;
      relid = rte->relid;
      check_relation(d, rte);
    } else if (rte->rtekind == RTE_SUBQUERY) {
      ++subqueries;
    } else if (rte->rtekind == RTE_JOIN) {
      if (rte->jointype != JOIN_INNER)
        problem(d, psprintf("it uses a %s JOIN (only inner joins)",
                            rte->jointype == JOIN_LEFT    ? "LEFT"
                            : rte->jointype == JOIN_RIGHT ? "RIGHT"
                            : rte->jointype == JOIN_FULL  ? "FULL"
                                                          : "non-inner"));
    } else {
      ++d->relations;
      problem(d, pstrdup("it reads a function, VALUES or a CTE in FROM"));
    }
  }
  d->relations += relations + subqueries;
  d->has_group_by = q->groupClause != NIL;
  if (d->nproblems == 0 && (relations != 1 || subqueries != 0)) describe_multi(q, d, relations, subqueries);
  if (d->relations != 1 || !OidIsValid(relid) || d->multi || d->nproblems > 0) {
    if (!d->multi) return;
  } else {
    d->source = relation_name(relid);
    d->sources = static_cast<char**>(palloc0(sizeof(char*)));
    d->sources[d->nsources++] = d->source;
  }
  List* ctx = d->multi ? NIL : deparse_context_for(get_rel_name(relid), relid);
  auto text = [&](Node* n) -> char* { return d->multi ? nullptr : deparse_expression(n, ctx, false, false); };
  if (!d->multi) {
    if (q->jointree && q->jointree->quals) d->where = text(q->jointree->quals);
    if (q->havingQual) d->having = text(q->havingQual);
    d->ngroup = list_length(q->groupClause);
    d->group_by = static_cast<char**>(palloc0(sizeof(char*) * (d->ngroup + 1)));
    int g = 0;
    foreach (lc, q->groupClause) {
      SortGroupClause* sgc = lfirst_node(SortGroupClause, lc);
      d->group_by[g++] = text(reinterpret_cast<Node*>(get_sortgroupclause_expr(sgc, q->targetList)));
    }
  } else if (q->havingQual) {
    d->having = pstrdup("(in the table query)");
  }
  d->outs = static_cast<RawOutput*>(palloc0(sizeof(RawOutput) * (list_length(q->targetList) + 1)));
  foreach (lc, q->targetList) {
    TargetEntry* te = lfirst_node(TargetEntry, lc);
    if (te->resjunk) continue;
    RawOutput* o = &d->outs[d->nout++];
    Node* expr = reinterpret_cast<Node*>(te->expr);
    o->name = pstrdup(te->resname ? te->resname : "?column?");
    o->text = text(expr);
    o->type = format_type_with_typemod(exprType(expr), exprTypmod(expr));
    o->group_key = te->ressortgroupref != 0 && get_sortgroupref_clause_noerr(te->ressortgroupref, q->groupClause);
    if (!IsA(expr, Aggref)) continue;
    Aggref* a = reinterpret_cast<Aggref*>(expr);
    o->aggregate = true;
    o->function = get_func_name(a->aggfnoid);
    o->builtin = a->aggfnoid < FirstNormalObjectId && get_func_namespace(a->aggfnoid) == PG_CATALOG_NAMESPACE;
    o->star = a->aggstar;
    o->distinct = a->aggdistinct != NIL;
    o->filter = a->aggfilter != nullptr;
    o->ordered = a->aggorder != NIL || a->aggkind != AGGKIND_NORMAL || a->aggdirectargs != NIL;
    if (!a->aggstar && list_length(a->args) == 1) {
      TargetEntry* arg = linitial_node(TargetEntry, a->args);
      o->arg = text(reinterpret_cast<Node*>(arg->expr));
      o->arg_type = format_type_be(getBaseType(linitial_oid(a->aggargtypes)));
      o->arg_fixed_scale = exprTypmod(reinterpret_cast<Node*>(arg->expr)) >= 0;
    } else if (!a->aggstar) {
      problem(d, psprintf("output column \"%s\" calls an aggregate with %d arguments", o->name, list_length(a->args)));
    }
  }
}

std::string str(const char* s) { return s ? std::string(s) : std::string(); }


}  // namespace

namespace incview::pg {

DeltaQueryDescription describe_for_delta(const std::string& query) {
  const char* sql = query.c_str();
  RawDescription* raw = nullptr;
  pg_call([&] {
    raw = static_cast<RawDescription*>(palloc0(sizeof(RawDescription)));
    describe(analyze_stage_query(sql), raw);
  });
  DeltaQueryDescription d;
  for (int i = 0; i < raw->nproblems; ++i) d.problems.push_back(raw->problems[i]);
  d.relations = raw->relations;
  d.source = str(raw->source);
  d.has_group_by = raw->has_group_by;
  d.where = str(raw->where);
  d.having = str(raw->having);
  for (int i = 0; i < raw->ngroup; ++i) d.group_by.push_back(str(raw->group_by[i]));
  for (int i = 0; i < raw->nout; ++i) {
    const RawOutput& r = raw->outs[i];
    DeltaOutput o;
    o.name = str(r.name);
    o.text = str(r.text);
    o.type = str(r.type);
    o.group_key = r.group_key;
    o.aggregate = r.aggregate;
    o.function = str(r.function);
    o.builtin = r.builtin;
    o.star = r.star;
    o.arg = str(r.arg);
    o.arg_type = str(r.arg_type);
    o.arg_fixed_scale = r.arg_fixed_scale;
    o.distinct = r.distinct;
    o.filter = r.filter;
    o.ordered = r.ordered;
    d.outputs.push_back(std::move(o));
  }
  d.multi = raw->multi;
  d.join = raw->join;
  for (int i = 0; i < raw->nsources; ++i) d.sources.push_back(str(raw->sources[i]));
  for (int i = 0; i < raw->nmaps; ++i)
    d.maps.push_back(DeltaMap{str(raw->map_source[i]), str(raw->map_new[i]), str(raw->map_old[i])});
  return d;
}

DeltaPlan delta_plan_for(const std::string& query) {
  DeltaPlan plan = DeltaPlan::qualify(describe_for_delta(query));
  if (plan.multi()) plan.set_table_query(multi_table_query(query, plan.hidden_aggregates()));
  return plan;
}

}  // namespace incview::pg
