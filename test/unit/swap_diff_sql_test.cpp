// swap_diff_keys_statement: the downstream keys a storage-swap rebuild changed.
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/swap_diff_sql.hpp"
#include "test_util.hpp"

using namespace incview;
using incview::test::contains;

namespace {
SwapDiffSpec spec_of(std::vector<std::vector<std::string>> readers) {
  SwapDiffSpec s;
  s.old_table = "\"public\".\"t\"";
  s.new_heap = "\"public\".\"pg_temp_1\"";
  s.key_columns = {"a", "b"};
  s.key_equalities = {"o.\"a\" OPERATOR(pg_catalog.=) n.\"a\"", "o.\"b\" OPERATOR(pg_catalog.=) n.\"b\""};
  s.readers = std::move(readers);
  return s;
}
}  // namespace

TEST(SwapDiffSql, JoinsOnTheUniqueKeyAndComparesBinaryImages) {
  const std::string sql = swap_diff_keys_statement(spec_of({{"a"}}));
  EXPECT_TRUE(contains(sql, "FROM \"public\".\"t\" o FULL JOIN \"public\".\"pg_temp_1\" n ON o.\"a\" "
                            "OPERATOR(pg_catalog.=) n.\"a\" AND o.\"b\" OPERATOR(pg_catalog.=) n.\"b\""));
  // One side only, or both sides with different bytes.
  EXPECT_TRUE(contains(sql, "WHERE o.ctid IS NULL OR n.ctid IS NULL OR NOT ((o.*) OPERATOR(pg_catalog.*=) (n.*))"));
  EXPECT_TRUE(contains(sql, "WITH j AS MATERIALIZED ("));
}

TEST(SwapDiffSql, QueuesTheOldAndTheNewScopeOfEachChangedRow) {
  const std::string sql = swap_diff_keys_statement(spec_of({{"a"}}));
  // The old row's scope when there was an old row, the new row's when there is one: a row
  // that moves to another scope dirties both, a vanished or a new row its own.
  EXPECT_TRUE(contains(sql, "c(s0) AS (SELECT j.o0 FROM j WHERE j.o_keyed UNION ALL SELECT j.n0 FROM j WHERE j.n_keyed"));
  EXPECT_TRUE(contains(sql, "SELECT 0 AS i, pg_catalog.jsonb_build_array(c.s0) AS key FROM c"));
  EXPECT_TRUE(contains(sql, "pg_catalog.array_agg(DISTINCT k.key)::pg_catalog.text, pg_catalog.count(DISTINCT k.key)"));
  EXPECT_TRUE(contains(sql, "GROUP BY k.i"));
}

TEST(SwapDiffSql, RowsWithANullKeyAreComparedAsMultisetsOfTheirImages) {
  const std::string sql = swap_diff_keys_statement(spec_of({{"a"}}));
  // Keyed: present and every key column not NULL; otherwise the row's text image goes along.
  EXPECT_TRUE(contains(sql, "o.ctid IS NOT NULL AND o.\"a\" IS NOT NULL AND o.\"b\" IS NOT NULL AS o_keyed"));
  EXPECT_TRUE(contains(sql, "CASE WHEN n.ctid IS NOT NULL AND NOT (n.ctid IS NOT NULL AND n.\"a\" IS NOT NULL AND "
                            "n.\"b\" IS NOT NULL) THEN (n.*)::pg_catalog.text END AS n_img"));
  // Both directions, with multiplicity: an unchanged NULL-keyed row is not a change, a
  // duplicate that vanished is.
  EXPECT_TRUE(contains(sql, "(SELECT j.o0, j.o_img FROM j WHERE j.o_img IS NOT NULL EXCEPT ALL SELECT j.n0, j.n_img "
                            "FROM j WHERE j.n_img IS NOT NULL) UNION ALL (SELECT j.n0, j.n_img FROM j WHERE j.n_img IS "
                            "NOT NULL EXCEPT ALL SELECT j.o0, j.o_img FROM j WHERE j.o_img IS NOT NULL)) AS nk(s0, img)"));
}

TEST(SwapDiffSql, ReadersShareOneDiffAndEachGetsItsOwnColumnsInOrder) {
  const std::string sql = swap_diff_keys_statement(spec_of({{"b", "a"}, {"a"}, {"x y"}}));
  // One MATERIALIZED diff, each scope column projected once.
  EXPECT_EQ(sql.find("FULL JOIN"), sql.rfind("FULL JOIN"));
  EXPECT_TRUE(contains(sql, "o.\"b\" AS o0, n.\"b\" AS n0, o.\"a\" AS o1, n.\"a\" AS n1, o.\"x y\" AS o2"));
  EXPECT_TRUE(contains(sql, "SELECT 0 AS i, pg_catalog.jsonb_build_array(c.s0, c.s1) AS key FROM c"));
  EXPECT_TRUE(contains(sql, "SELECT 1 AS i, pg_catalog.jsonb_build_array(c.s1) AS key FROM c"));
  EXPECT_TRUE(contains(sql, "SELECT 2 AS i, pg_catalog.jsonb_build_array(c.s2) AS key FROM c"));
}

TEST(SwapDiffSql, RefusesWithoutAKeyOrAReader) {
  SwapDiffSpec no_key = spec_of({{"a"}});
  no_key.key_equalities.clear();
  no_key.key_columns.clear();
  EXPECT_THROW(swap_diff_keys_statement(no_key), Error);
  EXPECT_THROW(swap_diff_keys_statement(spec_of({})), Error);
}
