#include "pg/query/stage_inputs.hpp"

#include <algorithm>

#include "pg/citus/citus.hpp"
#include "pg/support/guard.hpp"
#include "pg/support/subxact.hpp"

extern "C" {
#include "access/htup_details.h"
#include "access/transam.h"
#include "catalog/pg_language.h"
#include "catalog/pg_proc.h"
#include "executor/functions.h"
#include "nodes/nodeFuncs.h"
#include "utils/regproc.h"
#include "utils/syscache.h"
}

namespace {

// What one walk over a query tree collects (PostgreSQL lists, palloc'd).
struct Found {
  List* relations;  // OIDs of every RTE_RELATION, any level
  List* functions;  // OIDs of every function called (operators by their functions)
  List* sql_time;   // names of time-dependent SQL value functions (CURRENT_TIMESTAMP...)
};

using Walker = bool (*)();
template <typename F>
Walker walker(F f) {
  return reinterpret_cast<Walker>(reinterpret_cast<void (*)()>(f));
}

const char* svf_name(SQLValueFunctionOp op) {
  switch (op) {
    case SVFOP_CURRENT_DATE: return "CURRENT_DATE";
    case SVFOP_CURRENT_TIME:
    case SVFOP_CURRENT_TIME_N: return "CURRENT_TIME";
    case SVFOP_CURRENT_TIMESTAMP:
    case SVFOP_CURRENT_TIMESTAMP_N: return "CURRENT_TIMESTAMP";
    case SVFOP_LOCALTIME:
    case SVFOP_LOCALTIME_N: return "LOCALTIME";
    case SVFOP_LOCALTIMESTAMP:
    case SVFOP_LOCALTIMESTAMP_N: return "LOCALTIMESTAMP";
    default: return nullptr;  // CURRENT_USER and friends do not change between refreshes
  }
}

bool collect(Node* node, void* context) {
  Found* f = static_cast<Found*>(context);
  if (node == nullptr) return false;
  if (IsA(node, RangeTblEntry)) {
    RangeTblEntry* rte = reinterpret_cast<RangeTblEntry*>(node);
    if (rte->rtekind == RTE_RELATION) f->relations = list_append_unique_oid(f->relations, rte->relid);
    return false;
  }
  if (IsA(node, Query))
    return query_tree_walker(reinterpret_cast<Query*>(node), walker(collect), context, QTW_EXAMINE_RTES_BEFORE);
  if (IsA(node, FuncExpr))
    f->functions = list_append_unique_oid(f->functions, reinterpret_cast<FuncExpr*>(node)->funcid);
  if (IsA(node, OpExpr) || IsA(node, DistinctExpr) || IsA(node, NullIfExpr)) {
    OpExpr* op = reinterpret_cast<OpExpr*>(node);
    set_opfuncid(op);
    f->functions = list_append_unique_oid(f->functions, op->opfuncid);
  }
  if (IsA(node, ScalarArrayOpExpr)) {
    ScalarArrayOpExpr* op = reinterpret_cast<ScalarArrayOpExpr*>(node);
    set_sa_opfuncid(op);
    f->functions = list_append_unique_oid(f->functions, op->opfuncid);
  }
  if (IsA(node, WindowFunc))
    f->functions = list_append_unique_oid(f->functions, reinterpret_cast<WindowFunc*>(node)->winfnoid);
  if (IsA(node, SQLValueFunction)) {
    const char* name = svf_name(reinterpret_cast<SQLValueFunction*>(node)->op);
    if (name) f->sql_time = lappend(f->sql_time, const_cast<char*>(name));
  }
  return expression_tree_walker(node, walker(collect), context);
}

// Built-in functions whose results depend on when they run (besides the volatile ones).
bool time_dependent_builtin(const char* name) {
  static const char* const kNames[] = {
      "now", "transaction_timestamp", "statement_timestamp", "clock_timestamp", "timeofday", "random", "random_normal"};
  for (const char* n : kNames)
    if (strcmp(name, n) == 0) return true;
  return false;
}

}  // namespace

namespace incview::pg {

namespace {

struct Proc {
  bool builtin = false;
  char volatility = 'v';
  Oid language = InvalidOid;
  std::string name;       // bare name
  std::string signature;  // "f(integer)"
};

Proc proc_info(Oid fn) {
  Proc p;
  char* name = nullptr;
  char* sig = nullptr;
  pg_call([&] {
    HeapTuple tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn));
    if (!HeapTupleIsValid(tup)) return;
    Form_pg_proc form = reinterpret_cast<Form_pg_proc>(GETSTRUCT(tup));
    p.volatility = form->provolatile;
    p.language = form->prolang;
    name = pstrdup(NameStr(form->proname));
    ReleaseSysCache(tup);
    sig = format_procedure(fn);
  });
  p.builtin = fn < FirstNormalObjectId;
  p.name = name ? name : "?";
  p.signature = sig ? sig : p.name;
  return p;
}

// The relations a user SQL function's body reads (parsed as PostgreSQL runs it).
List* sql_function_relations(Oid fn) {
  List* rels = NIL;
  pg_call([&] {
    HeapTuple tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn));
    if (!HeapTupleIsValid(tup)) elog(ERROR, "cache lookup failed for function %u", fn);
    Found f{NIL, NIL, NIL};
    bool isnull = false;
    Datum body = SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_prosqlbody, &isnull);
    if (!isnull) {  // BEGIN ATOMIC: stored parsed
      Node* n = static_cast<Node*>(stringToNode(TextDatumGetCString(body)));
      (void)collect(n, &f);
    } else {
      Datum src = SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_prosrc, &isnull);
      char* body_text = TextDatumGetCString(src);
      SQLFunctionParseInfoPtr pinfo = prepare_sql_fn_parse_info(tup, nullptr, InvalidOid);
      ListCell* lc;
      foreach (lc, pg_parse_query(body_text)) {
        List* qs =
            pg_analyze_and_rewrite_withcb(lfirst_node(RawStmt, lc), body_text,
                                          reinterpret_cast<ParserSetupHook>(sql_fn_parser_setup), pinfo, nullptr);
        ListCell* qc;
        foreach (qc, qs) (void)collect(static_cast<Node*>(lfirst(qc)), &f);
      }
    }
    ReleaseSysCache(tup);
    rels = f.relations;
  });
  return rels;
}

char relkind_of(Oid rel) {
  char k = 0;
  pg_call([&] { k = get_rel_relkind(rel); });
  return k;
}

std::string relation_name(Oid rel) {
  char* n = nullptr;
  pg_call([&] { n = get_rel_name(rel); });
  return n ? n : std::to_string(rel);
}

void add_unique(std::vector<Oid>& v, Oid o) {
  if (std::find(v.begin(), v.end(), o) == v.end()) v.push_back(o);
}

void add_unique(std::vector<std::string>& v, const std::string& s) {
  if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
}

}  // namespace

StageInputs stage_inputs(const std::string& query, const std::vector<Oid>& planned) {
  StageInputs out;
  Found found{NIL, NIL, NIL};
  const char* qtext = query.c_str();
  pg_call([&] {
    List* raw = pg_parse_query(qtext);
    List* qs = pg_analyze_and_rewrite_fixedparams(linitial_node(RawStmt, raw), qtext, nullptr, 0, nullptr);
    (void)collect(static_cast<Node*>(linitial(qs)), &found);
  });
  // Relations of the query itself.
  const bool citus = citus_present();
  ListCell* lc;
  foreach (lc, found.relations) {
    const Oid rel = lfirst_oid(lc);
    const char kind = relkind_of(rel);
    if (kind == RELKIND_FOREIGN_TABLE || kind == RELKIND_MATVIEW) {
      add_unique(out.polled, rel);
    } else if (kind == RELKIND_RELATION || kind == RELKIND_PARTITIONED_TABLE) {
      add_unique(out.tables, rel);
      if (citus && is_citus_table(rel))
        add_unique(out.citus, rel);
      else if (std::find(planned.begin(), planned.end(), rel) == planned.end())
        add_unique(out.uncapturable, relation_name(rel));
    }
  }
  foreach (lc, found.sql_time) add_unique(out.time_functions, static_cast<const char*>(lfirst(lc)));
  // Functions.
  foreach (lc, found.functions) {
    const Oid fn = lfirst_oid(lc);
    const Proc p = proc_info(fn);
    if (p.builtin) {
      if (p.volatility == PROVOLATILE_VOLATILE || time_dependent_builtin(p.name.c_str()))
        add_unique(out.time_functions, p.name + "()");
      continue;
    }
    if (p.volatility == PROVOLATILE_IMMUTABLE) continue;  // declared not to read tables
    if (p.language == SQLlanguageId) {
      List* rels = NIL;
      auto error = in_subtransaction([&] { rels = sql_function_relations(fn); });
      if (!error) {
        ListCell* rc;
        foreach (rc, rels) {
          const Oid rel = lfirst_oid(rc);
          const char kind = relkind_of(rel);
          if (kind == RELKIND_FOREIGN_TABLE || kind == RELKIND_MATVIEW)
            add_unique(out.polled, rel);
          else if (kind == RELKIND_RELATION || kind == RELKIND_PARTITIONED_TABLE)
            add_unique(out.function_tables, rel);
        }
        continue;
      }
    }
    add_unique(out.opaque_functions, p.signature);
  }
  return out;
}

}  // namespace incview::pg
