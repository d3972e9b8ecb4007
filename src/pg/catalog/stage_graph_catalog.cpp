#include "pg/catalog/stage_graph_catalog.hpp"

#include "core/error.hpp"
#include "core/sql_text.hpp"
#include "pg/support/role.hpp"
#include "pg/support/spi.hpp"

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

void refuse_cycle(StageGraph& graph, const std::string& reader, const std::vector<Oid>& relations,
                  const std::string& what) {
  std::vector<std::pair<std::string, std::string>> targets;  // (stage, target oid)
  as_extension_owner([&] {
    const uint64 n = spi_exec("SELECT s.name, s.target::oid::text FROM incview.stage s", {}, true);
    for (uint64 i = 0; i < n; ++i) targets.push_back({spi_text_or(i, 1, ""), spi_text_or(i, 2, "0")});
  });
  for (const auto& [stage_name, target] : targets)
    for (Oid rel : relations)
      if (std::to_string(rel) == target) {
        const auto cycle = graph.cycle_if_added(stage_name, reader);
        if (!cycle.empty())
          throw Error(sqlstate::kInvalidRecursion, what + " would close a cycle: " + format_cycle(cycle),
                      "stages on the cycle: " + join(cycle, ", "),
                      "a stage may not read, directly or through other stages, its own table");
        graph.add_edge(stage_name, reader);
      }
}

void load_graph_dot(std::vector<DotStage>& stages, std::vector<DotSource>& sources) {
  as_extension_owner([&] {
    uint64 n = spi_exec(
        "SELECT s.name, s.target::text, array_to_string(s.scope, ', '), s.policy, "
        "       v.dirty_scopes, v.all_dirty "
        "FROM incview.stage s JOIN incview.stages v ON v.name = s.name ORDER BY s.name");
    for (uint64 i = 0; i < n; ++i)
      stages.push_back({spi_text_or(i, 1, ""), spi_text_or(i, 2, ""), spi_text_or(i, 3, ""), spi_text_or(i, 4, ""),
                        spi_int8(i, 5), spi_bool(i, 6)});
    n = spi_exec(
        "SELECT d.name, ss.source::text, ss.mapping_kind, coalesce(u.name, '') "
        "FROM incview.stage_source ss JOIN incview.stage d ON d.id = ss.stage_id "
        "LEFT JOIN incview.stage u ON u.target = ss.source ORDER BY 1, 2");
    for (uint64 i = 0; i < n; ++i)
      sources.push_back({spi_text_or(i, 1, ""), spi_text_or(i, 2, ""), spi_text_or(i, 3, ""), spi_text_or(i, 4, "")});
  });
}

}  // namespace incview::pg
