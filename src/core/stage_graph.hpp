// The dependency graph between stages: which stage reads which stage's table.
// Every answer is deterministic (ties broken by name) so refresh order, error
// messages and SQL output are stable across runs.
#pragma once
#include "core/no_postgres.hpp"

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "core/error.hpp"  // callers catch the Error these functions throw

namespace incview {

// The downstream stage reads the upstream stage's target table.
struct GraphEdge {
  std::string upstream;
  std::string downstream;
};

inline bool operator==(const GraphEdge& a, const GraphEdge& b) {
  return a.upstream == b.upstream && a.downstream == b.downstream;
}

// Boost.Graph stays behind a pimpl: src/pg includes this header after PostgreSQL's
// port.h, which redefines snprintf and friends and breaks Boost-heavy headers.
class StageGraph {
 public:
  StageGraph();
  StageGraph(const StageGraph& other);
  // A moved-from graph is empty and usable, hence not noexcept (it allocates).
  StageGraph(StageGraph&& other);
  StageGraph& operator=(const StageGraph& other);
  StageGraph& operator=(StageGraph&& other);
  ~StageGraph();

  void add_stage(const std::string& name);  // idempotent
  // Adds missing stages; a duplicate edge is ignored; a self-edge is a cycle of one.
  void add_edge(const std::string& upstream, const std::string& downstream);

  bool has_stage(const std::string& name) const;
  std::size_t size() const;
  std::size_t edge_count() const;

  // All stages, sorted by name.
  std::vector<std::string> stages() const;
  // All edges, sorted by (upstream, downstream).
  std::vector<GraphEdge> edges() const;

  // Empty when acyclic. Otherwise the shortest cycle through the smallest-named stage
  // that lies on any cycle, in dependency order and starting from that stage,
  // e.g. {"a","b","c"} for a->b->c->a.
  std::vector<std::string> find_cycle() const;

  // Upstream before downstream; ties by name. Throws Error(42P19)
  // "stage graph has a cycle: a -> b -> c -> a" when cyclic.
  std::vector<std::string> topological_order() const;

  // levels()[0] = stages with no upstream stage; level k = 1 + max level of its
  // upstreams. Stages in one level can refresh in parallel. Each level sorted by name.
  // Throws Error(42P19) on a cycle.
  std::vector<std::vector<std::string>> levels() const;

  // Direct neighbours, sorted by name. Throw Error(42704) if `name` is unknown.
  std::vector<std::string> upstreams(const std::string& name) const;
  std::vector<std::string> downstreams(const std::string& name) const;

  // The cycle that adding upstream->downstream would close (same format as find_cycle,
  // the shortest such cycle), or empty. Unknown names are allowed, like add_edge.
  std::vector<std::string> cycle_if_added(const std::string& upstream, const std::string& downstream) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Formats a cycle as "a -> b -> c -> a" ("a -> a" for a self-edge, "" for none).
std::string format_cycle(const std::vector<std::string>& cycle);

}  // namespace incview
