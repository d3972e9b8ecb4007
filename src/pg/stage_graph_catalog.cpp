#include "pg/stage_graph_catalog.hpp"

#include "pg/role.hpp"
#include "pg/spi.hpp"

namespace incview::pg {

StageGraph load_stage_graph(const std::string& ignore_upstreams_of) {
  StageGraph graph;
  std::vector<std::string> names;
  std::vector<std::pair<std::string, std::string>> edges;
  // The whole graph, whoever asks (rows of other owners' stages are hidden from them).
  as_extension_owner([&] {
    uint64 n = spi_exec("SELECT name FROM incview.stage", {}, true);
    for (uint64 i = 0; i < n; ++i) names.push_back(spi_text_or(i, 1, ""));
    n = spi_exec(
        "SELECT u.name, d.name FROM incview.stage_source ss "
        "JOIN incview.stage d ON d.id = ss.stage_id JOIN incview.stage u ON u.target = ss.source",
        {}, true);
    for (uint64 i = 0; i < n; ++i) edges.push_back({spi_text_or(i, 1, ""), spi_text_or(i, 2, "")});
  });
  for (const auto& name : names) graph.add_stage(name);
  for (const auto& [up, down] : edges)
    if (down != ignore_upstreams_of) graph.add_edge(up, down);
  return graph;
}

}  // namespace incview::pg
