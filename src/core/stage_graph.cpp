#include "core/stage_graph.hpp"

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <queue>
#include <utility>

#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/strong_components.hpp>
#include <boost/property_map/property_map.hpp>

namespace incview {

namespace {

struct StageVertex {
  std::string name;
};

// setS out-edges make duplicate edges a no-op; bidirectionalS gives upstreams cheaply.
// vecS vertices keep descriptors usable as vector indices (stages are never removed).
using Graph = boost::adjacency_list<boost::setS, boost::vecS, boost::bidirectionalS, StageVertex>;
using Vertex = Graph::vertex_descriptor;

Error unknown_stage(const std::string& name) {
  return Error(sqlstate::kUndefinedObject, "stage \"" + name + "\" does not exist");
}

Error cycle_error(const std::vector<std::string>& cycle) {
  return Error(sqlstate::kInvalidRecursion, "stage graph has a cycle: " + format_cycle(cycle), {},
               "Remove one of the dependencies on the cycle.");
}

}  // namespace

struct StageGraph::Impl {
  Graph g;
  std::map<std::string, Vertex> by_name;  // also gives name order without re-sorting

  Vertex vertex_or_add(const std::string& name) {
    auto it = by_name.find(name);
    if (it != by_name.end()) return it->second;
    Vertex v = boost::add_vertex(StageVertex{name}, g);
    by_name.emplace(name, v);
    return v;
  }

  Vertex vertex_or_throw(const std::string& name) const {
    auto it = by_name.find(name);
    if (it == by_name.end()) throw unknown_stage(name);
    return it->second;
  }

  // Comparing ranks (small ints) instead of strings keeps the hot loops cheap.
  std::vector<std::size_t> ranks() const {
    std::vector<std::size_t> rank(boost::num_vertices(g));
    std::size_t i = 0;
    for (const auto& entry : by_name) rank[entry.second] = i++;
    return rank;
  }

  std::vector<Vertex> vertices_by_name() const {
    std::vector<Vertex> out;
    out.reserve(by_name.size());
    for (const auto& entry : by_name) out.push_back(entry.second);
    return out;
  }

  std::vector<std::string> names(const std::vector<Vertex>& vs) const {
    std::vector<std::string> out;
    out.reserve(vs.size());
    for (Vertex v : vs) out.push_back(g[v].name);
    return out;
  }

  // Kahn's algorithm with a min-heap on rank, so among ready stages the smallest name
  // goes first. With a mask, only masked stages and edges between them count; the mask
  // must be closed downstream. A result shorter than the stage set means a cycle.
  std::vector<Vertex> kahn(const std::vector<std::size_t>& rank, const std::vector<char>* mask) const {
    const std::size_t n = boost::num_vertices(g);
    std::vector<Vertex> by_rank(n);
    for (Vertex v = 0; v < n; ++v) by_rank[rank[v]] = v;

    std::vector<std::size_t> indegree(n, 0);
    for (Vertex v = 0; v < n; ++v) {
      if (mask && !(*mask)[v]) continue;
      for (Vertex w : boost::make_iterator_range(boost::adjacent_vertices(v, g))) ++indegree[w];
    }
    std::priority_queue<std::size_t, std::vector<std::size_t>, std::greater<>> ready;
    for (Vertex v = 0; v < n; ++v) {
      if (mask && !(*mask)[v]) continue;
      if (indegree[v] == 0) ready.push(rank[v]);
    }
    std::vector<Vertex> order;
    while (!ready.empty()) {
      Vertex v = by_rank[ready.top()];
      ready.pop();
      order.push_back(v);
      for (Vertex w : boost::make_iterator_range(boost::adjacent_vertices(v, g))) {
        if (--indegree[w] == 0) ready.push(rank[w]);
      }
    }
    return order;
  }

  // Breadth-first search from `start` following edges whose target passes `allowed`,
  // visiting neighbours in name order so the shortest path found is the same every run.
  // Returns start..x where x has an edge to `goal` (goal itself not appended), or empty.
  std::vector<Vertex> path_to_edge_into(Vertex start, Vertex goal, const std::vector<std::size_t>& rank,
                                        const std::function<bool(Vertex)>& allowed) const {
    const std::size_t n = boost::num_vertices(g);
    constexpr Vertex kNone = static_cast<Vertex>(-1);
    std::vector<Vertex> parent(n, kNone);
    std::vector<char> seen(n, 0);
    std::deque<Vertex> queue{start};
    seen[start] = 1;
    std::vector<Vertex> next;
    while (!queue.empty()) {
      Vertex x = queue.front();
      queue.pop_front();
      next.clear();
      for (Vertex y : boost::make_iterator_range(boost::adjacent_vertices(x, g))) {
        if (allowed(y)) next.push_back(y);
      }
      std::sort(next.begin(), next.end(), [&](Vertex a, Vertex b) { return rank[a] < rank[b]; });
      for (Vertex y : next) {
        if (y == goal) {  // checked before `seen`, since goal may be start
          std::vector<Vertex> path;
          for (Vertex p = x; p != kNone; p = parent[p]) path.push_back(p);
          std::reverse(path.begin(), path.end());
          return path;
        }
        if (!seen[y]) {
          seen[y] = 1;
          parent[y] = x;
          queue.push_back(y);
        }
      }
    }
    return {};
  }

  // A stage is on a cycle iff its strongly connected component has several stages or
  // it has a self-edge. Taking the smallest such name inside `mask` (closed downstream,
  // so its whole component is inside too) makes the reported cycle canonical.
  std::vector<std::string> cycle_within(const std::vector<char>* mask) const {
    const std::size_t n = boost::num_vertices(g);
    if (n == 0) return {};
    std::vector<std::size_t> component(n);
    const std::size_t count =
        boost::strong_components(g, boost::make_iterator_property_map(component.begin(),
                                                                      boost::get(boost::vertex_index, g)));
    std::vector<std::size_t> component_size(count, 0);
    for (std::size_t c : component) ++component_size[c];

    for (const auto& entry : by_name) {
      Vertex s = entry.second;
      if (mask && !(*mask)[s]) continue;
      if (component_size[component[s]] == 1 && !boost::edge(s, s, g).second) continue;
      const std::size_t c = component[s];
      return names(path_to_edge_into(s, s, ranks(), [&](Vertex y) { return component[y] == c; }));
    }
    return {};
  }
};

StageGraph::StageGraph() : impl_(std::make_unique<Impl>()) {}
StageGraph::StageGraph(const StageGraph& other) : impl_(std::make_unique<Impl>(*other.impl_)) {}
StageGraph::StageGraph(StageGraph&& other) : StageGraph() { std::swap(impl_, other.impl_); }
StageGraph& StageGraph::operator=(const StageGraph& other) {
  if (this != &other) impl_ = std::make_unique<Impl>(*other.impl_);
  return *this;
}
StageGraph& StageGraph::operator=(StageGraph&& other) {
  if (this != &other) {
    impl_ = std::move(other.impl_);
    other.impl_ = std::make_unique<Impl>();
  }
  return *this;
}
StageGraph::~StageGraph() = default;

void StageGraph::add_stage(const std::string& name) { impl_->vertex_or_add(name); }

void StageGraph::add_edge(const std::string& upstream, const std::string& downstream) {
  Vertex u = impl_->vertex_or_add(upstream);
  Vertex d = impl_->vertex_or_add(downstream);
  boost::add_edge(u, d, impl_->g);
}

bool StageGraph::has_stage(const std::string& name) const { return impl_->by_name.count(name) != 0; }

std::size_t StageGraph::size() const { return impl_->by_name.size(); }

std::size_t StageGraph::edge_count() const { return boost::num_edges(impl_->g); }

std::vector<std::string> StageGraph::stages() const { return impl_->names(impl_->vertices_by_name()); }

std::vector<GraphEdge> StageGraph::edges() const {
  const Graph& g = impl_->g;
  std::vector<GraphEdge> out;
  out.reserve(boost::num_edges(g));
  for (const auto& entry : impl_->by_name) {
    const std::size_t first = out.size();
    for (Vertex w : boost::make_iterator_range(boost::adjacent_vertices(entry.second, g))) {
      out.push_back({entry.first, g[w].name});
    }
    std::sort(out.begin() + first, out.end(),
              [](const GraphEdge& a, const GraphEdge& b) { return a.downstream < b.downstream; });
  }
  return out;
}

std::vector<std::string> StageGraph::find_cycle() const { return impl_->cycle_within(nullptr); }

std::vector<std::string> StageGraph::topological_order() const {
  std::vector<Vertex> order = impl_->kahn(impl_->ranks(), nullptr);
  if (order.size() != size()) throw cycle_error(find_cycle());
  return impl_->names(order);
}

std::vector<std::vector<std::string>> StageGraph::levels() const {
  const Graph& g = impl_->g;
  std::vector<Vertex> order = impl_->kahn(impl_->ranks(), nullptr);
  if (order.size() != size()) throw cycle_error(find_cycle());

  // In topological order every upstream's level is final before its downstreams read it.
  std::vector<std::size_t> level(boost::num_vertices(g), 0);
  std::size_t depth = 0;
  for (Vertex v : order) {
    for (Vertex w : boost::make_iterator_range(boost::adjacent_vertices(v, g))) {
      level[w] = std::max(level[w], level[v] + 1);
    }
    depth = std::max(depth, level[v] + 1);
  }
  std::vector<std::vector<std::string>> out(depth);
  for (const auto& entry : impl_->by_name) out[level[entry.second]].push_back(entry.first);
  return out;
}

std::vector<std::string> StageGraph::upstreams(const std::string& name) const {
  const Graph& g = impl_->g;
  std::vector<std::string> out;
  for (Vertex u : boost::make_iterator_range(boost::inv_adjacent_vertices(impl_->vertex_or_throw(name), g))) {
    out.push_back(g[u].name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> StageGraph::downstreams(const std::string& name) const {
  const Graph& g = impl_->g;
  std::vector<std::string> out;
  for (Vertex w : boost::make_iterator_range(boost::adjacent_vertices(impl_->vertex_or_throw(name), g))) {
    out.push_back(g[w].name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> StageGraph::cycle_if_added(const std::string& upstream, const std::string& downstream) const {
  if (upstream == downstream) return {upstream};
  auto u = impl_->by_name.find(upstream);
  auto d = impl_->by_name.find(downstream);
  // A new stage has no edges yet, so it cannot be on a cycle.
  if (u == impl_->by_name.end() || d == impl_->by_name.end()) return {};

  // The new edge closes a cycle iff downstream already reaches upstream.
  std::vector<Vertex> path =
      impl_->path_to_edge_into(d->second, u->second, impl_->ranks(), [](Vertex) { return true; });
  if (path.empty()) return {};
  std::vector<std::string> cycle = impl_->names(path);
  cycle.push_back(upstream);
  std::rotate(cycle.begin(), std::min_element(cycle.begin(), cycle.end()), cycle.end());
  return cycle;
}

std::string format_cycle(const std::vector<std::string>& cycle) {
  if (cycle.empty()) return {};
  std::string out;
  for (const std::string& name : cycle) out += name + " -> ";
  return out + cycle.front();
}

}  // namespace incview
