#include "core/stage_sql.hpp"

#include "core/error.hpp"
#include "core/sql_text.hpp"

#include <algorithm>

namespace incview {

StageSql::StageSql(StageShape shape) : shape_(std::move(shape)) {
  if (shape_.scope.empty()) throw Error(sqlstate::kInvalidParameterValue, "a stage needs at least one scope column");
  for (const auto& c : shape_.scope) scope_names_.push_back(c.name);
}

std::string StageSql::scope_columns(const std::string& alias) const { return column_list(scope_names_, alias); }

std::string StageSql::wrap_query(const std::string& alias) const {
  // Newlines around the query: a trailing "-- comment" must not swallow our parenthesis.
  const std::string inner = "(\n" + shape_.query + "\n)";
  if (shape_.retention_column.empty()) return inner + " AS " + alias;
  return "(SELECT * FROM " + inner + " AS r WHERE r." + quote_ident(shape_.retention_column) + " >= now() - " +
         quote_literal(shape_.retention_keep) + "::interval) AS " + alias;
}

std::string StageSql::delete_expired(long limit) const {
  if (shape_.retention_column.empty()) throw Error(sqlstate::kInvalidParameterValue, "the stage has no retention");
  const std::string col = quote_ident(shape_.retention_column);
  // (tableoid, ctid): a ctid alone repeats across the partitions of a partitioned table.
  return "DELETE FROM " + shape_.target + " AS d USING (SELECT t.tableoid AS toid, t.ctid AS tid FROM " +
         shape_.target + " AS t WHERE t." + col + " < now() - " + quote_literal(shape_.retention_keep) +
         "::interval LIMIT " + std::to_string(limit) + ") AS x WHERE d.tableoid = x.toid AND d.ctid = x.tid";
}

std::string StageSql::create_declared_index(const std::string& index_name, const std::string& definition) const {
  const bool wrapped = !definition.empty() && definition.front() == '(';
  return "CREATE INDEX " + quote_ident(index_name) + " ON " + shape_.target + " " +
         (wrapped ? definition : "(" + definition + ")");
}

std::string StageSql::scope_filter(const std::string& alias, const NullColumns& nulls, int first_param) const {
  const auto& scope = shape_.scope;
  std::vector<std::string> parts;
  for (size_t i = 0; i < scope.size(); ++i) {
    const std::string col = alias + "." + quote_ident(scope[i].name);
    const std::string param = "$" + std::to_string(first_param + static_cast<int>(i)) + "::" + scope[i].type + "[]";
    const bool has_null = i < nulls.size() && nulls[i];
    parts.push_back(has_null ? "(" + col + " = ANY(" + param + ") OR " + col + " IS NULL)"
                             : col + " = ANY(" + param + ")");
  }
  if (scope.size() > 1) {
    // Exact tuples on top of the per-column filters (which alone would admit the cross
    // product of the batch's values).
    std::vector<std::string> params;
    std::vector<std::string> knames;
    for (size_t i = 0; i < scope.size(); ++i) {
      params.push_back("$" + std::to_string(first_param + static_cast<int>(i)) + "::" + scope[i].type + "[]");
      knames.push_back("k" + std::to_string(i + 1));
    }
    const bool any_null = std::find(nulls.begin(), nulls.end(), true) != nulls.end();
    if (!any_null) {
      parts.push_back("(" + scope_columns(alias) + ") IN (SELECT * FROM unnest(" + join(params, ", ") + "))");
    } else {
      std::vector<std::string> eq;
      for (size_t i = 0; i < scope.size(); ++i)
        eq.push_back("k." + knames[i] + " IS NOT DISTINCT FROM " + alias + "." + quote_ident(scope[i].name));
      parts.push_back("EXISTS (SELECT 1 FROM unnest(" + join(params, ", ") + ") AS k(" + join(knames, ", ") +
                      ") WHERE " + join(eq, " AND ") + ")");
    }
  }
  return join(parts, " AND ");
}

std::string StageSql::scope_filter_one_key(const std::string& alias, const NullColumns& nulls) const {
  const auto& scope = shape_.scope;
  std::vector<std::string> parts;
  for (size_t i = 0; i < scope.size(); ++i) {
    const std::string col = alias + "." + quote_ident(scope[i].name);
    const std::string value = "($" + std::to_string(i + 1) + "::" + scope[i].type + "[])[1]";
    const bool has_null = i < nulls.size() && nulls[i];
    // The key's value is NULL here: `col = NULL` matches nothing, `col IS NULL` its scope.
    parts.push_back(has_null ? "(" + col + " = " + value + " OR " + col + " IS NULL)" : col + " = " + value);
  }
  return join(parts, " AND ");
}

std::string StageSql::select_scoped(const NullColumns& nulls) const { return select_scoped(nulls, false); }

std::string StageSql::select_scoped(const NullColumns& nulls, bool one_key) const {
  return "SELECT " + column_list(shape_.columns, "s") + " FROM " + wrap_query("s") + " WHERE " +
         (one_key ? scope_filter_one_key("s", nulls) : scope_filter("s", nulls));
}

std::string StageSql::select_scoped_literal(const std::vector<std::string>& array_literals,
                                            const NullColumns& nulls) const {
  std::string sql = select_scoped(nulls);
  // Replace $n::type[] with the literal arrays, highest number first so $1 does not eat $10.
  for (size_t i = array_literals.size(); i-- > 0;) {
    const std::string param = "$" + std::to_string(i + 1) + "::";
    const std::string lit = quote_literal(array_literals[i]) + "::";
    for (size_t pos = sql.find(param); pos != std::string::npos; pos = sql.find(param, pos + lit.size()))
      sql.replace(pos, param.size(), lit);
  }
  return sql;
}

std::string StageSql::delete_scoped(const NullColumns& nulls) const { return delete_scoped(nulls, false); }

std::string StageSql::delete_scoped(const NullColumns& nulls, bool one_key) const {
  return "DELETE FROM " + shape_.target + " AS t WHERE " +
         (one_key ? scope_filter_one_key("t", nulls) : scope_filter("t", nulls));
}

std::string StageSql::insert_scoped(const NullColumns& nulls) const { return insert_scoped(nulls, false); }

std::string StageSql::insert_scoped(const NullColumns& nulls, bool one_key) const {
  return "INSERT INTO " + shape_.target + " (" + column_list(shape_.columns) + ") " + select_scoped(nulls, one_key);
}

std::string StageSql::row_text(const std::string& alias) const {
  return "ROW(" + column_list(shape_.columns, alias) + ")::text";
}

std::string StageSql::key_row(const std::string& alias) const {
  // The key's text form: text equality hashes (a hash join, not a nested loop over the
  // batch), and it is NULL-safe ("(1,)" is not "(1,\"\")").
  return "ROW(" + column_list(shape_.unique_key, alias) + ")::text";
}

std::string StageSql::diff_body(const std::string& fresh_sql, const std::string& current_filter) const {
  return shape_.unique_key.empty() ? multiset_diff_body(fresh_sql, current_filter)
                                   : keyed_diff_body(fresh_sql, current_filter);
}

std::string StageSql::keyed_diff_body(const std::string& fresh_sql, const std::string& current_filter) const {
  std::vector<std::string> rest;  // non-key columns
  for (const auto& c : shape_.columns)
    if (std::find(shape_.unique_key.begin(), shape_.unique_key.end(), c) == shape_.unique_key.end()) rest.push_back(c);

  const std::string& target = shape_.target;
  // The rows to delete or update are reached through the batch's scope filter (the scope
  // index), then picked by key: never a join on ctid that could scan the whole table.
  const std::string in_batch = current_filter.empty() ? "" : current_filter + " AND ";
  std::string sql;
  sql += "WITH fresh AS MATERIALIZED (SELECT f.*, " + key_row("f") + " AS incview_key, " + row_text("f") +
         " AS incview_row FROM (" + fresh_sql + ") AS f),\n";
  sql += "cur AS MATERIALIZED (SELECT " + key_row("t") + " AS incview_key, " + row_text("t") + " AS incview_row FROM " +
         target + " AS t" + (current_filter.empty() ? "" : " WHERE " + current_filter) + "),\n";
  sql += "gone AS (DELETE FROM " + target + " AS t WHERE " + in_batch + key_row("t") +
         " IN (SELECT c.incview_key FROM cur c WHERE NOT EXISTS "
         "(SELECT 1 FROM fresh f WHERE f.incview_key = c.incview_key)) RETURNING 1),\n";
  if (!rest.empty()) {
    std::vector<std::string> sets;
    for (const auto& c : rest) sets.push_back(quote_ident(c) + " = p." + quote_ident(c));
    sql += "changed AS (UPDATE " + target + " AS t SET " + join(sets, ", ") +
           " FROM (SELECT f.* FROM fresh f JOIN cur c ON c.incview_key = f.incview_key "
           "WHERE f.incview_row IS DISTINCT FROM c.incview_row) AS p WHERE " +
           in_batch + key_row("t") + " = p.incview_key RETURNING 1),\n";
  }
  sql += "added AS (INSERT INTO " + target + " (" + column_list(shape_.columns) + ") SELECT " +
         column_list(shape_.columns, "f") +
         " FROM fresh f WHERE NOT EXISTS (SELECT 1 FROM cur c WHERE c.incview_key = f.incview_key) RETURNING 1)\n";
  sql += "SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM added), ";
  sql += rest.empty() ? "0::bigint" : "(SELECT count(*) FROM changed)";
  return sql;
}

// Without a unique_key a stage is a multiset: a row is its whole value, and k identical
// rows are k copies. For a value with a copies in the table and b in the query, the diff
// deletes a - b copies (by ctid) or inserts b - a, and leaves min(a, b) untouched: only
// real changes are written, as with a key, so downstream stages see only those. A change of
// value among duplicates is one copy deleted and one inserted (no identity to UPDATE).
// `delta` counts b - a per value with one hash aggregate over both sides; only the rows of
// values whose count changed are then numbered (row_number, a sort of those rows alone) to
// pick which copies go and which come. (Numbering every row of both sides instead took four
// sorts of the whole batch: 708 ms against 213 ms for 10,000 rows with 100 changed, in one
// EXPLAIN ANALYZE each on the loaded 2-core development machine.)
// The text form pairs NULLs with NULLs (IS NOT DISTINCT FROM, "(1,)" is not "(1,\"\")") and
// works for types without an equality operator (json, point, xml); it is strictly finer
// than equality (1.0 and 1.00 differ), so a value whose text changes is rewritten.
// The query's rows travel as one anonymous record: no name of ours can collide with theirs.
std::string StageSql::multiset_diff_body(const std::string& fresh_sql, const std::string& current_filter) const {
  const std::string& target = shape_.target;
  const std::string in_batch = current_filter.empty() ? "" : current_filter + " AND ";
  // ROW(...) names its fields f1, f2, ... whatever the columns are called (a bare "f" would
  // be the user's column f, not the row).
  std::vector<std::string> fields;
  for (size_t i = 1; i <= shape_.columns.size(); ++i) fields.push_back("(x.incview_rec).f" + std::to_string(i));
  std::string sql;
  sql += "WITH fresh AS MATERIALIZED (SELECT ROW(" + column_list(shape_.columns, "f") + ") AS incview_rec, " +
         row_text("f") + " AS incview_row FROM (" + fresh_sql + ") AS f),\n";
  // (tableoid, ctid): a ctid alone repeats across the partitions of a partitioned table.
  sql += "cur AS MATERIALIZED (SELECT t.tableoid AS incview_toid, t.ctid AS incview_tid, " + row_text("t") +
         " AS incview_row FROM " + target + " AS t" + (current_filter.empty() ? "" : " WHERE " + current_filter) +
         "),\n";
  // Copies to add (> 0) or to remove (< 0) per value; values whose count is unchanged drop out.
  sql +=
      "delta AS MATERIALIZED (SELECT u.incview_row, pg_catalog.sum(u.incview_n) AS incview_n FROM "
      "(SELECT f.incview_row, 1 AS incview_n FROM fresh f UNION ALL SELECT c.incview_row, -1 FROM cur c) AS u "
      "GROUP BY u.incview_row HAVING pg_catalog.sum(u.incview_n) OPERATOR(pg_catalog.<>) 0),\n";
  // The copies to delete are reached through the batch's scope filter (the scope index),
  // then picked by (tableoid, ctid): never a join on ctid that could scan the whole table.
  sql += "gone AS (DELETE FROM " + target + " AS t WHERE " + in_batch +
         "(t.tableoid, t.ctid) IN (SELECT x.incview_toid, x.incview_tid FROM (SELECT c.incview_toid, c.incview_tid, "
         "pg_catalog.row_number() OVER (PARTITION BY c.incview_row) AS incview_k, d.incview_n FROM cur c JOIN delta d "
         "ON d.incview_row OPERATOR(pg_catalog.=) c.incview_row WHERE d.incview_n OPERATOR(pg_catalog.<) 0) AS x "
         "WHERE x.incview_k OPERATOR(pg_catalog.<=) OPERATOR(pg_catalog.-) x.incview_n) RETURNING 1),\n";
  sql += "added AS (INSERT INTO " + target + " (" + column_list(shape_.columns) + ") SELECT " + join(fields, ", ") +
         " FROM (SELECT f.incview_rec, pg_catalog.row_number() OVER (PARTITION BY f.incview_row) AS incview_k, "
         "d.incview_n FROM fresh f JOIN delta d ON d.incview_row OPERATOR(pg_catalog.=) f.incview_row "
         "WHERE d.incview_n OPERATOR(pg_catalog.>) 0) AS x WHERE x.incview_k OPERATOR(pg_catalog.<=) x.incview_n "
         "RETURNING 1)\n";
  sql += "SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM added), 0::bigint";
  return sql;
}

std::string StageSql::diff_scoped(const NullColumns& nulls) const { return diff_scoped(nulls, false); }

std::string StageSql::diff_scoped(const NullColumns& nulls, bool one_key) const {
  return diff_body(select_scoped(nulls, one_key),
                   one_key ? scope_filter_one_key("t", nulls) : scope_filter("t", nulls));
}

namespace {
std::string where_clause(const std::string& row_filter) { return row_filter.empty() ? "" : " WHERE " + row_filter; }
}  // namespace

std::string StageSql::diff_all(const std::string& row_filter) const {
  return diff_body("SELECT " + column_list(shape_.columns, "s") + " FROM " + wrap_query("s") + where_clause(row_filter),
                   "");
}

std::string StageSql::delete_all() const { return "DELETE FROM " + shape_.target; }

std::string StageSql::insert_all(const std::string& row_filter) const {
  return "INSERT INTO " + shape_.target + " (" + column_list(shape_.columns) + ") SELECT " +
         column_list(shape_.columns, "s") + " FROM " + wrap_query("s") + where_clause(row_filter);
}

std::string StageSql::verify() const {
  return "WITH q AS MATERIALIZED (SELECT " + row_text("s") + " AS r FROM " + wrap_query("s") +
         "),\n t AS MATERIALIZED (SELECT " + row_text("t") + " AS r FROM " + shape_.target +
         " AS t)\n"
         "SELECT (SELECT count(*) FROM (SELECT r FROM q EXCEPT ALL SELECT r FROM t) m)::bigint AS missing,\n"
         "       (SELECT count(*) FROM (SELECT r FROM t EXCEPT ALL SELECT r FROM q) e)::bigint AS extra";
}

std::string StageSql::keys_from_json() const {
  const auto& scope = shape_.scope;
  std::vector<std::string> exprs;
  for (size_t i = 0; i < scope.size(); ++i) {
    std::string scalar = scope.size() == 1 ? "e #>> '{}'" : "NULL";
    exprs.push_back("(CASE jsonb_typeof(e) WHEN 'object' THEN e ->> " + quote_literal(scope[i].name) +
                    " WHEN 'array' THEN e ->> " + std::to_string(i) + " ELSE " + scalar + " END)::" + scope[i].type +
                    " AS " + quote_ident(scope[i].name));
  }
  return "SELECT DISTINCT " + scope_columns("k") + " FROM (SELECT " + join(exprs, ", ") +
         " FROM jsonb_array_elements($1) AS e) AS k ORDER BY " + scope_columns("k");
}

std::string StageSql::check_json_keys() const {
  const auto& scope = shape_.scope;
  std::vector<std::string> names;
  for (const auto& c : scope) names.push_back(quote_literal(c.name));
  // An object must name every scope column; an array must have one value per column;
  // a bare scalar only works for a single-column scope.
  std::string bad = "CASE jsonb_typeof(e) WHEN 'object' THEN NOT (e ?& ARRAY[" + join(names, ", ") +
                    "]) WHEN 'array' THEN jsonb_array_length(e) <> " + std::to_string(scope.size()) + " ELSE " +
                    (scope.size() == 1 ? "false" : "true") + " END";
  return "SELECT count(*) FILTER (WHERE " + bad + "), (array_agg(e::text) FILTER (WHERE " + bad +
         "))[1] FROM jsonb_array_elements($1) AS e";
}

std::string StageSql::keys_where(const std::string& condition) const {
  return "SELECT DISTINCT " + scope_columns("k") + " FROM (SELECT " + scope_columns("t") + " FROM " + shape_.target +
         " AS t WHERE (\n" + condition + "\n) UNION ALL SELECT " + scope_columns("s") + " FROM " + wrap_query("s") +
         " WHERE (\n" + condition + "\n)) AS k ORDER BY " + scope_columns("k");
}

std::string StageSql::create_scope_index() const {
  return "CREATE INDEX ON " + shape_.target + " (" + scope_columns() + ")";
}

bool StageSql::unique_index_leads_with_scope() const {
  const auto& key = shape_.unique_key;
  if (key.size() < scope_names_.size()) return false;
  for (size_t i = 0; i < scope_names_.size(); ++i)
    if (std::find(scope_names_.begin(), scope_names_.end(), key[i]) == scope_names_.end()) return false;
  return !scope_names_.empty();
}

std::string StageSql::create_unique_index() const {
  return "CREATE UNIQUE INDEX ON " + shape_.target + " (" + column_list(shape_.unique_key) + ") NULLS NOT DISTINCT";
}

}  // namespace incview
