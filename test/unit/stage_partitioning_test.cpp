#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/stage_partitioning.hpp"
#include "test_util.hpp"

using namespace incview;
using incview::test::contains;

TEST(StagePartitioning, ParsesTheThreeForms) {
  auto l = parse_partition_by(" LIST (season_competition_id) ");
  EXPECT_EQ(l.method, PartitionMethod::List);
  EXPECT_EQ(l.column, "season_competition_id");
  EXPECT_TRUE(l.creates_on_demand());
  auto h = parse_partition_by("hash (patient_id) 16");
  EXPECT_EQ(h.modulus, 16);
  EXPECT_FALSE(h.creates_on_demand());
  auto r = parse_partition_by("range (updated_at) 1 month");
  EXPECT_EQ(r.interval, "1 month");
  EXPECT_FALSE(r.numeric_range);
  EXPECT_TRUE(parse_partition_by("range (id) 100000").numeric_range);
  EXPECT_EQ(parse_partition_by("list (\"Mixed Col\")").column, "Mixed Col");
  EXPECT_FALSE(parse_partition_by("").partitioned());
  EXPECT_EQ(partition_clause(h), " PARTITION BY HASH (\"patient_id\")");
}

TEST(StagePartitioning, RejectsBadInput) {
  for (const char* bad : {"list", "list ()", "tree (a)", "hash (a)", "hash (a) x", "hash (a) 1", "range (a)",
                          "list (a, b)", "range (a) 0", "list (a) 5"}) {
    try {
      parse_partition_by(bad);
      FAIL() << "accepted " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.sqlstate(), "22023") << bad;
    }
  }
}

TEST(StagePartitioning, NamesFitInIdentifiers) {
  EXPECT_EQ(partition_name("stats", "3f2a"), "stats_p_3f2a");
  EXPECT_LE(partition_name(std::string(80, 'x'), "0123456789ab").size(), 63u);
}
