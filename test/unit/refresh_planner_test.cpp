#include <gtest/gtest.h>

#include "core/refresh_planner.hpp"

using namespace incview;

namespace {

EngineFacts facts(Engine declared, bool unique_key = true, bool downstream = true) {
  EngineFacts f;
  f.declared = declared;
  f.has_unique_key = unique_key;
  f.has_downstream = downstream;
  return f;
}

}  // namespace

TEST(RefreshPlanner, ChoosesBatchesOrFull) {
  RefreshInput in;
  EXPECT_EQ(plan_refresh(in), RefreshMode::Nothing);
  in.dirty = 10;
  in.total = 100;
  EXPECT_EQ(plan_refresh(in), RefreshMode::Batches);
  in.dirty = 51;
  EXPECT_EQ(plan_refresh(in), RefreshMode::Full);
  in.total = 0;  // unknown size: never guess a rebuild
  EXPECT_EQ(plan_refresh(in), RefreshMode::Batches);
  in.facts.declared = Engine::Replace;
  in.total = 100;
  EXPECT_EQ(plan_refresh(in), RefreshMode::Batches);  // only auto switches on the ratio
  in.every_scope = true;
  EXPECT_EQ(plan_refresh(in), RefreshMode::Full);  // a marker always rebuilds
  in = RefreshInput{};
  in.facts.declared = Engine::Full;
  in.dirty = 1;
  EXPECT_EQ(plan_refresh(in), RefreshMode::Full);
}

TEST(RefreshPlanner, ScopesNotShownIndependentAlwaysRebuild) {
  for (Engine e : {Engine::Auto, Engine::Replace, Engine::Diff, Engine::Full}) {
    RefreshInput in;
    in.facts = facts(e);
    in.facts.scopes_independent = false;
    in.dirty = 1;
    in.total = 1000;
    EXPECT_EQ(plan_refresh(in), RefreshMode::Full) << to_string(e);
    EXPECT_EQ(batch_engine(in.facts), Engine::Full) << to_string(e);
  }
}

TEST(RefreshPlanner, DeclaredEnginesAreKept) {
  EXPECT_EQ(batch_engine(facts(Engine::Replace)), Engine::Replace);
  EXPECT_EQ(batch_engine(facts(Engine::Diff)), Engine::Diff);
  EXPECT_EQ(batch_engine(facts(Engine::Full)), Engine::Full);
}

TEST(RefreshPlanner, AutoDiffsWhenOtherStagesRead) {
  EXPECT_EQ(batch_engine(facts(Engine::Auto, true, true)), Engine::Diff);
  EXPECT_EQ(batch_engine(facts(Engine::Auto, false, true)), Engine::Diff);  // multiset diff
  EXPECT_EQ(batch_engine(facts(Engine::Auto, true, false)), Engine::Replace);
  EXPECT_EQ(batch_engine(facts(Engine::Auto, false, false)), Engine::Replace);
}

TEST(RefreshPlanner, DeltaStagesReDeriveScopesByReplace) {
  EXPECT_EQ(batch_engine(facts(Engine::Delta)), Engine::Replace);
  EngineFacts f = facts(Engine::Auto);
  f.delta_active = true;  // auto that chose delta
  EXPECT_EQ(batch_engine(f), Engine::Replace);
  EXPECT_EQ(rebuild_engine(facts(Engine::Delta)), Engine::Full);
}

TEST(RefreshPlanner, AutoReplacesOnCitusAndAsksOnlyWhenItMatters) {
  int asked = 0;
  EngineFacts f = facts(Engine::Auto);
  f.target_is_citus = [&] {
    ++asked;
    return true;
  };
  EXPECT_EQ(batch_engine(f), Engine::Replace);
  EXPECT_EQ(asked, 1);
  f.has_downstream = false;
  EXPECT_EQ(batch_engine(f), Engine::Replace);
  f.declared = Engine::Replace;
  EXPECT_EQ(batch_engine(f), Engine::Replace);
  EXPECT_EQ(asked, 1);  // no catalog lookup when the answer cannot change the engine
}

TEST(RefreshPlanner, OnlyADiffStageRebuildsByDiff) {
  EXPECT_EQ(rebuild_engine(facts(Engine::Diff)), Engine::Diff);
  for (Engine e : {Engine::Auto, Engine::Replace, Engine::Full}) EXPECT_EQ(rebuild_engine(facts(e)), Engine::Full);
}

namespace {
RefreshInput input(Engine engine, std::int64_t dirty, std::int64_t total, double ratio = 0.5) {
  RefreshInput in;
  in.facts.declared = engine;
  in.dirty = dirty;
  in.total = total;
  in.full_ratio = ratio;
  return in;
}
}  // namespace

TEST(PlanRefresh, EveryScopeMarkerRebuildsWhateverTheEngine) {
  for (Engine e : {Engine::Auto, Engine::Replace, Engine::Diff, Engine::Full, Engine::Delta}) {
    RefreshInput in = input(e, 0, 100);
    in.every_scope = true;
    EXPECT_EQ(plan_refresh(in), RefreshMode::Full) << to_string(e);
  }
}

TEST(PlanRefresh, BatchEnginesNeverRebuildForKeys) {
  EXPECT_EQ(plan_refresh(input(Engine::Replace, 1000, 1000)), RefreshMode::Batches);
  EXPECT_EQ(plan_refresh(input(Engine::Diff, 1000, 1000)), RefreshMode::Batches);
}

TEST(PlanRefresh, AutoRebuildsAboveTheRatio) {
  EXPECT_EQ(plan_refresh(input(Engine::Auto, 250, 1000, 0.25)), RefreshMode::Batches);  // at the ratio: batches
  EXPECT_EQ(plan_refresh(input(Engine::Auto, 251, 1000, 0.25)), RefreshMode::Full);
  EXPECT_EQ(plan_refresh(input(Engine::Auto, 1, 1000, 0.25)), RefreshMode::Batches);
}

TEST(PlanRefresh, RatioZeroAlwaysRebuildsRatioOneNever) {
  EXPECT_EQ(plan_refresh(input(Engine::Auto, 1, 1000, 0.0)), RefreshMode::Full);
  EXPECT_EQ(plan_refresh(input(Engine::Auto, 1000, 1000, 1.0)), RefreshMode::Batches);
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

TEST(DiffMayRun, DiffAutoOffCitusOrAUniqueKey) {
  EXPECT_TRUE(diff_may_run(Engine::Diff, false, false));
  EXPECT_TRUE(diff_may_run(Engine::Diff, true, false));  // refused on Citus later, but checked
  EXPECT_TRUE(diff_may_run(Engine::Auto, false, false));
  EXPECT_FALSE(diff_may_run(Engine::Auto, true, false));  // batch_engine: auto never diffs on Citus
  EXPECT_FALSE(diff_may_run(Engine::Replace, false, false));
  EXPECT_FALSE(diff_may_run(Engine::Full, false, false));
  EXPECT_TRUE(diff_may_run(Engine::Replace, false, true));  // set_engine may choose diff later
  EXPECT_TRUE(diff_may_run(Engine::Auto, true, true));
}
