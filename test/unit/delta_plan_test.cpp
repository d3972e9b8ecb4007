#include <gtest/gtest.h>

#include "delta_outputs.hpp"
#include "test_util.hpp"

#include "core/delta_plan.hpp"
#include "core/error.hpp"

using namespace incview;
using incview::test::contains;
using incview::test::delta_agg;
using incview::test::delta_group;

namespace {

DeltaQueryDescription count_by_tag() {
  DeltaQueryDescription d;
  d.relations = 1;
  d.source = "\"public\".\"events\"";
  d.has_group_by = true;
  d.group_by = {"tag"};
  d.outputs = {delta_group("tag"), delta_agg("n", "count", "", "", "bigint"),
               delta_agg("s", "sum", "v", "integer", "bigint")};
  return d;
}

std::string refusal(const DeltaQueryDescription& d) {
  try {
    DeltaPlan::qualify(d);
  } catch (const Error& e) {
    EXPECT_EQ(e.sqlstate(), "0A000");
    return e.what();
  }
  return "";
}

}  // namespace

TEST(DeltaPlan, CountAndSumQualify) {
  DeltaPlan p = DeltaPlan::qualify(count_by_tag());
  ASSERT_EQ(p.columns().size(), 3u);
  EXPECT_EQ(p.columns()[1].agg, DeltaAgg::CountStar);
  EXPECT_EQ(p.columns()[2].agg, DeltaAgg::Sum);
  EXPECT_EQ(p.columns()[2].partial_type, "bigint");  // sum(int4) is int8, as PostgreSQL's
  EXPECT_FALSE(p.has_extremes());
}

TEST(DeltaPlan, SumTypesFollowPostgres) {
  EXPECT_EQ(delta_sum_type("smallint"), "bigint");
  EXPECT_EQ(delta_sum_type("bigint"), "numeric");  // sum(int8) cannot overflow
  EXPECT_EQ(delta_sum_type("numeric"), "numeric");
  EXPECT_EQ(delta_sum_type("real"), "real");
  EXPECT_EQ(delta_sum_type("interval"), "");
  EXPECT_EQ(delta_avg_sum_type("real"), "double precision");  // avg(float4) accumulates in float8
  EXPECT_EQ(delta_avg_sum_type("integer"), "bigint");
}

TEST(DeltaPlan, RefusalsNameTheDisqualifyingPart) {
  auto d = count_by_tag();
  d.relations = 2;
  EXPECT_TRUE(contains(refusal(d), "reads 2 relations"));

  d = count_by_tag();
  d.has_group_by = false;
  EXPECT_TRUE(contains(refusal(d), "no GROUP BY"));

  d = count_by_tag();
  d.outputs[2].distinct = true;
  EXPECT_TRUE(contains(refusal(d), "\"s\" (sum(v)) uses DISTINCT"));

  d = count_by_tag();
  d.outputs[2].function = "string_agg";
  EXPECT_TRUE(contains(refusal(d), "uses aggregate string_agg"));

  d = count_by_tag();
  d.outputs[2].arg_type = "interval";
  EXPECT_TRUE(contains(refusal(d), "sums values of type interval"));

  d = count_by_tag();
  d.outputs[2].aggregate = false;
  d.outputs[2].text = "sum(v) * 2";
  EXPECT_TRUE(contains(refusal(d), "(sum(v) * 2) is neither a GROUP BY expression nor one aggregate call"));

  d = count_by_tag();
  d.outputs[2].builtin = false;
  EXPECT_TRUE(contains(refusal(d), "not one of PostgreSQL's built-in"));

  d = count_by_tag();
  d.group_by.push_back("region");
  EXPECT_TRUE(contains(refusal(d), "GROUP BY expression region is not an output column"));

  d = count_by_tag();
  d.outputs[1].name = "__incview_count";
  EXPECT_TRUE(contains(refusal(d), "starts with __incview"));

  d = count_by_tag();
  d.problems.push_back("it uses a window function");
  EXPECT_TRUE(contains(refusal(d), "it uses a window function"));
}

TEST(DeltaPlan, HiddenColumnsBehindSumAndAvg) {
  auto d = count_by_tag();
  d.outputs.push_back(delta_agg("a", "avg", "v", "bigint", "numeric"));
  DeltaPlan p = DeltaPlan::qualify(d);
  const auto h = p.hidden_names();
  ASSERT_EQ(h.size(), 4u);
  EXPECT_EQ(h[0], "__incview_count");
  EXPECT_EQ(h[1], "__incview_n_3");
  EXPECT_EQ(h[2], "__incview_n_4");
  EXPECT_EQ(h[3], "__incview_sum_4");
  const std::string q = p.table_query();
  EXPECT_TRUE(contains(q, "pg_catalog.count(*) AS \"__incview_count\"")) << q;
  EXPECT_TRUE(contains(q, "pg_catalog.sum((v)::numeric) AS \"__incview_sum_4\"")) << q;
  EXPECT_TRUE(contains(q, "GROUP BY tag")) << q;
}

TEST(DeltaPlan, CaptureOneRowPerGroupAndStatement) {
  DeltaPlan p = DeltaPlan::qualify(count_by_tag());
  const std::string ins = p.capture("q", false, true);
  EXPECT_TRUE(contains(ins, "FROM incview_new GROUP BY 1")) << ins;
  EXPECT_FALSE(contains(ins, "incview_old"));
  const std::string del = p.capture("q", true, false);
  EXPECT_TRUE(contains(del, "-pg_catalog.count(*)")) << del;
  // an UPDATE: both sides combined, groups whose partials cancel are not queued
  const std::string upd = p.capture("q", true, true);
  EXPECT_TRUE(contains(upd, "UNION ALL")) << upd;
  EXPECT_TRUE(contains(upd, "HAVING pg_catalog.sum(d.\"__incview_dcount\") <> 0 OR")) << upd;
}

TEST(DeltaPlan, WhereAndHavingCarryOver) {
  auto d = count_by_tag();
  d.where = "(v > 0)";
  d.having = "(count(*) > 1)";
  DeltaPlan p = DeltaPlan::qualify(d);
  EXPECT_TRUE(contains(p.capture("q", false, true), "WHERE (v > 0)"));
  EXPECT_TRUE(contains(p.table_query(), "HAVING (count(*) > 1)"));
  // HAVING: every touched group is re-derived from the source
  EXPECT_TRUE(contains(p.fold("t", "q"), "true AS \"__incview_rederive\""));
}

TEST(DeltaPlan, FoldConsumesAndAppliesInOneStatement) {
  auto d = count_by_tag();
  d.outputs.push_back(delta_agg("lo", "min", "v", "integer", "integer"));
  DeltaPlan p = DeltaPlan::qualify(d);
  const std::string f = p.fold("\"public\".\"t\"", "\"incview\".\"delta_1\"");
  EXPECT_EQ(f.rfind("WITH q AS (DELETE FROM \"incview\".\"delta_1\" RETURNING *)", 0), 0u) << f;
  EXPECT_TRUE(contains(f, "del AS (DELETE FROM \"public\".\"t\"")) << f;
  EXPECT_TRUE(contains(f, "upd AS (UPDATE \"public\".\"t\"")) << f;
  EXPECT_TRUE(contains(f, "ins AS (INSERT INTO \"public\".\"t\"")) << f;
  // a deleted value at or below the candidate minimum re-derives the group
  EXPECT_TRUE(contains(f, "OPERATOR(pg_catalog.<=) LEAST(j.\"__incview_t_4\", j.\"__incview_ins_4\")")) << f;
  // sum is NULL when no non-NULL value is left
  EXPECT_TRUE(contains(f, "CASE WHEN (COALESCE(j.\"__incview_tn_3\", 0) + j.\"__incview_dn_3\") = 0 THEN NULL")) << f;
}

namespace {
// SELECT k, count(*) AS n, sum(v) AS s, avg(v) AS a FROM (a UNION ALL b UNION ALL a) GROUP BY k:
// the extractor leaves the expressions undeparsed and gives one map per branch.
DeltaQueryDescription multi_map() {
  DeltaQueryDescription d;
  d.relations = 3;
  d.multi = true;
  d.has_group_by = true;
  DeltaOutput k = delta_group("k");
  k.text.clear();
  DeltaOutput n = delta_agg("n", "count", "", "", "bigint");
  DeltaOutput s = delta_agg("s", "sum", "", "integer", "bigint");
  DeltaOutput a = delta_agg("a", "avg", "", "integer", "numeric");
  for (DeltaOutput* o : {&n, &s, &a}) o->text.clear();
  s.star = a.star = false;
  d.outputs = {k, n, s, a};
  d.sources = {"\"public\".\"a\"", "\"public\".\"b\""};
  d.maps = {{"\"public\".\"a\"", "SELECT 1 AS branch_a1_new", "SELECT 1 AS branch_a1_old"},
            {"\"public\".\"b\"", "SELECT 1 AS branch_b_new", "SELECT 1 AS branch_b_old"},
            {"\"public\".\"a\"", "SELECT 1 AS branch_a2_new", "SELECT 1 AS branch_a2_old"}};
  return d;
}
}  // namespace

TEST(DeltaPlan, MultiMapQualifiesWithoutDeparsedExpressions) {
  DeltaPlan p = DeltaPlan::qualify(multi_map());
  EXPECT_TRUE(p.multi());
  EXPECT_FALSE(p.joins());
  ASSERT_EQ(p.sources().size(), 2u);
}

TEST(DeltaPlan, MultiCaptureReadsEveryMapOfItsSourceOnly) {
  DeltaPlan p = DeltaPlan::qualify(multi_map());
  const std::string ins = p.capture_source("\"incview\".\"delta_1\"", "\"public\".\"a\"", false, true);
  EXPECT_TRUE(contains(ins, "branch_a1_new")) << ins;
  EXPECT_TRUE(contains(ins, "branch_a2_new")) << ins;
  EXPECT_FALSE(contains(ins, "branch_b")) << ins;
  EXPECT_FALSE(contains(ins, "_old")) << ins;
  // two maps of one source: combined per group, cancelled groups dropped
  EXPECT_TRUE(contains(ins, "GROUP BY d.\"k\" HAVING")) << ins;
  // the map's columns, not deparsed expressions
  EXPECT_TRUE(contains(ins, "m.\"__incview_g_1\" AS \"k\"")) << ins;
  EXPECT_TRUE(contains(ins, "pg_catalog.count(m.\"__incview_a_3\")")) << ins;
  const std::string upd = p.capture_source("\"incview\".\"delta_1\"", "\"public\".\"b\"", true, true);
  EXPECT_TRUE(contains(upd, "branch_b_new") && contains(upd, "branch_b_old")) << upd;
  EXPECT_TRUE(contains(upd, "-pg_catalog.count(*)")) << upd;
  const std::string del = p.capture_source("\"incview\".\"delta_1\"", "\"public\".\"b\"", true, false);
  EXPECT_FALSE(contains(del, "HAVING")) << del;  // one map, one side: inserted as aggregated
  EXPECT_THROW(p.capture_source("\"incview\".\"delta_1\"", "\"public\".\"c\"", false, true), Error);
}

TEST(DeltaPlan, MultiHiddenAggregatesNameTheirArgumentByPosition) {
  DeltaPlan p = DeltaPlan::qualify(multi_map());
  const auto h = p.hidden_aggregates();
  ASSERT_EQ(h.size(), 4u);
  EXPECT_EQ(h[0], std::make_pair(std::string("__incview_count"), std::string("pg_catalog.count(*)")));
  EXPECT_EQ(h[1].second, "pg_catalog.count($3)");
  EXPECT_EQ(h[2].second, "pg_catalog.count($4)");
  EXPECT_EQ(h[3], std::make_pair(std::string("__incview_sum_4"), std::string("pg_catalog.sum(($4)::bigint)")));
  p.set_table_query("SELECT deparsed");
  EXPECT_EQ(p.table_query(), "SELECT deparsed");
  // count, sum, avg of integers: no group is re-derived, the fold does not read the sources
  EXPECT_FALSE(contains(p.fold("\"public\".\"t\"", "\"incview\".\"delta_1\""), "SELECT deparsed"));
  // with HAVING every touched group is, through the table query
  auto d = multi_map();
  d.having = "(count(*) > 1)";
  DeltaPlan h_plan = DeltaPlan::qualify(d);
  h_plan.set_table_query("SELECT deparsed");
  EXPECT_TRUE(contains(h_plan.fold("\"public\".\"t\"", "\"incview\".\"delta_1\""), "SELECT deparsed"));
}

TEST(DeltaPlan, MultiRefusalsNameTheColumn) {
  DeltaQueryDescription d = multi_map();
  d.outputs[2].function = "string_agg";
  EXPECT_TRUE(contains(refusal(d), "output column \"s\" uses aggregate string_agg")) << refusal(d);
  d = multi_map();
  d.maps.clear();
  EXPECT_TRUE(contains(refusal(d), "it reads no table")) << refusal(d);
  d = count_by_tag();
  d.relations = 2;
  EXPECT_TRUE(contains(refusal(d), "it reads 2 relations")) << refusal(d);
}

// Float drift (issue 13, item 2): only a float sum/avg gets the folded mark; the fold sets it
// on the groups it writes (without making an unchanged group a write), a build clears it, and
// the re-derive statement marks at most $1 marked groups for re-deriving in the same fold.
TEST(DeltaPlan, FloatSumsMarkFoldedGroups) {
  EXPECT_FALSE(DeltaPlan::qualify(count_by_tag()).has_float_sums());
  for (const std::string t : {"real", "double precision"}) {
    auto d = count_by_tag();
    d.outputs.push_back(delta_agg("f", "avg", "x", t, "double precision"));
    DeltaPlan p = DeltaPlan::qualify(d);
    EXPECT_TRUE(p.has_float_sums()) << t;
    EXPECT_EQ(p.hidden_names().back(), "__incview_folded") << t;
  }
  auto d = count_by_tag();
  d.outputs.push_back(delta_agg("sf", "sum", "x", "double precision", "double precision"));
  DeltaPlan p = DeltaPlan::qualify(d);
  EXPECT_TRUE(contains(p.table_query(), "false AS \"__incview_folded\"")) << p.table_query();
  const std::string f = p.fold("\"public\".\"t\"", "\"incview\".\"delta_1\"");
  EXPECT_TRUE(contains(f, "\"__incview_folded\" = true")) << f;
  EXPECT_FALSE(contains(f, "t.\"__incview_folded\"")) << "the mark is not compared: " << f;
  EXPECT_FALSE(contains(f, "LIMIT $1")) << f;
  const std::string r = p.rederive("\"public\".\"t\"", "\"incview\".\"delta_1\"");
  EXPECT_EQ(r.rfind("WITH qd AS (DELETE FROM \"incview\".\"delta_1\" RETURNING *)", 0), 0u) << r;
  EXPECT_TRUE(contains(r, "r AS (SELECT \"tag\" FROM \"public\".\"t\" AS t WHERE t.\"__incview_folded\" LIMIT $1)"))
      << r;
  EXPECT_TRUE(contains(r, "j.\"__incview_force\"")) << r;
  EXPECT_TRUE(contains(r, "(SELECT pg_catalog.count(*) FROM r)")) << r;
}

// count/sum without HAVING: no group is ever re-derived, so the fold does not carry the
// source query (planning it was most of a one-row fold's cost); min, HAVING and the forced
// re-derive of float sums keep it.
TEST(DeltaPlan, FoldReadsTheSourceOnlyWhenAGroupCanBeRederived) {
  const std::string plain = DeltaPlan::qualify(count_by_tag()).fold("\"public\".\"t\"", "\"incview\".\"delta_1\"");
  EXPECT_FALSE(contains(plain, "fresh")) << plain;
  EXPECT_FALSE(contains(plain, "\"public\".\"events\"")) << plain;
  EXPECT_TRUE(contains(plain, "false AS \"__incview_rederive\"")) << plain;
  EXPECT_TRUE(contains(plain, "> 0 RETURNING 1)")) << plain;

  auto with_min = count_by_tag();
  with_min.outputs.push_back(delta_agg("lo", "min", "v", "integer", "integer"));
  auto with_having = count_by_tag();
  with_having.having = "(count(*) > 1)";
  for (const auto& d : {with_min, with_having}) {
    const std::string f = DeltaPlan::qualify(d).fold("\"public\".\"t\"", "\"incview\".\"delta_1\"");
    EXPECT_TRUE(contains(f, "fresh AS (SELECT s.* FROM (")) << f;
    EXPECT_TRUE(contains(f, " UNION ALL SELECT f.")) << f;
  }
  auto floats = count_by_tag();
  floats.outputs.push_back(delta_agg("sf", "sum", "x", "double precision", "double precision"));
  const DeltaPlan p = DeltaPlan::qualify(floats);
  EXPECT_FALSE(contains(p.fold("\"public\".\"t\"", "\"incview\".\"delta_1\""), "fresh"));
  EXPECT_TRUE(contains(p.rederive("\"public\".\"t\"", "\"incview\".\"delta_1\""), "fresh AS (SELECT s.* FROM ("));
}

TEST(DeltaPlan, FastFoldUpdatesExistingGroupsAndPutsTheRestBack) {
  DeltaPlan p = DeltaPlan::qualify(count_by_tag());
  const std::string f = p.fold_fast("\"public\".\"t\"", "\"incview\".\"delta_1\"");
  // consumes the queue, and in the same statement updates and puts back
  EXPECT_EQ(f.rfind("WITH q AS (DELETE FROM \"incview\".\"delta_1\" RETURNING *)", 0), 0u) << f;
  EXPECT_TRUE(contains(f, "u AS (UPDATE \"public\".\"t\" AS t SET")) << f;
  EXPECT_TRUE(contains(f,
                       "b AS (INSERT INTO \"incview\".\"delta_1\" (\"tag\", \"__incview_dcount\", "
                       "\"__incview_dn_3\", \"__incview_ds_3\")"))
      << f;
  // only groups that exist and keep a count above zero, and whose values change
  EXPECT_TRUE(contains(f, "(t.\"__incview_count\" + a.\"__incview_dcount\") > 0")) << f;
  EXPECT_TRUE(contains(f, "IS DISTINCT FROM ROW(")) << f;
  // everything not updated goes back: a hashed NOT IN over the numbers of the updated groups
  EXPECT_TRUE(contains(f, "RETURNING a.\"__incview_i\")")) << f;
  EXPECT_TRUE(contains(f, "WHERE NOT (a.\"__incview_i\" OPERATOR(pg_catalog.=) ANY (SELECT u.\"__incview_i\" FROM u))"))
      << f;
  // never deletes or inserts stage rows, never reads the source
  EXPECT_FALSE(contains(f, "DELETE FROM \"public\".\"t\"")) << f;
  EXPECT_FALSE(contains(f, "INSERT INTO \"public\".\"t\"")) << f;
  // sum is NULL when no non-NULL value is left
  EXPECT_TRUE(contains(f, "CASE WHEN (t.\"__incview_n_3\" + a.\"__incview_dn_3\") = 0 THEN NULL")) << f;
}

TEST(DeltaPlan, NoFastFoldWhenAGroupMayNeedReDeriving) {
  auto d = count_by_tag();
  d.having = "(count(*) > 1)";
  EXPECT_EQ(DeltaPlan::qualify(d).fold_fast("t", "q"), "");
  d = count_by_tag();
  d.outputs.push_back(delta_agg("lo", "min", "v", "integer", "integer"));
  EXPECT_EQ(DeltaPlan::qualify(d).fold_fast("t", "q"), "");
  d = count_by_tag();
  d.outputs.push_back(delta_agg("m", "sum", "x", "numeric", "numeric"));  // no declared scale
  EXPECT_EQ(DeltaPlan::qualify(d).fold_fast("t", "q"), "");
  // float sums: the fast fold marks the groups it writes, as the full fold does
  d = count_by_tag();
  d.outputs.push_back(delta_agg("f", "avg", "x", "double precision", "double precision"));
  const std::string f = DeltaPlan::qualify(d).fold_fast("t", "q");
  EXPECT_TRUE(contains(f, "\"__incview_folded\" = true")) << f;
  EXPECT_TRUE(contains(f, "\"__incview_sum_4\" = CASE WHEN")) << f;
}

TEST(DeltaPlan, FoldOfOneRowIsTheFastFoldsUpdateWithTheRowAsParameters) {
  DeltaPlan p = DeltaPlan::qualify(count_by_tag());
  const std::string f = p.fold_one("\"public\".\"t\"");
  // the queue's columns in create_queue's order, one parameter each
  EXPECT_EQ(p.queue_columns(),
            (std::vector<std::string>{"\"tag\"", "\"__incview_dcount\"", "\"__incview_dn_3\"", "\"__incview_ds_3\""}));
  EXPECT_TRUE(contains(p.create_queue("q"),
                       "(\"tag\" text, \"__incview_dcount\" bigint NOT NULL, "
                       "\"__incview_dn_3\" bigint NOT NULL, \"__incview_ds_3\""))
      << p.create_queue("q");
  EXPECT_TRUE(contains(f,
                       "FROM (SELECT $1 AS \"tag\", $2 AS \"__incview_dcount\", $3 AS \"__incview_dn_3\", "
                       "$4 AS \"__incview_ds_3\") AS a"))
      << f;
  EXPECT_EQ(f.rfind("UPDATE \"public\".\"t\" AS t SET", 0), 0u) << f;
  // the same guards as the fast fold: an existing group, a count above zero, a change
  EXPECT_TRUE(contains(f, "(t.\"tag\" = a.\"tag\" OR (t.\"tag\" IS NULL AND a.\"tag\" IS NULL))")) << f;
  EXPECT_TRUE(contains(f, "(t.\"__incview_count\" + a.\"__incview_dcount\") > 0")) << f;
  EXPECT_TRUE(contains(f, "IS DISTINCT FROM ROW(")) << f;
  // no queue statement in it: the caller consumes the row
  EXPECT_FALSE(contains(f, "delta")) << f;
  // none where the fast fold has none
  auto d = count_by_tag();
  d.having = "(count(*) > 1)";
  EXPECT_EQ(DeltaPlan::qualify(d).fold_one("t"), "");
  d = count_by_tag();
  d.outputs.push_back(delta_agg("lo", "min", "v", "integer", "integer"));
  EXPECT_EQ(DeltaPlan::qualify(d).fold_one("t"), "");
}
