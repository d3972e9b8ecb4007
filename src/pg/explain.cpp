#include "pg/explain.hpp"

#include <array>

#include "core/sql_text.hpp"
#include "pg/key_batch.hpp"
#include "pg/refresher.hpp"
#include "pg/role.hpp"
#include "pg/spi.hpp"
#include "pg/query_check.hpp"
#include "pg/stage_graph_catalog.hpp"

namespace incview::pg {

namespace {

constexpr int64 kSampleKeys = 100;

struct SourceInfo {
  std::string name;      // as regclass prints it
  std::string relname;   // as EXPLAIN prints it
  std::string kind;      // same | lookup | all
  std::string mapping;
};

bool plan_mentions(const std::vector<std::string>& plan, const std::string& what, const std::string& relname) {
  const std::string needle = what + " on " + relname;
  for (const auto& line : plan) {
    const size_t pos = line.find(needle);
    if (pos == std::string::npos) continue;
    const size_t end = pos + needle.size();
    if (end == line.size() || line[end] == ' ') return true;
  }
  return false;
}

}  // namespace

std::string explain_stage(const StageRecord& stage) {
  const StageSql sql(stage.shape);
  std::string out;
  out += "stage " + quote_ident(stage.name) + " -> " + stage.shape.target + "\n";
  out += "  scope: (" + sql.scope_columns() + ")";
  if (!stage.shape.unique_key.empty()) out += "  unique key: (" + column_list(stage.shape.unique_key) + ")";
  out += "\n  engine: " + stage.engine + " (batches use " + batch_engine(stage) + ")\n";

  uint64 n = spi_exec(
      "SELECT ss.source::text, c.relname, ss.mapping_kind, coalesce(ss.mapping, '') "
      "FROM incview.stage_source ss JOIN pg_catalog.pg_class c ON c.oid = ss.source "
      "WHERE ss.stage_id = $1 ORDER BY 1",
      {int4_arg(stage.id)}, true);
  std::vector<SourceInfo> sources;
  for (uint64 i = 0; i < n; ++i)
    sources.push_back({spi_text_or(i, 1, ""), spi_text_or(i, 2, ""), spi_text_or(i, 3, ""), spi_text_or(i, 4, "")});
  out += "sources:\n";
  for (const auto& s : sources) {
    out += "  " + s.name + ": ";
    if (s.kind == "same") out += "same scope columns";
    else if (s.kind == "lookup") out += "lookup mapping: " + s.mapping;
    else out += "every scope (any change rebuilds the stage)";
    out += "\n";
  }

  const StageGraph graph = load_stage_graph();
  const auto ups = graph.upstreams(stage.name);
  const auto downs = graph.downstreams(stage.name);
  out += "graph: upstream [" + join(ups, ", ") + "], downstream [" + join(downs, ", ") + "]\n";

  // A sample batch: the first keys the target holds.
  spi_exec("SELECT DISTINCT " + sql.scope_columns() + " FROM " + stage.shape.target + " ORDER BY " +
               sql.scope_columns() + " LIMIT " + std::to_string(kSampleKeys),
           {}, true);
  const auto batches = batches_from_result(stage.scope_types, kSampleKeys);
  if (batches.empty()) {
    out += "scoped refresh: the stage is empty, no sample batch to plan\n";
    return out;
  }
  const KeyBatch& batch = batches.front();
  out += "scoped refresh query for a batch of " + std::to_string(batch.count) + " keys:\n  " +
         sql.select_scoped_literal(batch_literals(batch, stage.scope_types), batch.nulls) + "\n";

  std::vector<std::string> plan;
  with_search_path(stage.search_path, [&] {
    const uint64 rows = spi_exec("EXPLAIN " + sql.select_scoped(batch.nulls), batch_args(batch, stage.scope_types));
    for (uint64 i = 0; i < rows; ++i) plan.push_back(spi_text_or(i, 1, ""));
  });
  out += "plan:\n";
  for (const auto& line : plan) out += "  " + line + "\n";

  out += "push-down:\n";
  for (const auto& s : sources) {
    const bool seq = plan_mentions(plan, "Seq Scan", s.relname);
    const bool indexed = plan_mentions(plan, "Index Scan", s.relname) ||
                         plan_mentions(plan, "Index Only Scan", s.relname) ||
                         plan_mentions(plan, "Bitmap Heap Scan", s.relname);
    out += "  " + s.name + ": ";
    if (s.kind != "same") {
      out += seq ? "read in full (it has no scope column; fine when it is small)"
                 : (indexed ? "read through an index" : "not read by this plan");
    } else if (seq) {
      out += "SEQUENTIAL SCAN: the scope filter does not reach this source, so every batch reads all of it. "
             "Typical causes: a window function or aggregate not partitioned by the scope, DISTINCT ON / "
             "GROUP BY without the scope column, a LIMIT, a volatile function, or no index on the scope column.";
    } else if (indexed) {
      out += "index scan: the scope filter is pushed down";
    } else {
      out += "not read by this plan";
    }
    out += "\n";
  }
  return out;
}

std::string explain_read_query(const StageRecord& stage, const std::string& read_query) {
  const std::string query = check_select_syntax(read_query, "a read query");
  std::vector<std::string> plan;
  const uint64 rows = spi_exec("EXPLAIN " + query);
  for (uint64 i = 0; i < rows; ++i) plan.push_back(spi_text_or(i, 1, ""));
  std::string out = "read query on stage " + quote_ident(stage.name) + ":\n  " + query + "\nplan:\n";
  for (const auto& line : plan) out += "  " + line + "\n";

  // Every index on the table; a partitioned index is used when any of its partitions'
  // indexes (pg_partition_tree) appears in the plan.
  const uint64 n = spi_exec(
      "SELECT x.indexrelid::regclass::text, "
      "       coalesce(d.definition, CASE WHEN x.indisunique THEN 'unique key' ELSE 'scope' END), "
      "       (SELECT string_agg(c.relname, ' ') FROM pg_catalog.pg_partition_tree(x.indexrelid) t "
      "        JOIN pg_catalog.pg_class c ON c.oid = t.relid) "
      "FROM pg_catalog.pg_index x JOIN pg_catalog.pg_class ic ON ic.oid = x.indexrelid "
      "LEFT JOIN incview.stage_index d ON d.stage_id = $2 AND d.index_name = ic.relname "
      "WHERE x.indrelid = $1 ORDER BY 1",
      {oid_arg(stage.target), int4_arg(stage.id)});
  std::vector<std::array<std::string, 3>> indexes;
  for (uint64 i = 0; i < n; ++i) indexes.push_back({spi_text_or(i, 1, ""), spi_text_or(i, 2, ""), spi_text_or(i, 3, "")});
  out += "indexes:\n";
  for (const auto& [name, what, members] : indexes) {
    bool used = false;
    size_t pos = 0;
    while (!used && pos < members.size()) {
      const size_t end = std::min(members.find(' ', pos), members.size());
      const std::string member = members.substr(pos, end - pos);
      for (const auto& line : plan) {
        const size_t at = line.find(" using " + member);
        const size_t after = at + 7 + member.size();
        if (at != std::string::npos && (after == line.size() || line[after] == ' ')) used = true;
      }
      pos = end + 1;
    }
    out += "  " + name + " (" + what + "): " + (used ? "USED" : "not used") + "\n";
  }
  if (stage.partition.partitioned()) {
    int scanned = 0;
    for (const auto& line : plan)
      if (line.find(" on " + stage.target_table + "_p_") != std::string::npos) ++scanned;
    out += "partitions scanned: " + std::to_string(scanned) + "\n";
  }
  return out;
}

}  // namespace incview::pg
