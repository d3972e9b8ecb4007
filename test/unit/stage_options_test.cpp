#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/stage_options.hpp"

using namespace incview;

TEST(StageOptions, EveryEngineRoundTrips) {
  for (Engine e : {Engine::Auto, Engine::Replace, Engine::Diff, Engine::Full}) EXPECT_EQ(parse_engine(to_string(e)), e);
  EXPECT_STREQ(to_string(Engine::Diff), "diff");
}

TEST(StageOptions, EveryPolicyRoundTrips) {
  for (Policy p : {Policy::Continuous, Policy::Interval, Policy::Daily, Policy::Manual})
    EXPECT_EQ(parse_policy(to_string(p)), p);
  EXPECT_STREQ(to_string(Policy::Manual), "manual");
}

TEST(StageOptions, PartitionMethodsRoundTripAndNoneHasNoName) {
  for (PartitionMethod m : {PartitionMethod::List, PartitionMethod::Hash, PartitionMethod::Range})
    EXPECT_EQ(parse_partition_method(to_string(m)), m);
  EXPECT_STREQ(to_string(PartitionMethod::None), "");
  EXPECT_EQ(parse_partition_method(""), std::nullopt);
}

TEST(StageOptions, NamesAreExactAndLowerCase) {
  EXPECT_EQ(parse_engine("Diff"), std::nullopt);
  EXPECT_EQ(parse_engine(" diff"), std::nullopt);
  EXPECT_EQ(parse_engine(""), std::nullopt);
  EXPECT_EQ(parse_policy("hourly"), std::nullopt);
}

TEST(StageOptions, ErrorsNameTheAcceptedValues) {
  EXPECT_EQ(engine_names(), "auto, replace, diff, full and delta");
  EXPECT_EQ(policy_names(), "continuous, interval, daily and manual");
  try {
    engine_or_throw("fast");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.sqlstate(), "22023");
    EXPECT_STREQ(e.what(), "unknown engine \"fast\"");
    EXPECT_EQ(e.detail(), "engines are auto, replace, diff, full and delta");
  }
  EXPECT_EQ(policy_or_throw("daily"), Policy::Daily);
  EXPECT_THROW(policy_or_throw("hourly"), Error);
}
