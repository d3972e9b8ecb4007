#include "core/stage_graph.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace incview {
namespace {

using Names = std::vector<std::string>;

// Runs `f`, expecting an incview::Error with `sqlstate`; returns its message.
template <typename F>
std::string error_of(F&& f, const std::string& sqlstate) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.sqlstate(), sqlstate) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "expected incview::Error " << sqlstate;
  return {};
}

void expect_topological(const StageGraph& g, const Names& order) {
  ASSERT_EQ(order.size(), g.size());
  std::map<std::string, std::size_t> pos;
  for (std::size_t i = 0; i < order.size(); ++i) pos[order[i]] = i;
  ASSERT_EQ(pos.size(), order.size()) << "a stage appears twice";
  for (const GraphEdge& e : g.edges()) {
    ASSERT_LT(pos.at(e.upstream), pos.at(e.downstream)) << e.upstream << " -> " << e.downstream;
  }
}

void expect_levels(const StageGraph& g, const std::vector<Names>& levels) {
  std::map<std::string, std::size_t> level;
  for (std::size_t k = 0; k < levels.size(); ++k) {
    ASSERT_FALSE(levels[k].empty()) << "level " << k;
    ASSERT_TRUE(std::is_sorted(levels[k].begin(), levels[k].end())) << "level " << k;
    for (const std::string& s : levels[k]) ASSERT_TRUE(level.emplace(s, k).second) << s;
  }
  ASSERT_EQ(level.size(), g.size());
  std::map<std::string, std::size_t> expected;  // 1 + max level of upstreams, or 0
  for (const GraphEdge& e : g.edges()) {
    expected[e.downstream] = std::max(expected[e.downstream], level.at(e.upstream) + 1);
  }
  for (const auto& [stage, k] : level) {
    auto it = expected.find(stage);
    ASSERT_EQ(k, it == expected.end() ? 0 : it->second) << stage;
  }
}

// Reference for the tie rule, on names rather than ranks: always take the smallest ready stage.
Names smallest_first_order(const StageGraph& g) {
  std::map<std::string, std::size_t> indegree;
  for (const std::string& s : g.stages()) indegree[s] = 0;
  for (const GraphEdge& e : g.edges()) ++indegree[e.downstream];
  std::set<std::string> ready;
  for (const auto& [s, d] : indegree) {
    if (d == 0) ready.insert(s);
  }
  Names order;
  while (!ready.empty()) {
    std::string s = *ready.begin();
    ready.erase(ready.begin());
    order.push_back(s);
    for (const std::string& w : g.downstreams(s)) {
      if (--indegree[w] == 0) ready.insert(w);
    }
  }
  return order;
}

// Checks `cycle` is a real cycle of `g`, with no repeats, starting from its smallest name.
void expect_cycle(const StageGraph& g, const Names& cycle) {
  ASSERT_FALSE(cycle.empty());
  ASSERT_EQ(std::set<std::string>(cycle.begin(), cycle.end()).size(), cycle.size());
  ASSERT_EQ(cycle.front(), *std::min_element(cycle.begin(), cycle.end()));
  for (std::size_t i = 0; i < cycle.size(); ++i) {
    const std::string& next = cycle[(i + 1) % cycle.size()];
    Names down = g.downstreams(cycle[i]);
    ASSERT_TRUE(std::binary_search(down.begin(), down.end(), next)) << cycle[i] << " -> " << next;
  }
}

TEST(StageGraph, EmptyGraph) {
  StageGraph g;
  EXPECT_EQ(g.size(), 0u);
  EXPECT_EQ(g.edge_count(), 0u);
  EXPECT_FALSE(g.has_stage("a"));
  EXPECT_TRUE(g.stages().empty());
  EXPECT_TRUE(g.edges().empty());
  EXPECT_TRUE(g.find_cycle().empty());
  EXPECT_TRUE(g.topological_order().empty());
  EXPECT_TRUE(g.levels().empty());
  EXPECT_TRUE(g.cycle_if_added("a", "b").empty());
}

TEST(StageGraph, AddingIsIdempotent) {
  StageGraph g;
  g.add_stage("a");
  g.add_stage("a");
  g.add_edge("a", "b");
  g.add_edge("a", "b");
  g.add_stage("b");
  EXPECT_EQ(g.size(), 2u);
  EXPECT_EQ(g.edge_count(), 1u);
  EXPECT_TRUE(g.has_stage("b"));
  EXPECT_EQ(g.stages(), (Names{"a", "b"}));
  EXPECT_EQ(g.edges(), (std::vector<GraphEdge>{{"a", "b"}}));
}

TEST(StageGraph, EdgesSortedByUpstreamThenDownstream) {
  StageGraph g;
  g.add_edge("b", "z");
  g.add_edge("a", "y");
  g.add_edge("b", "c");
  g.add_edge("a", "x");
  EXPECT_EQ(g.edges(), (std::vector<GraphEdge>{{"a", "x"}, {"a", "y"}, {"b", "c"}, {"b", "z"}}));
}

TEST(StageGraph, Chain) {
  // Names run against the dependency order, so sorting by name alone would be wrong.
  StageGraph g;
  g.add_edge("c", "b");
  g.add_edge("b", "a");
  EXPECT_EQ(g.topological_order(), (Names{"c", "b", "a"}));
  EXPECT_EQ(g.levels(), (std::vector<Names>{{"c"}, {"b"}, {"a"}}));
  EXPECT_TRUE(g.find_cycle().empty());
}

TEST(StageGraph, Diamond) {
  StageGraph g;
  g.add_edge("top", "right");
  g.add_edge("top", "left");
  g.add_edge("right", "bottom");
  g.add_edge("left", "bottom");
  EXPECT_EQ(g.topological_order(), (Names{"top", "left", "right", "bottom"}));
  EXPECT_EQ(g.upstreams("bottom"), (Names{"left", "right"}));
  EXPECT_EQ(g.downstreams("top"), (Names{"left", "right"}));
  EXPECT_TRUE(g.upstreams("top").empty());
  EXPECT_TRUE(g.downstreams("bottom").empty());
}

TEST(StageGraph, TiesOrderedByName) {
  StageGraph g;
  g.add_stage("z");
  g.add_stage("m");
  g.add_edge("q", "b");
  g.add_stage("a");
  // The smallest ready stage goes next, even past the rest of its level.
  EXPECT_EQ(g.topological_order(), (Names{"a", "m", "q", "b", "z"}));
  EXPECT_EQ(g.levels(), (std::vector<Names>{{"a", "m", "q", "z"}, {"b"}}));
}

TEST(StageGraph, LevelsOfDiamond) {
  StageGraph g;
  g.add_edge("a", "b");
  g.add_edge("a", "c");
  g.add_edge("b", "d");
  g.add_edge("c", "d");
  g.add_edge("a", "d");  // a shortcut does not pull d up: its level is 1 + the max
  g.add_stage("e");
  EXPECT_EQ(g.levels(), (std::vector<Names>{{"a", "e"}, {"b", "c"}, {"d"}}));
}

TEST(StageGraph, SelfLoop) {
  StageGraph g;
  g.add_edge("a", "b");
  g.add_edge("b", "b");
  EXPECT_EQ(g.size(), 2u);
  EXPECT_EQ(g.find_cycle(), (Names{"b"}));
  EXPECT_EQ(g.upstreams("b"), (Names{"a", "b"}));
  std::string msg = error_of([&] { g.topological_order(); }, sqlstate::kInvalidRecursion);
  EXPECT_EQ(msg, "stage graph has a cycle: b -> b");
  error_of([&] { g.levels(); }, sqlstate::kInvalidRecursion);
}

TEST(StageGraph, ThreeCycleReportedFullyFromSmallestName) {
  StageGraph g;
  g.add_edge("0source", "delta");  // smaller than every name on the cycle, but not on it
  g.add_edge("delta", "beta");
  g.add_edge("beta", "gamma");
  g.add_edge("gamma", "delta");
  g.add_edge("gamma", "zeta");
  EXPECT_EQ(g.find_cycle(), (Names{"beta", "gamma", "delta"}));
  std::string msg = error_of([&] { g.topological_order(); }, sqlstate::kInvalidRecursion);
  EXPECT_EQ(msg, "stage graph has a cycle: beta -> gamma -> delta -> beta");
  msg = error_of([&] { g.levels(); }, sqlstate::kInvalidRecursion);
  EXPECT_EQ(msg, "stage graph has a cycle: beta -> gamma -> delta -> beta");
}

TEST(StageGraph, FindCycleIsTheShortestThroughTheSmallestStage) {
  StageGraph g;
  g.add_edge("a", "b");
  g.add_edge("b", "c");
  g.add_edge("c", "d");
  g.add_edge("d", "a");
  g.add_edge("b", "d");  // shortcut: a -> b -> d -> a
  g.add_edge("c", "a");  // also a -> b -> c -> a; equal length, c < d wins
  EXPECT_EQ(g.find_cycle(), (Names{"a", "b", "c"}));
}

TEST(StageGraph, CycleIfAdded) {
  StageGraph g;
  g.add_edge("a", "b");
  g.add_edge("b", "c");
  g.add_edge("c", "d");
  g.add_edge("a", "d");
  EXPECT_EQ(g.cycle_if_added("c", "a"), (Names{"a", "b", "c"}));
  EXPECT_EQ(g.cycle_if_added("d", "a"), (Names{"a", "d"}));  // shortest path back
  EXPECT_EQ(g.cycle_if_added("d", "b"), (Names{"b", "c", "d"}));
  EXPECT_TRUE(g.cycle_if_added("a", "c").empty());  // a forward edge is fine
  EXPECT_TRUE(g.cycle_if_added("a", "b").empty());  // so is an existing one
  EXPECT_EQ(g.cycle_if_added("b", "b"), (Names{"b"}));
  EXPECT_EQ(g.cycle_if_added("new", "new"), (Names{"new"}));
  EXPECT_TRUE(g.cycle_if_added("new", "a").empty());
  EXPECT_TRUE(g.cycle_if_added("d", "new").empty());
  // Asking does not change the graph.
  EXPECT_EQ(g.size(), 4u);
  EXPECT_EQ(g.edge_count(), 4u);
  EXPECT_TRUE(g.find_cycle().empty());
}

TEST(StageGraph, CycleIfAddedStartsFromSmallestName) {
  StageGraph g;
  g.add_edge("z", "b");
  g.add_edge("b", "m");
  EXPECT_EQ(g.cycle_if_added("m", "z"), (Names{"b", "m", "z"}));
  g.add_edge("m", "z");
  EXPECT_EQ(g.find_cycle(), (Names{"b", "m", "z"}));
}

TEST(StageGraph, UnknownStage) {
  StageGraph g;
  g.add_edge("a", "b");
  std::string msg = error_of([&] { g.upstreams("nope"); }, sqlstate::kUndefinedObject);
  EXPECT_EQ(msg, "stage \"nope\" does not exist");
  error_of([&] { g.downstreams("nope"); }, sqlstate::kUndefinedObject);
  EXPECT_FALSE(g.has_stage("nope"));
  EXPECT_EQ(g.size(), 2u);
}

TEST(StageGraph, FormatCycle) {
  EXPECT_EQ(format_cycle({}), "");
  EXPECT_EQ(format_cycle({"a"}), "a -> a");
  EXPECT_EQ(format_cycle({"a", "b", "c"}), "a -> b -> c -> a");
}

TEST(StageGraph, CopyAndMove) {
  StageGraph g;
  g.add_edge("a", "b");
  StageGraph copy = g;
  copy.add_edge("b", "c");
  EXPECT_EQ(g.size(), 2u);
  EXPECT_EQ(copy.size(), 3u);

  StageGraph moved = std::move(copy);
  EXPECT_EQ(moved.topological_order(), (Names{"a", "b", "c"}));
  EXPECT_EQ(copy.size(), 0u);  // NOLINT(bugprone-use-after-move): documented as empty
  copy.add_stage("x");
  EXPECT_EQ(copy.stages(), (Names{"x"}));

  g = moved;
  EXPECT_EQ(g.size(), 3u);
  g = std::move(moved);
  EXPECT_EQ(g.size(), 3u);
  EXPECT_EQ(moved.size(), 0u);  // NOLINT(bugprone-use-after-move)
}

TEST(StageGraph, LongChain) {
  constexpr int kN = 10000;
  // Stage i reads stage i+1, so dependency order is the reverse of name order.
  auto name = [](int i) {
    std::string s = std::to_string(i);
    return "s" + std::string(5 - s.size(), '0') + s;
  };
  StageGraph g;
  for (int i = kN - 1; i > 0; --i) g.add_edge(name(i), name(i - 1));
  ASSERT_EQ(g.size(), static_cast<std::size_t>(kN));

  Names order = g.topological_order();
  expect_topological(g, order);
  EXPECT_EQ(order.front(), name(kN - 1));
  EXPECT_EQ(order.back(), name(0));

  std::vector<Names> levels = g.levels();
  ASSERT_EQ(levels.size(), static_cast<std::size_t>(kN));
  expect_levels(g, levels);

  EXPECT_TRUE(g.find_cycle().empty());
  Names cycle = g.cycle_if_added(name(0), name(kN - 1));
  ASSERT_EQ(cycle.size(), static_cast<std::size_t>(kN));
  EXPECT_EQ(cycle.front(), name(0));
  EXPECT_EQ(cycle[1], name(kN - 1));
}

TEST(StageGraph, RandomDag) {
  constexpr int kStages = 5000;
  constexpr std::size_t kEdges = 20000;
  std::mt19937 rng(20240607);
  // A hidden order unrelated to names; edges only go forward in it, so the graph is a DAG.
  std::vector<int> hidden(kStages);
  for (int i = 0; i < kStages; ++i) hidden[i] = i;
  std::shuffle(hidden.begin(), hidden.end(), rng);
  auto name = [](int i) { return "stage_" + std::to_string(i); };

  StageGraph g;
  for (int i : hidden) g.add_stage(name(i));
  std::uniform_int_distribution<int> pick(0, kStages - 1);
  while (g.edge_count() < kEdges) {
    int a = pick(rng), b = pick(rng);
    if (a == b) continue;
    if (a > b) std::swap(a, b);
    g.add_edge(name(hidden[a]), name(hidden[b]));
  }

  Names order = g.topological_order();
  expect_topological(g, order);
  EXPECT_EQ(order, smallest_first_order(g));
  std::vector<Names> levels = g.levels();
  expect_levels(g, levels);
  EXPECT_GT(levels.size(), 1u);
  EXPECT_TRUE(g.find_cycle().empty());

  // Closing a longest path from a root to the deepest stage must yield a valid cycle.
  std::string deepest = levels.back().front();
  std::string root = deepest;
  for (std::size_t k = levels.size() - 1; k > 0; --k) {
    for (const std::string& u : g.upstreams(root)) {
      if (std::binary_search(levels[k - 1].begin(), levels[k - 1].end(), u)) {
        root = u;
        break;
      }
    }
  }
  ASSERT_TRUE(std::binary_search(levels[0].begin(), levels[0].end(), root));
  Names would = g.cycle_if_added(deepest, root);
  ASSERT_GE(would.size(), 2u);
  g.add_edge(deepest, root);
  expect_cycle(g, would);
  Names found = g.find_cycle();
  expect_cycle(g, found);
  error_of([&] { g.levels(); }, sqlstate::kInvalidRecursion);
}

TEST(StageGraph, BigCycleFoundInFull) {
  constexpr int kStages = 5000;
  std::mt19937 rng(7);
  std::vector<std::string> ring;
  for (int i = 0; i < kStages; ++i) ring.push_back("r" + std::to_string(i));
  std::shuffle(ring.begin(), ring.end(), rng);

  StageGraph g;
  for (int i = 0; i < kStages; ++i) g.add_edge(ring[i], ring[(i + 1) % kStages]);
  g.add_edge("a_feeder", ring[0]);  // off the cycle, and smaller than every name on it
  g.add_edge(ring[17], "zz_reader");

  Names cycle = g.find_cycle();
  ASSERT_EQ(cycle.size(), static_cast<std::size_t>(kStages));
  expect_cycle(g, cycle);
  EXPECT_EQ(cycle.front(), *std::min_element(ring.begin(), ring.end()));

  std::string msg = error_of([&] { g.topological_order(); }, sqlstate::kInvalidRecursion);
  EXPECT_EQ(msg, "stage graph has a cycle: " + format_cycle(cycle));
  error_of([&] { g.levels(); }, sqlstate::kInvalidRecursion);
}

}  // namespace
}  // namespace incview
