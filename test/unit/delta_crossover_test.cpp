#include <gtest/gtest.h>

#include <cmath>

#include "delta_outputs.hpp"
#include "test_util.hpp"

#include "core/delta_crossover.hpp"

using namespace incview;
using incview::test::contains;
using incview::test::delta_agg;
using incview::test::delta_group;

namespace {

// SELECT k, count(*), sum(v) FROM t GROUP BY k: direct capture's shape.
DeltaQueryDescription plain() {
  DeltaQueryDescription d;
  d.relations = 1;
  d.source = "\"public\".\"t\"";
  d.sources = {d.source};
  d.has_group_by = true;
  d.group_by = {"k"};
  d.outputs = {delta_group("k", "integer"), delta_agg("n", "count", "", ""),
               delta_agg("s", "sum", "v", "integer", "bigint")};
  return d;
}

}  // namespace

TEST(DeltaCrossover, PlainColumnsOfOneTableAreCapturedRowByRow) {
  const DeltaShape s = delta_shape(plain());
  EXPECT_FALSE(s.statement_capture);
  EXPECT_FALSE(s.join);
  EXPECT_FALSE(s.extremes);
  EXPECT_FALSE(s.having);
  EXPECT_EQ(delta_crossover_rows(s), kDeltaCrossoverRowsDirect);
}

TEST(DeltaCrossover, DirectCaptureShapesPayOffFromOneRowPerScope) {
  // bench/delta.md "Crossover by shape": delta's refresh cheaper at every size from 1 source
  // row per scope, and a one-row write costs what key capture costs.
  const DeltaShape s = delta_shape(plain());
  EXPECT_TRUE(delta_pays_off(1, s));
  EXPECT_TRUE(delta_pays_off(10, s));
  EXPECT_FALSE(delta_pays_off(0.5, s));  // an empty or unanalyzed source: no
  EXPECT_FALSE(delta_pays_off(0, s));
}

TEST(DeltaCrossover, MinMaxKeepsDirectCaptureAndItsThreshold) {
  DeltaQueryDescription d = plain();
  d.outputs.push_back(delta_agg("lo", "min", "v", "integer", "integer"));
  const DeltaShape s = delta_shape(d);
  EXPECT_TRUE(s.extremes);
  EXPECT_FALSE(s.statement_capture);
  EXPECT_EQ(delta_crossover_rows(s), kDeltaCrossoverRowsDirect);
}

TEST(DeltaCrossover, StatementCaptureNeedsLargerScopes) {
  DeltaQueryDescription where = plain();
  where.where = "v >= 0";
  DeltaQueryDescription expr = plain();
  expr.outputs[2] = delta_agg("s", "sum", "(v * 2)", "integer", "bigint");
  DeltaQueryDescription key_expr = plain();
  key_expr.outputs[0] = delta_group("lower(k)");
  DeltaQueryDescription union_all = plain();
  union_all.multi = true;
  union_all.relations = 2;
  for (const auto& d : {where, expr, key_expr, union_all}) {
    const DeltaShape s = delta_shape(d);
    EXPECT_TRUE(s.statement_capture);
    EXPECT_FALSE(s.join);
    EXPECT_EQ(delta_crossover_rows(s), kDeltaCrossoverRowsStatement);
    EXPECT_FALSE(delta_pays_off(kDeltaCrossoverRowsStatement - 1, s));
    EXPECT_TRUE(delta_pays_off(kDeltaCrossoverRowsStatement, s));
  }
  EXPECT_GT(kDeltaCrossoverRowsStatement, kDeltaCrossoverRowsDirect);
}

TEST(DeltaCrossover, JoinsNeedTheLargestScopes) {
  DeltaQueryDescription join = plain();
  join.multi = join.join = true;
  join.relations = 2;
  const DeltaShape s = delta_shape(join);
  EXPECT_TRUE(s.statement_capture);
  EXPECT_TRUE(s.join);
  EXPECT_EQ(delta_crossover_rows(s), kDeltaCrossoverRowsJoin);
  EXPECT_FALSE(delta_pays_off(kDeltaCrossoverRowsJoin - 1, s));
  EXPECT_TRUE(delta_pays_off(kDeltaCrossoverRowsJoin, s));
  EXPECT_GT(kDeltaCrossoverRowsJoin, kDeltaCrossoverRowsStatement);
}

TEST(DeltaCrossover, HavingOnlyForSmallGroups) {
  // bench/delta.md "Crossover by shape": with HAVING delta was cheaper at 1 and 10 source rows
  // per scope and dearer from 100 (1 % of the scopes changed) and from 1,000 (one row).
  DeltaQueryDescription d = plain();
  d.having = "count(*) > 1";
  const DeltaShape s = delta_shape(d);
  EXPECT_TRUE(s.having);
  EXPECT_EQ(delta_crossover_max_rows(s), kDeltaHavingMaxRows);
  EXPECT_TRUE(delta_pays_off(1, s));
  EXPECT_TRUE(delta_pays_off(kDeltaHavingMaxRows, s));
  EXPECT_FALSE(delta_pays_off(kDeltaHavingMaxRows + 1, s));
  EXPECT_FALSE(delta_pays_off(1e12, s));
  EXPECT_TRUE(std::isinf(delta_crossover_max_rows(delta_shape(plain()))));
  // a join with HAVING: from 100 up to 10, never; a WHERE with HAVING: exactly 10
  DeltaQueryDescription where = d;
  where.where = "v > 0";
  EXPECT_TRUE(delta_pays_off(10, delta_shape(where)));
  EXPECT_FALSE(delta_pays_off(9, delta_shape(where)));
  d.multi = d.join = true;
  for (double rows : {1.0, 10.0, 100.0, 1e6}) EXPECT_FALSE(delta_pays_off(rows, delta_shape(d)));
}

TEST(DeltaCrossover, ReasonsSayTheShapeAndTheThreshold) {
  EXPECT_TRUE(
      contains(delta_crossover_reason(delta_shape(plain())), "captured row by row: from 1 source row per scope"));
  DeltaQueryDescription join = plain();
  join.multi = join.join = true;
  EXPECT_TRUE(contains(delta_crossover_reason(delta_shape(join)), "a join"));
  EXPECT_TRUE(contains(delta_crossover_reason(delta_shape(join)), "from 100 source rows per scope"));
  DeltaQueryDescription where = plain();
  where.where = "v > 0";
  EXPECT_TRUE(contains(delta_crossover_reason(delta_shape(where)), "statement per write: from 10 source rows"));
  DeltaQueryDescription having = plain();
  having.having = "sum(v) > 0";
  EXPECT_TRUE(contains(delta_crossover_reason(delta_shape(having)), "up to 10 source rows per scope"));
  having.multi = having.join = true;
  EXPECT_TRUE(contains(delta_crossover_reason(delta_shape(having)),
                       "HAVING (its fold re-derives every group it touches): never"));
}
