#include <gtest/gtest.h>

#include "core/graph_dot.hpp"
#include "test_util.hpp"

using namespace incview;
using incview::test::contains;

TEST(GraphDot, TablesStagesAndStageEdges) {
  std::vector<DotStage> stages = {{"up", "public.up", "patient_id", "continuous", 3, false},
                                  {"down \"x\"", "public.down", "location_id", "manual", 0, true}};
  std::vector<DotSource> sources = {{"up", "public.meds", "same", ""}, {"down \"x\"", "public.up", "lookup", "up"}};
  const std::string dot = graph_dot(stages, sources);
  EXPECT_TRUE(contains(dot, "\"table:public.meds\" [shape=box"));
  EXPECT_TRUE(contains(dot, "\"table:public.meds\" -> \"stage:up\";"));
  EXPECT_TRUE(contains(dot, "\"stage:up\" -> \"stage:down \\\"x\\\"\" [label=\"lookup\""));
  EXPECT_FALSE(contains(dot, "table:public.up"));  // a stage's table is drawn as the stage
  EXPECT_TRUE(contains(dot, "dirty: 3"));
  EXPECT_TRUE(contains(dot, "dirty: all"));
  EXPECT_EQ(dot.rfind("digraph incview {", 0), 0u);
}
