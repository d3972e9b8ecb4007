#include <gtest/gtest.h>

#include <vector>

#include "core/refresh_steps.hpp"

using namespace incview;

namespace {

struct Call {
  std::optional<std::string> after;
  bool run_failed;
};

// A scripted queue: the i-th call returns results[i] and records what it was given.
struct Script {
  std::vector<std::optional<StepResult>> results;
  std::vector<Call> calls;
  std::optional<StepResult> operator()(const std::optional<std::string>& after, bool run_failed) {
    calls.push_back({after, run_failed});
    return results.at(calls.size() - 1);
  }
};

StepResult step(std::int64_t scopes, std::optional<std::string> last, bool failed = false) {
  return StepResult{scopes, std::move(last), failed};
}

}  // namespace

TEST(RunSteps, EmptyQueueIsOneStep) {
  Script s{{step(0, std::nullopt)}, {}};
  EXPECT_EQ(run_steps(std::ref(s)), 0);
  ASSERT_EQ(s.calls.size(), 1u);
  EXPECT_FALSE(s.calls[0].after.has_value());
}

TEST(RunSteps, ContinuesAfterEachLastKeyAndSums) {
  Script s{{step(1000, "[1000]"), step(1000, "[2000]"), step(7, std::nullopt)}, {}};
  EXPECT_EQ(run_steps(std::ref(s)), 2007);
  ASSERT_EQ(s.calls.size(), 3u);
  EXPECT_EQ(s.calls[1].after, std::optional<std::string>("[1000]"));
  EXPECT_EQ(s.calls[2].after, std::optional<std::string>("[2000]"));
}

TEST(RunSteps, AFailureIsCarriedToLaterSteps) {
  Script s{{step(5, "[5]"), step(0, "[9]", true), step(3, "[12]"), step(0, std::nullopt)}, {}};
  EXPECT_EQ(run_steps(std::ref(s)), 8);
  ASSERT_EQ(s.calls.size(), 4u);
  EXPECT_FALSE(s.calls[0].run_failed);
  EXPECT_FALSE(s.calls[1].run_failed);
  EXPECT_TRUE(s.calls[2].run_failed);
  EXPECT_TRUE(s.calls[3].run_failed);
}

TEST(RunSteps, ARebuildCountsNothingNegative) {
  Script s{{step(-1, std::nullopt)}, {}};
  EXPECT_EQ(run_steps(std::ref(s)), 0);
}

TEST(RunSteps, StopsEarlyWhenAStepSaysSo) {
  Script s{{step(4, "[4]"), std::nullopt, step(100, std::nullopt)}, {}};
  EXPECT_EQ(run_steps(std::ref(s)), 4);
  EXPECT_EQ(s.calls.size(), 2u);
}

// StepRun is what incview.refresh_all carries between its transactions: the same rule, one
// step at a time.
TEST(StepRun, AdvancesLikeRunSteps) {
  StepRun run;
  EXPECT_TRUE(run.advance(step(5, "[5]")));
  EXPECT_EQ(run.after, std::optional<std::string>("[5]"));
  EXPECT_FALSE(run.failed);
  EXPECT_TRUE(run.advance(step(0, "[9]", true)));
  EXPECT_TRUE(run.failed);
  EXPECT_TRUE(run.advance(step(3, "[12]")));
  EXPECT_TRUE(run.failed) << "a failure stays with the run";
  EXPECT_FALSE(run.advance(step(-1, std::nullopt)));
  EXPECT_FALSE(run.after.has_value());
  EXPECT_EQ(run.scopes, 8);
}

TEST(StepRun, StopsWhereRunStepsStops) {
  Script s{{step(1, "[1]"), step(2, "[2]", true), step(0, std::nullopt)}, {}};
  const std::int64_t total = run_steps(std::ref(s));
  StepRun run;
  std::size_t calls = 0;
  for (const auto& r : s.results) {
    ++calls;
    if (!run.advance(*r)) break;
  }
  EXPECT_EQ(calls, s.calls.size());
  EXPECT_EQ(run.scopes, total);
}
