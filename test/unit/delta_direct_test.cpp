#include <gtest/gtest.h>

#include "core/delta_direct.hpp"
#include "delta_outputs.hpp"

using namespace incview;
using incview::test::delta_agg;
using incview::test::delta_group;

namespace {

DeltaQueryDescription single(std::vector<DeltaOutput> outs) {
  DeltaQueryDescription d;
  d.relations = 1;
  d.source = "\"public\".\"events\"";
  d.sources = {d.source};
  d.has_group_by = true;
  d.group_by = {"tag"};
  d.outputs = std::move(outs);
  return d;
}

std::string kinds(const std::vector<DirectPart>& parts) {
  static const char* names[] = {"key", "count", "n", "sum", "scale", "ins", "del"};
  std::string s;
  for (const auto& p : parts) s += std::string(names[static_cast<int>(p.kind)]) + " ";
  return s;
}

}  // namespace

TEST(DeltaDirect, PartsFollowTheQueueColumns) {
  auto plan = DeltaPlan::qualify(
      single({delta_group("tag"), delta_agg("n", "count", "", ""), delta_agg("c", "count", "v", "any"),
              delta_agg("s", "sum", "v", "integer"), delta_agg("a", "avg", "x", "numeric"),
              delta_agg("lo", "min", "\"My Col\"", "integer")}));
  const auto parts = direct_parts(plan);
  // queue: tag, dcount, dn_2, dn_3, ds_3, dn_4, ds_4, dscale_4, ins_5, del_5
  EXPECT_EQ(kinds(parts), "key count n n sum n sum scale ins del ");
  EXPECT_EQ(parts[4].arg_type, "integer");
  EXPECT_EQ(parts[4].partial_type, "bigint");
  EXPECT_EQ(parts[6].partial_type, "numeric");
  EXPECT_EQ(parts[8].text, "\"My Col\"");
  EXPECT_EQ(parse_direct(format_direct(parts)).size(), parts.size());
  EXPECT_EQ(format_direct(parse_direct(format_direct(parts))), format_direct(parts));
}

TEST(DeltaDirect, FixedScaleNumericHasNoScalePart) {
  auto plan = DeltaPlan::qualify(single({delta_group("tag"), delta_agg("s", "sum", "x", "numeric", "bigint", true)}));
  EXPECT_EQ(kinds(direct_parts(plan)), "key count n sum ");
}

TEST(DeltaDirect, OnlyPlainColumnsWithoutWhere) {
  auto expr = single({delta_group("tag"), delta_agg("s", "sum", "v + 1", "integer")});
  EXPECT_TRUE(direct_parts(DeltaPlan::qualify(expr)).empty());
  auto key = single({delta_group("tag"), delta_agg("n", "count", "", "")});
  key.outputs[0].text = "lower(tag)";
  key.group_by = {"lower(tag)"};
  EXPECT_TRUE(direct_parts(DeltaPlan::qualify(key)).empty());
  auto where = single({delta_group("tag"), delta_agg("n", "count", "", "")});
  where.where = "v > 0";
  EXPECT_TRUE(direct_parts(DeltaPlan::qualify(where)).empty());
}

TEST(DeltaDirect, PlainIdentifiers) {
  EXPECT_TRUE(plain_identifier("tag"));
  EXPECT_TRUE(plain_identifier("_x1$"));
  EXPECT_TRUE(plain_identifier("\"Tag\""));
  EXPECT_TRUE(plain_identifier("\"a\"\"b\""));
  EXPECT_FALSE(plain_identifier("Tag"));  // deparse would quote it
  EXPECT_FALSE(plain_identifier("1"));
  EXPECT_FALSE(plain_identifier("'x'::text"));
  EXPECT_FALSE(plain_identifier("\"a\"b\""));
  EXPECT_FALSE(plain_identifier("\"a\nb\""));
  EXPECT_FALSE(plain_identifier("t.tag"));
}

TEST(DeltaDirect, MalformedTextParsesToNothing) {
  EXPECT_TRUE(parse_direct("key\t\t\ttag").empty());  // no newline
  EXPECT_TRUE(parse_direct("bogus\t\t\ttag\n").empty());
  EXPECT_TRUE(parse_direct("sum\t\t\tv\n").empty());  // no types
  EXPECT_TRUE(parse_direct("key\t\t\tlower(tag)\n").empty());
  EXPECT_EQ(parse_direct("key\t\t\ttag\ncount\t\t\t\n").size(), 2u);
}

TEST(DeltaDirect, UpdateRowsByKeys) {
  const KeyChange same{true, false}, same_id{true, true}, moved{false, true}, maybe{false, false};
  EXPECT_EQ(update_rows({}), UpdateRows::One);  // no GROUP BY: one group
  EXPECT_EQ(update_rows({same}), UpdateRows::One);
  EXPECT_EQ(update_rows({same_id, same}), UpdateRows::One);
  EXPECT_EQ(update_rows({moved}), UpdateRows::Two);
  EXPECT_EQ(update_rows({same, moved}), UpdateRows::Two);
  // numeric 1.0 -> 1.00, text under a nondeterministic collation: maybe one group, maybe two
  EXPECT_EQ(update_rows({maybe}), UpdateRows::Statement);
  EXPECT_EQ(update_rows({moved, maybe}), UpdateRows::Statement);
  EXPECT_EQ(update_rows({same, maybe}), UpdateRows::Statement);
}

TEST(DeltaDirect, StayedRowQueuedAsTheStatementsHaving) {
  auto sums = DeltaPlan::qualify(single({delta_group("tag"), delta_agg("n", "count", "", ""),
                                         delta_agg("s", "sum", "v", "integer")}));
  const auto parts = direct_parts(sums);  // key count n sum
  ASSERT_EQ(kinds(parts), "key count n sum ");
  EXPECT_FALSE(same_group_queued(parts, {false, false, false, false}));  // an UPDATE of another column
  EXPECT_TRUE(same_group_queued(parts, {false, false, false, true}));    // the sum moved
  EXPECT_TRUE(same_group_queued(parts, {false, false, true, false}));    // v became NULL
  EXPECT_FALSE(same_group_queued(parts, {true, false, false, false}));   // a key's value does not count
  auto ext = DeltaPlan::qualify(single({delta_group("tag"), delta_agg("lo", "min", "v", "integer", "integer")}));
  const auto ext_parts = direct_parts(ext);
  EXPECT_TRUE(same_group_queued(ext_parts, std::vector<bool>(ext_parts.size(), false)));  // min/max: always
  auto scale = DeltaPlan::qualify(single({delta_group("tag"), delta_agg("s", "sum", "x", "numeric", "numeric")}));
  const auto scale_parts = direct_parts(scale);
  ASSERT_EQ(kinds(scale_parts), "key count n sum scale ");
  EXPECT_TRUE(same_group_queued(scale_parts, std::vector<bool>(scale_parts.size(), false)));  // max(scale): always
}
