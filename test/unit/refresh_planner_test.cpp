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
  EXPECT_EQ(plan_refresh(in), RefreshMode::Full);     // a marker always rebuilds
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

TEST(RefreshPlanner, AutoDiffsOnlyWithAUniqueKeyAndReaders) {
  EXPECT_EQ(batch_engine(facts(Engine::Auto, true, true)), Engine::Diff);
  EXPECT_EQ(batch_engine(facts(Engine::Auto, false, true)), Engine::Replace);
  EXPECT_EQ(batch_engine(facts(Engine::Auto, true, false)), Engine::Replace);
}

TEST(RefreshPlanner, AutoReplacesOnCitusAndAsksOnlyWhenItMatters) {
  int asked = 0;
  EngineFacts f = facts(Engine::Auto);
  f.target_is_citus = [&] { ++asked; return true; };
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
