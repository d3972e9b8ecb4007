#include <gtest/gtest.h>

#include "core/delta_write_cost.hpp"

using namespace incview;

namespace {
const DeltaShape kDirect{};                                         // one table, plain columns
const DeltaShape kJoin{/*statement_capture=*/true, /*join=*/true};  // capture runs the join
}  // namespace

TEST(DeltaWriteCost, SmallScopesNeverDelta) {
  EXPECT_EQ(auto_delta_choice(kDeltaCrossoverRowsJoin - 1, 0, kJoin), AutoDelta::SmallScopes);
  EXPECT_EQ(auto_delta_choice(0, 0, kDirect), AutoDelta::SmallScopes);
  // small scopes win over a busy source: the NOTICE is only for stages that would be delta
  EXPECT_EQ(auto_delta_choice(1, kAutoDeltaStagesPerSource + 5, kJoin), AutoDelta::SmallScopes);
}

TEST(DeltaWriteCost, LargeScopesDeltaWhileTheSourceHasRoom) {
  EXPECT_EQ(auto_delta_choice(kDeltaCrossoverRowsJoin, 0, kJoin), AutoDelta::Delta);
  EXPECT_EQ(auto_delta_choice(kDeltaCrossoverRowsDirect, 0, kDirect), AutoDelta::Delta);
  EXPECT_EQ(auto_delta_choice(1e6, kAutoDeltaStagesPerSource - 1, kDirect), AutoDelta::Delta);
}

TEST(DeltaWriteCost, LargeScopesOnABusySourceAreDeclined) {
  EXPECT_EQ(auto_delta_choice(kDeltaCrossoverRowsDirect, kAutoDeltaStagesPerSource, kDirect), AutoDelta::SourceBusy);
  EXPECT_EQ(auto_delta_choice(1e6, 200, kJoin), AutoDelta::SourceBusy);
}

TEST(DeltaWriteCost, AutoNeverMakesWhatItWarnsAbout) {
  // auto adds a delta stage only when the others number < the bound: the source then has at
  // most the bound, which never counts as growing; one more (forced) does.
  for (long others = 0; others < 300; ++others)
    if (auto_delta_choice(1e6, others, kDirect) == AutoDelta::Delta) EXPECT_FALSE(delta_write_cost_grows(others + 1));
  EXPECT_FALSE(delta_write_cost_grows(kAutoDeltaStagesPerSource));
  EXPECT_TRUE(delta_write_cost_grows(kAutoDeltaStagesPerSource + 1));
  EXPECT_FALSE(delta_write_cost_grows(0));
}

TEST(DeltaWriteCost, MessagesNameTheStageTheSourceAndTheWayOut) {
  const std::string notice = auto_delta_declined("s2", "public.src", 1);
  EXPECT_NE(notice.find("stage \"s2\""), std::string::npos);
  EXPECT_NE(notice.find("public.src already has 1 delta stage,"), std::string::npos);
  EXPECT_NE(notice.find("capture statement of its own"), std::string::npos);
  EXPECT_NE(auto_delta_declined_hint("s2").find("incview.set_engine('s2', 'delta')"), std::string::npos);
  const std::string warning = forced_delta_warning("s3", "public.src", 3);
  EXPECT_NE(warning.find("makes 3 delta stages on public.src"), std::string::npos);
  EXPECT_NE(forced_delta_hint("s3").find("incview.set_engine('s3', 'auto')"), std::string::npos);
  EXPECT_EQ(delta_write_cost_detail("src", 2).rfind("src has 2 delta stages: ", 0), 0u);
}
