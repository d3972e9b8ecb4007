// Builds every statement pg_incview runs for one stage. Pure text: no PostgreSQL here.
//
// Scope keys travel as one array parameter per scope column ($1 = first scope column...).
// `s.a = ANY($1)` is what PostgreSQL's planner pushes down through UNION ALL, DISTINCT ON,
// GROUP BY and window partitions into index scans on the sources, so the cost of a scoped
// refresh is proportional to the batch. For composite scopes the per-column ANY filters
// keep that push-down; an exact tuple filter sits on top of them.
#pragma once
#include "core/no_postgres.hpp"

#include <string>
#include <vector>

namespace incview {

struct ScopeColumn {
  std::string name;  // output column name, exactly as the query spells it
  std::string type;  // format_type() text, e.g. "bigint", "character varying(20)"
};

struct StageShape {
  std::string query;                    // the user's SELECT (validated, no trailing ';')
  std::string target;                   // already quoted: "schema"."table"
  std::vector<std::string> columns;     // the query's output columns, in order
  std::vector<ScopeColumn> scope;       // scope key columns
  std::vector<std::string> unique_key;  // may be empty
  // Retention: rows whose retention_column is older than now() - retention_keep are not
  // part of the stage (the refresh does not re-create what retention deletes).
  std::string retention_column;  // empty = keep everything
  std::string retention_keep;    // interval literal text, e.g. "30 days"
};

// Which scope columns of a batch hold a NULL: NULL is a scope too, but `= ANY` never
// matches it, so those columns get an extra `IS NULL` arm.
using NullColumns = std::vector<bool>;

class StageSql {
 public:
  explicit StageSql(StageShape shape);
  const StageShape& shape() const { return shape_; }

  // Predicate on `alias` selecting the batch's scopes; parameters $first.. are arrays.
  std::string scope_filter(const std::string& alias, const NullColumns& nulls, int first_param = 1) const;
  // The same for a batch of exactly one key: `col = ($n::type[])[1]` (plus `OR col IS NULL`
  // where the key's value is NULL), no tuple filter (one key is one tuple). A kept generic
  // plan estimates it as one scope, where `= ANY($n)` is estimated as ten
  // (refresh/batch_plans.hpp): the plan a one-key refresh wants.
  std::string scope_filter_one_key(const std::string& alias, const NullColumns& nulls) const;

  // SELECT <columns> FROM (<query>) s WHERE <scope filter on s>
  std::string select_scoped(const NullColumns& nulls) const;
  // one_key: the batch holds exactly one key (scope_filter_one_key). The same parameters.
  std::string select_scoped(const NullColumns& nulls, bool one_key) const;
  // Same, with literal key arrays in place of parameters (for EXPLAIN text a user can rerun).
  std::string select_scoped_literal(const std::vector<std::string>& array_literals, const NullColumns& nulls) const;

  // engine replace: delete the batch's rows, insert them again from the query.
  std::string delete_scoped(const NullColumns& nulls) const;
  std::string insert_scoped(const NullColumns& nulls) const;
  std::string delete_scoped(const NullColumns& nulls, bool one_key) const;
  std::string insert_scoped(const NullColumns& nulls, bool one_key) const;

  // engine diff: one statement; returns (deleted, inserted, updated). Unchanged rows are
  // not written at all. With a unique_key, rows are paired by it (NULLs pair with NULLs)
  // and compared by their text form; without one, the stage is a multiset and rows are
  // paired by their whole text form, copy by copy (see multiset_diff_body).
  std::string diff_scoped(const NullColumns& nulls) const;
  std::string diff_scoped(const NullColumns& nulls, bool one_key) const;

  // engine full. row_filter: an extra condition on the query's rows (empty: none); the
  // rebuild passes one that counts rows for incview.progress.
  std::string delete_all() const;
  std::string insert_all(const std::string& row_filter = "") const;
  // diff over everything (full rebuild that writes only changes), keyed or multiset.
  std::string diff_all(const std::string& row_filter = "") const;

  // verify: (missing, extra) comparing the query with the target as multisets of rows.
  std::string verify() const;

  // Distinct scope keys, typed, ordered, from a jsonb array parameter $1 whose elements
  // are scalars (single-column scope), objects {"col": v} or arrays [v1, v2].
  std::string keys_from_json() const;
  // Rejects malformed key lists: returns (bad element count, first bad element text).
  std::string check_json_keys() const;
  // Distinct scope keys of rows satisfying `condition`, in the target and in the query.
  std::string keys_where(const std::string& condition) const;

  // Index on the scope columns and the unique index on unique_key.
  std::string create_scope_index() const;
  std::string create_unique_index() const;
  // True when the unique index starts with every scope column (in any order): it then
  // serves the scoped DELETE and SELECT as an index on the scope columns alone would, so
  // that second index is not built (one sorted pass over the table less in create_stage).
  bool unique_index_leads_with_scope() const;
  // CREATE INDEX with a declared definition ("updated_at DESC" or "(a, b DESC)").
  std::string create_declared_index(const std::string& index_name, const std::string& definition) const;

  // (<query>) AS alias, with the retention filter applied when there is one.
  std::string wrap_query(const std::string& alias = "s") const;

  // Rows of the stage older than the retention window, for deletion in small batches.
  std::string delete_expired(long limit) const;

  std::string scope_columns(const std::string& alias = {}) const;

 private:
  std::string diff_body(const std::string& fresh_sql, const std::string& current_filter) const;
  std::string keyed_diff_body(const std::string& fresh_sql, const std::string& current_filter) const;
  std::string multiset_diff_body(const std::string& fresh_sql, const std::string& current_filter) const;
  std::string row_text(const std::string& alias) const;
  std::string key_row(const std::string& alias) const;

  StageShape shape_;
  std::vector<std::string> scope_names_;
};

}  // namespace incview
