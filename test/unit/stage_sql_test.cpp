#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/stage_sql.hpp"
#include "stage_shapes.hpp"
#include "test_util.hpp"

using namespace incview;
using incview::test::contains;
using incview::test::keyed_stage;

namespace {

StageShape composite() {
  StageShape s;
  s.query = "SELECT org_id, cluster, id FROM reports";
  s.target = "\"public\".\"latest\"";
  s.columns = {"org_id", "cluster", "id"};
  s.scope = {{"org_id", "integer"}, {"cluster", "text"}};
  return s;
}

}  // namespace

TEST(StageSql, NeedsAScope) {
  StageShape s = keyed_stage();
  s.scope.clear();
  EXPECT_THROW(StageSql{s}, Error);
}

TEST(StageSql, ScopeFilterIsPushableAny) {
  StageSql sql(keyed_stage());
  EXPECT_EQ(sql.scope_filter("s", {false}), "s.\"patient_id\" = ANY($1::bigint[])");
  EXPECT_EQ(sql.scope_filter("s", {true}), "(s.\"patient_id\" = ANY($1::bigint[]) OR s.\"patient_id\" IS NULL)");
}

// One key: the array's first element, so a kept generic plan estimates one scope, not ten.
TEST(StageSql, OneKeyFilterTakesTheArraysFirstElement) {
  StageSql single_sql(keyed_stage());
  EXPECT_EQ(single_sql.scope_filter_one_key("s", {false}), "s.\"patient_id\" = ($1::bigint[])[1]");
  EXPECT_EQ(single_sql.scope_filter_one_key("t", {true}),
            "(t.\"patient_id\" = ($1::bigint[])[1] OR t.\"patient_id\" IS NULL)");
  EXPECT_TRUE(contains(single_sql.delete_scoped({false}, true), "AS t WHERE t.\"patient_id\" = ($1::bigint[])[1]"));
  EXPECT_TRUE(contains(single_sql.insert_scoped({false}, true), ") AS s WHERE s.\"patient_id\" = ($1::bigint[])[1]"));
  EXPECT_EQ(single_sql.insert_scoped({false}, false), single_sql.insert_scoped({false}));
  EXPECT_EQ(single_sql.delete_scoped({true}, false), single_sql.delete_scoped({true}));
  // Composite: one equality per column is the exact tuple, no unnest filter on top.
  StageSql comp(composite());
  EXPECT_EQ(comp.scope_filter_one_key("s", {false, true}),
            "s.\"org_id\" = ($1::integer[])[1] AND (s.\"cluster\" = ($2::text[])[1] OR s.\"cluster\" IS NULL)");
  const std::string d = comp.diff_scoped({false, false}, true);
  EXPECT_TRUE(contains(d, "t.\"org_id\" = ($1::integer[])[1] AND t.\"cluster\" = ($2::text[])[1]")) << d;
  EXPECT_FALSE(contains(d, "unnest")) << d;
}

TEST(StageSql, TrailingCommentCannotSwallowTheParenthesis) {
  StageSql sql(keyed_stage());
  const std::string q = sql.select_scoped({false});
  EXPECT_TRUE(contains(q, "-- trailing comment\n) AS s WHERE")) << q;
}

TEST(StageSql, CompositeFilterHasPerColumnAnyAndExactTuples) {
  StageSql sql(composite());
  const std::string f = sql.scope_filter("s", {false, false});
  EXPECT_TRUE(contains(f, "s.\"org_id\" = ANY($1::integer[])"));
  EXPECT_TRUE(contains(f, "s.\"cluster\" = ANY($2::text[])"));
  EXPECT_TRUE(contains(f, "(s.\"org_id\", s.\"cluster\") IN (SELECT * FROM unnest($1::integer[], $2::text[]))"));
  const std::string n = sql.scope_filter("s", {false, true});
  EXPECT_TRUE(contains(n, "(s.\"cluster\" = ANY($2::text[]) OR s.\"cluster\" IS NULL)"));
  EXPECT_TRUE(contains(n, "k.k2 IS NOT DISTINCT FROM s.\"cluster\""));
}

TEST(StageSql, ReplaceStatements) {
  StageSql sql(keyed_stage());
  EXPECT_EQ(sql.delete_scoped({false}),
            "DELETE FROM \"public\".\"due\" AS t WHERE t.\"patient_id\" = ANY($1::bigint[])");
  EXPECT_TRUE(
      contains(sql.insert_scoped({false}),
               "INSERT INTO \"public\".\"due\" (\"patient_id\", \"product_id\", \"n\") SELECT s.\"patient_id\""));
}

TEST(StageSql, DiffPairsByUniqueKeyAndUpdatesOnlyChangedRows) {
  StageSql sql(keyed_stage());
  const std::string d = sql.diff_scoped({false});
  EXPECT_TRUE(contains(d, "ROW(f.\"patient_id\", f.\"product_id\")::text AS incview_key"));  // hashable
  EXPECT_TRUE(contains(d, "WHERE f.incview_row IS DISTINCT FROM c.incview_row"));
  EXPECT_TRUE(contains(d, "SET \"n\" = p.\"n\""));
  // Rows to change are reached through the scope filter, then matched by key.
  EXPECT_TRUE(contains(
      d,
      "WHERE t.\"patient_id\" = ANY($1::bigint[]) AND ROW(t.\"patient_id\", t.\"product_id\")::text = p.incview_key"));
  EXPECT_FALSE(contains(d, "ctid"));
  EXPECT_FALSE(contains(d, "SET \"patient_id\""));
}

TEST(StageSql, DiffWithoutUniqueKeyPairsCopiesOfWholeRows) {
  StageShape s = keyed_stage();
  s.unique_key.clear();
  const std::string d = StageSql(s).diff_scoped({false});
  // Copies per value, counted by the whole row's text form on both sides.
  EXPECT_TRUE(contains(d, "ROW(f.\"patient_id\", f.\"product_id\", f.\"n\")::text AS incview_row"));
  EXPECT_TRUE(contains(d, "ROW(t.\"patient_id\", t.\"product_id\", t.\"n\")::text AS incview_row"));
  EXPECT_TRUE(
      contains(d, "SELECT f.incview_row, 1 AS incview_n FROM fresh f UNION ALL SELECT c.incview_row, -1 FROM cur c"));
  EXPECT_TRUE(contains(d, "HAVING pg_catalog.sum(u.incview_n) OPERATOR(pg_catalog.<>) 0"));
  // Surplus copies are deleted by (tableoid, ctid), reached through the scope filter,
  // only as many as the count dropped.
  EXPECT_TRUE(contains(d,
                       "DELETE FROM \"public\".\"due\" AS t WHERE t.\"patient_id\" = ANY($1::bigint[]) AND "
                       "(t.tableoid, t.ctid) IN (SELECT x.incview_toid, x.incview_tid FROM"));
  EXPECT_TRUE(contains(d, "x.incview_k OPERATOR(pg_catalog.<=) OPERATOR(pg_catalog.-) x.incview_n"));
  EXPECT_TRUE(contains(d, "x.incview_k OPERATOR(pg_catalog.<=) x.incview_n RETURNING 1"));
  // The query's rows travel as one anonymous record: no name of ours meets a user's column.
  EXPECT_TRUE(contains(d, "SELECT ROW(f.\"patient_id\", f.\"product_id\", f.\"n\") AS incview_rec"));
  EXPECT_TRUE(contains(d, "SELECT (x.incview_rec).f1, (x.incview_rec).f2, (x.incview_rec).f3 FROM"));
  EXPECT_FALSE(contains(d, "UPDATE"));
  EXPECT_FALSE(contains(d, "incview_key"));
  EXPECT_TRUE(contains(d, "0::bigint"));
  // The whole-table form has no scope filter on the target.
  const std::string all = StageSql(s).diff_all();
  EXPECT_TRUE(contains(all, "DELETE FROM \"public\".\"due\" AS t WHERE (t.tableoid, t.ctid) IN"));
  EXPECT_TRUE(contains(all, "FROM \"public\".\"due\" AS t),"));
}

TEST(StageSql, DiffWithOnlyKeyColumnsHasNoUpdate) {
  StageShape s = keyed_stage();
  s.columns = {"patient_id", "product_id"};
  const std::string d = StageSql(s).diff_scoped({false});
  EXPECT_FALSE(contains(d, "UPDATE"));
  EXPECT_TRUE(contains(d, "0::bigint"));
}

TEST(StageSql, LiteralBatchReplacesHighParamsFirst) {
  StageSql sql(composite());
  const std::string q = sql.select_scoped_literal({"{1,2}", "{a,b'c}"}, {false, false});
  EXPECT_FALSE(contains(q, "$1")) << q;
  EXPECT_FALSE(contains(q, "$2")) << q;
  EXPECT_TRUE(contains(q, "'{1,2}'::integer[]"));
  EXPECT_TRUE(contains(q, "'{a,b''c}'::text[]"));
}

TEST(StageSql, KeysFromJsonAcceptScalarsOnlyForSingleColumn) {
  EXPECT_TRUE(contains(StageSql(keyed_stage()).keys_from_json(), "ELSE e #>> '{}' END)::bigint"));
  EXPECT_TRUE(contains(StageSql(composite()).keys_from_json(), "ELSE NULL END)::text"));
  EXPECT_TRUE(contains(StageSql(composite()).check_json_keys(), "jsonb_array_length(e) <> 2 ELSE true END"));
}

TEST(StageSql, ColumnNamesAreQuotedEverywhere) {
  StageShape s = keyed_stage();
  s.columns = {"Weird \"Name\"", "x"};
  s.scope = {{"Weird \"Name\"", "text"}};
  s.unique_key = {"x"};
  StageSql sql(s);
  EXPECT_TRUE(contains(sql.create_scope_index(), "(\"Weird \"\"Name\"\"\")"));
  EXPECT_TRUE(contains(sql.keys_from_json(), "e ->> 'Weird \"Name\"'"));
  EXPECT_TRUE(contains(sql.create_unique_index(), "NULLS NOT DISTINCT"));
}

TEST(StageSql, RetentionFiltersTheQueryEverywhere) {
  StageShape s = keyed_stage();
  s.retention_column = "last_at";
  s.retention_keep = "30 days";
  StageSql sql(s);
  EXPECT_TRUE(
      contains(sql.select_scoped({false}), "AS r WHERE r.\"last_at\" >= now() - '30 days'::interval) AS s WHERE"));
  EXPECT_TRUE(contains(sql.verify(), "r.\"last_at\" >= now() - '30 days'::interval"));
  EXPECT_TRUE(contains(sql.insert_all(), "r.\"last_at\" >= now()"));
  EXPECT_TRUE(contains(sql.delete_expired(500), "t.\"last_at\" < now() - '30 days'::interval LIMIT 500"));
  EXPECT_TRUE(contains(sql.delete_expired(500), "d.tableoid = x.toid AND d.ctid = x.tid"));  // partitions repeat ctids
  EXPECT_THROW(StageSql(keyed_stage()).delete_expired(1), Error);
}

TEST(StageSql, RebuildRowFilterGoesOutsideTheQuery) {
  StageSql sql(keyed_stage());
  // Outside the query's parentheses, so it filters (and counts) the query's output rows.
  EXPECT_TRUE(contains(sql.insert_all("incview.progress_row()"), "\n) AS s WHERE incview.progress_row()"));
  EXPECT_TRUE(contains(sql.diff_all("incview.progress_row()"), "\n) AS s WHERE incview.progress_row()) AS f"));
  EXPECT_FALSE(contains(sql.insert_all(), "WHERE"));
  EXPECT_FALSE(contains(sql.diff_all(), "progress_row"));
}

TEST(StageSql, DeclaredIndexDefinitions) {
  StageSql sql(keyed_stage());
  EXPECT_EQ(sql.create_declared_index("ix", "n DESC"), "CREATE INDEX \"ix\" ON \"public\".\"due\" (n DESC)");
  EXPECT_EQ(sql.create_declared_index("ix", "(a, b DESC)"), "CREATE INDEX \"ix\" ON \"public\".\"due\" (a, b DESC)");
}

// create_stage skips the scope index when the unique index already leads with the scope.
TEST(StageSql, UniqueIndexLeadingWithTheScopeServesAsScopeIndex) {
  StageShape s = keyed_stage();
  s.unique_key = {};
  EXPECT_FALSE(StageSql(s).unique_index_leads_with_scope()) << "no unique index";
  s.unique_key = {"patient_id", "product_id"};
  EXPECT_TRUE(StageSql(s).unique_index_leads_with_scope());
  s.unique_key = {"product_id", "patient_id"};
  EXPECT_FALSE(StageSql(s).unique_index_leads_with_scope()) << "scope not the leading column";
  s.unique_key = {"patient_id"};
  EXPECT_TRUE(StageSql(s).unique_index_leads_with_scope()) << "same columns";

  StageShape c = composite();
  const std::string a = c.scope[0].name, b = c.scope[1].name;
  c.unique_key = {b, a, "id"};
  EXPECT_TRUE(StageSql(c).unique_index_leads_with_scope()) << "scope columns in another order";
  c.unique_key = {a, "id", b};
  EXPECT_FALSE(StageSql(c).unique_index_leads_with_scope()) << "a key column between the scope columns";
  c.unique_key = {a};
  EXPECT_FALSE(StageSql(c).unique_index_leads_with_scope()) << "only part of the scope";
}
