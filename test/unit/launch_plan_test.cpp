#include <gtest/gtest.h>

#include "core/launch_plan.hpp"

using namespace incview;

TEST(DueTime, NothingKnownIsNever) { EXPECT_EQ(due_time({}), kNever); }

TEST(DueTime, PendingWorkIsDueAtOnce) {
  DatabaseDemandFacts d;
  d.work_pending = true;
  d.next_due = 5000;
  EXPECT_LT(due_time(d), 0);
}

TEST(DueTime, PeriodIfDirtyCountsOnlyOnceKeysArrived) {
  DatabaseDemandFacts d;
  d.next_due = 9000;
  d.next_due_if_dirty = 3000;
  EXPECT_EQ(due_time(d), 9000);  // interval stage, no keys: its period does not start anything
  d.dirtied = true;
  d.dirtied_at = 2500;
  EXPECT_EQ(due_time(d), 3000);
}

TEST(DueTime, MaxLagAfterTheFirstKeyWhenEarlier) {
  DatabaseDemandFacts d;
  d.dirtied = true;
  d.dirtied_at = 1000;
  d.next_due_if_dirty = 100000;
  d.min_max_lag_us = 500;
  EXPECT_EQ(due_time(d), 1500);
  d.dirtied_at = kNever - 10;  // no overflow
  EXPECT_EQ(due_time(d), 100000);
}

TEST(LaunchOrder, OldestWaitingFirstTiesById) {
  const std::vector<WaitingDatabase> w = {{7, 300}, {3, 100}, {9, 100}, {1, 200}};
  EXPECT_EQ(launch_order(w, 10), (std::vector<std::size_t>{1, 2, 3, 0}));
  EXPECT_EQ(launch_order(w, 2), (std::vector<std::size_t>{1, 2}));
  EXPECT_TRUE(launch_order(w, 0).empty());
  EXPECT_TRUE(launch_order(w, -1).empty());
}
