// Checks user SQL before pg_incview stores or embeds it.
#pragma once
#include "pg/support/pg_headers.hpp"

namespace incview::pg {

struct CheckedQuery {
  std::string text;            // the single statement, without trailing ';' or whitespace
  std::vector<Oid> relations;  // tables / partitioned tables the query reads (through views too)
};

// The stage query must be exactly one plain SELECT (no INTO, no FOR UPDATE, no
// data-modifying WITH). Syntax and name errors come back as PostgreSQL raised them.
CheckedQuery check_stage_query(const std::string& query);

// Syntax-only check that `text` is one SELECT (for SQL that refers to names which only
// exist where we embed it, like a mapping's `changed`). Returns it without trailing ';'.
std::string check_select_syntax(const std::string& text, const char* what);

// A refresh_where condition must be one boolean expression: it is embedded in our SQL,
// so anything that would close our parenthesis and add clauses is refused.
void check_condition(const std::string& condition);

}  // namespace incview::pg
