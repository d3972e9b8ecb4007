#include "pg/query/query_check.hpp"

#include <algorithm>

#include "core/error.hpp"
#include "pg/support/guard.hpp"

extern "C" {
#include "nodes/pg_list.h"
#include "optimizer/optimizer.h"
#include "tcop/utility.h"
#include "utils/lsyscache.h"
}

namespace incview::pg {

namespace {

const char* statement_kind(Node* stmt) {
  const char* tag = nullptr;
  pg_call([&] { tag = GetCommandTagName(CreateCommandTag(stmt)); });
  return tag ? tag : "unknown";
}

}  // namespace

CheckedQuery check_stage_query(const std::string& query) {
  List* raw = nullptr;
  const char* text = query.c_str();
  pg_call([&] { raw = pg_parse_query(text); });
  int count = 0;
  pg_call([&] { count = list_length(raw); });
  if (count != 1)
    throw Error(sqlstate::kInvalidParameterValue, "a stage query must be exactly one SELECT statement",
                "found " + std::to_string(count) + " statements");
  RawStmt* rs = nullptr;
  pg_call([&] { rs = linitial_node(RawStmt, raw); });
  if (!IsA(rs->stmt, SelectStmt))
    throw Error(sqlstate::kInvalidParameterValue, "a stage query must be a SELECT statement",
                std::string("found ") + statement_kind(rs->stmt));
  auto* sel = reinterpret_cast<SelectStmt*>(rs->stmt);
  if (sel->intoClause) throw Error(sqlstate::kInvalidParameterValue, "a stage query cannot use SELECT INTO");
  if (sel->lockingClause)
    throw Error(sqlstate::kInvalidParameterValue, "a stage query cannot lock rows (FOR UPDATE/SHARE)");

  CheckedQuery out;
  const size_t start = rs->stmt_location > 0 ? static_cast<size_t>(rs->stmt_location) : 0;
  const size_t len = rs->stmt_len > 0 ? static_cast<size_t>(rs->stmt_len) : query.size() - start;
  out.text = query.substr(start, len);
  while (!out.text.empty() && (isspace(static_cast<unsigned char>(out.text.back())) || out.text.back() == ';'))
    out.text.pop_back();

  // Analyze and plan once: raises the user's own errors (missing table 42P01, unknown
  // column, type errors), tells us about data-modifying WITH, and lists every relation
  // the plan depends on, views already expanded to their tables.
  List* queries = nullptr;
  const char* norm = out.text.c_str();
  pg_call([&] {
    RawStmt* again = linitial_node(RawStmt, pg_parse_query(norm));
    queries = pg_analyze_and_rewrite_fixedparams(again, norm, nullptr, 0, nullptr);
  });
  bool modifying = false;
  int nqueries = 0;
  pg_call([&] {
    nqueries = list_length(queries);
    ListCell* lc;
    foreach (lc, queries) {
      Query* q = lfirst_node(Query, lc);
      if (q->hasModifyingCTE || q->commandType != CMD_SELECT || q->utilityStmt) modifying = true;
    }
  });
  if (modifying || nqueries != 1)
    throw Error(sqlstate::kInvalidParameterValue, "a stage query must only read: data-modifying WITH is not allowed");

  List* relation_oids = nullptr;
  pg_call([&] {
    Query* q = linitial_node(Query, queries);
    PlannedStmt* plan = pg_plan_query(q, norm, 0, nullptr);
    relation_oids = plan->relationOids;
  });
  // Walking a List is plain memory access; only the syscache lookup needs the guard.
  std::vector<Oid> oids;
  ListCell* lc;
  foreach (lc, relation_oids) {
    const Oid rel = lfirst_oid(lc);
    char kind = 0;
    pg_call([&] { kind = get_rel_relkind(rel); });
    if ((kind == RELKIND_RELATION || kind == RELKIND_PARTITIONED_TABLE) &&
        std::find(oids.begin(), oids.end(), rel) == oids.end())
      oids.push_back(rel);
  }
  out.relations = std::move(oids);
  return out;
}

std::string check_select_syntax(const std::string& text, const char* what) {
  List* raw = nullptr;
  const char* t = text.c_str();
  pg_call([&] { raw = pg_parse_query(t); });
  int count = 0;
  bool select = false;
  size_t start = 0, len = 0;
  pg_call([&] {
    count = list_length(raw);
    if (count == 1) {
      RawStmt* rs = linitial_node(RawStmt, raw);
      select = IsA(rs->stmt, SelectStmt) && reinterpret_cast<SelectStmt*>(rs->stmt)->intoClause == nullptr;
      start = rs->stmt_location > 0 ? static_cast<size_t>(rs->stmt_location) : 0;
      len = rs->stmt_len > 0 ? static_cast<size_t>(rs->stmt_len) : 0;
    }
  });
  if (count != 1 || !select)
    throw Error(sqlstate::kInvalidParameterValue, std::string(what) + " must be exactly one SELECT statement",
                "got: " + text);
  std::string out = text.substr(start, len ? len : std::string::npos);
  while (!out.empty() && (isspace(static_cast<unsigned char>(out.back())) || out.back() == ';')) out.pop_back();
  return out;
}

void check_condition(const std::string& condition) {
  if (condition.find_first_not_of(" \t\r\n") == std::string::npos)
    throw Error(sqlstate::kInvalidParameterValue, "condition must not be empty");
  const std::string probe = "SELECT 1 WHERE (\n" + condition + "\n)";
  const char* text = probe.c_str();
  List* raw = nullptr;
  pg_call([&] { raw = pg_parse_query(text); });
  bool ok = false;
  pg_call([&] {
    if (list_length(raw) == 1) {
      RawStmt* rs = linitial_node(RawStmt, raw);
      if (IsA(rs->stmt, SelectStmt)) {
        auto* s = reinterpret_cast<SelectStmt*>(rs->stmt);
        ok = s->op == SETOP_NONE && s->fromClause == NIL && s->groupClause == NIL && s->havingClause == nullptr &&
             s->sortClause == NIL && s->limitCount == nullptr && s->limitOffset == nullptr && s->lockingClause == NIL &&
             s->withClause == nullptr && s->windowClause == NIL && s->intoClause == nullptr &&
             s->whereClause != nullptr;
      }
    }
  });
  if (!ok)
    throw Error(sqlstate::kInvalidParameterValue, "condition must be a single boolean expression", "got: " + condition);
}

}  // namespace incview::pg
