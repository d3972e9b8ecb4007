#include <gtest/gtest.h>

#include "core/refresh_planner.hpp"

using namespace incview;

namespace {
RefreshInput input(const std::string& engine, std::int64_t dirty, std::int64_t total, double ratio = 0.5) {
  RefreshInput in;
  in.engine = engine;
  in.dirty = dirty;
  in.total = total;
  in.full_ratio = ratio;
  return in;
}
}  // namespace

TEST(PlanRefresh, NothingQueuedIsNothing) { EXPECT_EQ(plan_refresh(input("auto", 0, 100)), RefreshMode::Nothing); }

TEST(PlanRefresh, EveryScopeMarkerRebuildsWhateverTheEngine) {
  for (const char* engine : {"auto", "replace", "diff", "full"}) {
    RefreshInput in = input(engine, 0, 100);
    in.every_scope = true;
    EXPECT_EQ(plan_refresh(in), RefreshMode::Full) << engine;
  }
}

TEST(PlanRefresh, EngineFullAlwaysRebuilds) { EXPECT_EQ(plan_refresh(input("full", 1, 1000)), RefreshMode::Full); }

TEST(PlanRefresh, BatchEnginesNeverRebuildForKeys) {
  EXPECT_EQ(plan_refresh(input("replace", 1000, 1000)), RefreshMode::Batches);
  EXPECT_EQ(plan_refresh(input("diff", 1000, 1000)), RefreshMode::Batches);
}

TEST(PlanRefresh, AutoRebuildsAboveTheRatio) {
  EXPECT_EQ(plan_refresh(input("auto", 250, 1000, 0.25)), RefreshMode::Batches);  // at the ratio: batches
  EXPECT_EQ(plan_refresh(input("auto", 251, 1000, 0.25)), RefreshMode::Full);
  EXPECT_EQ(plan_refresh(input("auto", 1, 1000, 0.25)), RefreshMode::Batches);
}

TEST(PlanRefresh, AutoWithUnknownScopeCountBatches) {
  EXPECT_EQ(plan_refresh(input("auto", 1000000, 0)), RefreshMode::Batches);
}

TEST(PlanRefresh, RatioZeroAlwaysRebuildsRatioOneNever) {
  EXPECT_EQ(plan_refresh(input("auto", 1, 1000, 0.0)), RefreshMode::Full);
  EXPECT_EQ(plan_refresh(input("auto", 1000, 1000, 1.0)), RefreshMode::Batches);
}

TEST(PlanRefresh, DefaultCrossoverIsAShare) {
  // bench/rebuild.md: where a rebuild by storage swap starts beating batches.
  EXPECT_GT(kDefaultFullRefreshRatio, 0.0);
  EXPECT_LT(kDefaultFullRefreshRatio, 1.0);
}

TEST(PlanRefresh, ModesHaveNames) {
  EXPECT_STREQ(to_string(RefreshMode::Nothing), "nothing");
  EXPECT_STREQ(to_string(RefreshMode::Batches), "batches");
  EXPECT_STREQ(to_string(RefreshMode::Full), "full");
}
