#include "pg/query/delta_query.hpp"

#include "pg/support/guard.hpp"

extern "C" {
#include "catalog/pg_aggregate.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_inherits.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "utils/ruleutils.h"
}

// Plain C over the tree inside one pg_call: palloc'd strings only, copied out afterwards.
namespace {

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
};

void problem(RawDescription* d, char* text) {
  if (d->nproblems < kMaxProblems) d->problems[d->nproblems++] = text;
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
  ListCell* lc;
  foreach (lc, q->rtable) {
    RangeTblEntry* rte = lfirst_node(RangeTblEntry, lc);
    if (rte->rtekind == RTE_RELATION) {
      ++d->relations;
      relid = rte->relid;
      if (rte->relkind != RELKIND_RELATION)
        problem(d,
                psprintf(
                    "it reads %s, which is not a plain table (views, partitioned and foreign tables are not supported)",
                    get_rel_name(rte->relid)));
      else if (rte->inh && has_subclass(rte->relid))
        problem(d, psprintf("table %s has inheritance children", get_rel_name(rte->relid)));
      if (rte->securityQuals)
        problem(d, psprintf("row-level security applies to %s for the stage owner", get_rel_name(rte->relid)));
    } else if (rte->rtekind == RTE_SUBQUERY) {
      ++d->relations;
      problem(d, pstrdup("it reads a subquery or a view in FROM"));
    } else if (rte->rtekind != RTE_JOIN) {
      ++d->relations;
      problem(d, pstrdup("it reads a function, VALUES or a CTE in FROM"));
    }
  }
  if (d->relations != 1 || !OidIsValid(relid)) return;
  d->source = psprintf("%s.%s", quote_identifier(get_namespace_name(get_rel_namespace(relid))),
                       quote_identifier(get_rel_name(relid)));
  List* ctx = deparse_context_for(get_rel_name(relid), relid);
  auto text = [&](Node* n) { return deparse_expression(n, ctx, false, false); };
  d->has_group_by = q->groupClause != NIL;
  if (q->jointree && q->jointree->quals) d->where = text(q->jointree->quals);
  if (q->havingQual) d->having = text(q->havingQual);
  d->ngroup = list_length(q->groupClause);
  d->group_by = static_cast<char**>(palloc0(sizeof(char*) * (d->ngroup + 1)));
  int g = 0;
  foreach (lc, q->groupClause) {
    SortGroupClause* sgc = lfirst_node(SortGroupClause, lc);
    d->group_by[g++] = text(reinterpret_cast<Node*>(get_sortgroupclause_expr(sgc, q->targetList)));
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
    List* parsed = pg_parse_query(sql);
    if (list_length(parsed) != 1) elog(ERROR, "pg_incview: the stage query must be one statement");
    List* queries = pg_analyze_and_rewrite_fixedparams(linitial_node(RawStmt, parsed), sql, nullptr, 0, nullptr);
    if (list_length(queries) != 1) elog(ERROR, "pg_incview: the stage query rewrites to several statements");
    describe(linitial_node(Query, queries), raw);
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
  return d;
}

DeltaPlan delta_plan_for(const std::string& query) { return DeltaPlan::qualify(describe_for_delta(query)); }

}  // namespace incview::pg
