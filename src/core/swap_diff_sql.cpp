#include "core/swap_diff_sql.hpp"

#include "core/error.hpp"
#include "core/sql_text.hpp"

#include <map>

namespace incview {

namespace {

// "o"/"n" side of the join: all key columns of that side hold a value.
std::string keyed(const std::vector<std::string>& key_columns, const char* side) {
  std::string out = std::string(side) + ".ctid IS NOT NULL";
  for (const auto& k : key_columns) out += std::string(" AND ") + side + "." + quote_ident(k) + " IS NOT NULL";
  return out;
}

}  // namespace

std::string swap_diff_keys_statement(const SwapDiffSpec& spec) {
  if (spec.key_equalities.empty() || spec.key_equalities.size() != spec.key_columns.size() || spec.readers.empty())
    throw Error(sqlstate::kInternalError, "a swap diff needs a unique key and a reader");
  // Every scope column any reader needs, once: j.o<i> / j.n<i> in the joined rows, c.s<i>
  // in the changed ones.
  std::map<std::string, size_t> slot;
  std::vector<std::string> projected, o_cols, n_cols, s_cols;
  for (const auto& scope : spec.readers)
    for (const auto& col : scope)
      if (slot.emplace(col, slot.size()).second) {
        const std::string i = std::to_string(slot[col]);
        projected.push_back("o." + quote_ident(col) + " AS o" + i + ", n." + quote_ident(col) + " AS n" + i);
        o_cols.push_back("j.o" + i);
        n_cols.push_back("j.n" + i);
        s_cols.push_back("s" + i);
      }
  const std::string o_keyed = keyed(spec.key_columns, "o");
  const std::string n_keyed = keyed(spec.key_columns, "n");
  // j: the rows of either side without an identical partner. A row with a NULL in the key
  // never pairs (NULL = NULL is not true): its image (as text) goes along, and those rows
  // are compared as multisets below, so an unchanged NULL-keyed row is not a change.
  std::string sql =
      "WITH j AS MATERIALIZED (SELECT " + o_keyed + " AS o_keyed, " + n_keyed + " AS n_keyed, CASE WHEN o.ctid IS " +
      "NOT NULL AND NOT (" + o_keyed + ") THEN (o.*)::pg_catalog.text END AS o_img, CASE WHEN n.ctid IS NOT NULL AND NOT (" +
      n_keyed + ") THEN (n.*)::pg_catalog.text END AS n_img, " + join(projected, ", ") + " FROM " + spec.old_table +
      " o FULL JOIN " + spec.new_heap + " n ON " + join(spec.key_equalities, " AND ") +
      " WHERE o.ctid IS NULL OR n.ctid IS NULL OR NOT ((o.*) OPERATOR(pg_catalog.*=) (n.*))), "
      // c: the scope columns of each changed row, old and new.
      "c(" + join(s_cols, ", ") + ") AS (SELECT " + join(o_cols, ", ") + " FROM j WHERE j.o_keyed UNION ALL SELECT " + join(n_cols, ", ") +
      " FROM j WHERE j.n_keyed UNION ALL SELECT " + join(s_cols, ", ") + " FROM ((SELECT " + join(o_cols, ", ") +
      ", j.o_img FROM j WHERE j.o_img IS NOT NULL EXCEPT ALL SELECT " + join(n_cols, ", ") +
      ", j.n_img FROM j WHERE j.n_img IS NOT NULL) UNION ALL (SELECT " + join(n_cols, ", ") +
      ", j.n_img FROM j WHERE j.n_img IS NOT NULL EXCEPT ALL SELECT " + join(o_cols, ", ") +
      ", j.o_img FROM j WHERE j.o_img IS NOT NULL)) AS nk(" + join(s_cols, ", ") + ", img)) "
      "SELECT k.i, pg_catalog.array_agg(DISTINCT k.key)::pg_catalog.text, pg_catalog.count(DISTINCT k.key) FROM (";
  std::vector<std::string> arms;
  for (size_t r = 0; r < spec.readers.size(); ++r) {
    std::vector<std::string> cols;
    for (const auto& col : spec.readers[r]) cols.push_back("c.s" + std::to_string(slot[col]));
    arms.push_back("SELECT " + std::to_string(r) + " AS i, pg_catalog.jsonb_build_array(" + join(cols, ", ") +
                   ") AS key FROM c");
  }
  return sql + join(arms, " UNION ALL ") + ") AS k GROUP BY k.i";
}

}  // namespace incview
