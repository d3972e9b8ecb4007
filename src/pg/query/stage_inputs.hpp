// Everything a stage query can read (issue 21), beyond the tables its plan lists: so that
// every input is captured, declared, or reported — never silently left stale.
//
//  - tables read inside user SQL functions (bodies parsed, seen through): captured as
//    sources whose changes dirty every scope;
//  - foreign tables and materialized views: no trigger can see their changes; they become
//    "polled" sources: interval/daily stages rebuild at every period, others are warned;
//  - user functions that are not IMMUTABLE and whose bodies cannot be read (PL/pgSQL, C,
//    ...): may read tables we cannot see; reported, to be declared with incview.add_source;
//  - time-dependent functions (now(), current_timestamp, random()...): results depend on
//    when a scope was last refreshed; reported;
//  - Citus tables (distributed, reference): the plan hides them behind Citus' custom scan;
//    listed for the Citus rules (pg/citus/citus.hpp);
//  - other tables in the query that the plan does not list: refused, since nothing would
//    ever be captured.
#pragma once
#include "pg/support/pg_headers.hpp"

namespace incview::pg {

struct StageInputs {
  std::vector<Oid> function_tables;           // read inside user SQL functions
  std::vector<Oid> polled;                    // foreign tables, materialized views
  std::vector<std::string> opaque_functions;  // "f(integer)" with the tables they read unknown
  std::vector<std::string> time_functions;    // "now()", "CURRENT_TIMESTAMP", "random()"
  std::vector<std::string> uncapturable;      // tables the plan does not list
  std::vector<Oid> citus;                     // Citus tables of the query (docs/citus.md)
  std::vector<Oid> tables;                    // every table of the query tree
};

// Analyzes the stage query (run it as the stage's owner). planned: the tables its plan
// lists (CheckedQuery::relations).
StageInputs stage_inputs(const std::string& query, const std::vector<Oid>& planned);

}  // namespace incview::pg
