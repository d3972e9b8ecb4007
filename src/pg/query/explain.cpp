#include "pg/query/explain.hpp"

#include <array>

#include "core/sql_text.hpp"
#include "core/plan_reach.hpp"
#include "pg/refresh/key_batch.hpp"
#include "pg/refresh/refresher.hpp"
#include "pg/support/role.hpp"
#include "pg/support/spi.hpp"
#include "pg/query/query_check.hpp"
#include "pg/query/independence.hpp"
#include "pg/catalog/index_rows.hpp"
#include "pg/catalog/source_rows.hpp"
#include "pg/catalog/stage_graph_catalog.hpp"

namespace incview::pg {

namespace {

constexpr int64 kSampleKeys = 100;

struct SamplePlan {
  int64 keys = 0;
  std::string sql;                    // the scoped query with the sample keys inlined
  std::vector<std::string> literals;  // the batch's array per scope column, as text
  std::vector<std::string> lines;     // its EXPLAIN
};

// EXPLAIN of the scoped refresh query for the first keys the table holds; empty when the
// table is.
std::optional<SamplePlan> plan_sample_batch(const StageRecord& stage) {
  const StageSql sql(stage.shape);
  std::optional<SamplePlan> result;
  // DISTINCT, the array literals and planning run the owner's types and functions.
  as_owner_of(stage, [&] {
    spi_exec("SELECT DISTINCT " + sql.scope_columns() + " FROM " + stage.shape.target + " ORDER BY " +
             sql.scope_columns() + " LIMIT " + std::to_string(kSampleKeys));
    const auto batches = batches_from_result(stage.scope_types, kSampleKeys);
    if (batches.empty()) return;
    const KeyBatch& batch = batches.front();
    SamplePlan out;
    out.keys = batch.count;
    out.literals = batch_literals(batch, stage.scope_types);
    out.sql = sql.select_scoped_literal(out.literals, batch.nulls);
    const uint64 rows = spi_exec("EXPLAIN " + sql.select_scoped(batch.nulls), batch_args(batch, stage.scope_types));
    for (uint64 i = 0; i < rows; ++i) out.lines.push_back(spi_text_or(i, 1, ""));
    result = std::move(out);
  });
  return result;
}

std::vector<std::string> scope_names(const StageRecord& stage) {
  std::vector<std::string> names;
  for (const auto& c : stage.shape.scope) names.push_back(c.name);
  return names;
}

}  // namespace

std::string explain_stage(const StageRecord& stage) {
  const StageSql sql(stage.shape);
  std::string out;
  out += "stage " + quote_ident(stage.name) + " -> " + stage.shape.target + "\n";
  out += "  scope: (" + sql.scope_columns() + ")";
  if (!stage.shape.unique_key.empty()) out += "  unique key: (" + column_list(stage.shape.unique_key) + ")";
  out +=
      std::string("\n  engine: ") + to_string(stage.engine) + " (batches use " + to_string(batch_engine(stage)) + ")\n";
  if (stage.partition.partitioned())
    out += std::string("  partitioned: ") + to_string(stage.partition.method) + " (" + stage.partition.column + ")\n";
  if (!stage.shape.retention_column.empty())
    out += "  retention: " + stage.shape.retention_column + " within " + stage.shape.retention_keep + "\n";

  const auto sources = source_rows_as_printed(stage);
  out += "sources:\n";
  for (const auto& s : sources) {
    out += "  " + s.name + ": ";
    if (s.kind == "same")
      out += "same scope columns";
    else if (s.kind == "lookup")
      out += "lookup mapping: " + s.mapping;
    else
      out += "every scope (any change rebuilds the stage)";
    out += "\n";
  }
  out += "scope independence: ";
  if (!stage.independence_known)
    out += "not analyzed yet (the next refresh rebuilds the stage and analyzes it)\n";
  else if (stage.independence_problem.empty())
    out += "proven (the query keeps scopes apart and the batch filter reaches every scoped source)\n";
  else if (stage.declared_independent)
    out += "DECLARED by the owner against the analysis: " + stage.independence_problem + "\n";
  else
    out += "NO: " + stage.independence_problem + " (refreshes rebuild in full)\n";
  const StageGraph graph = load_stage_graph();
  out += "graph: upstream [" + join(graph.upstreams(stage.name), ", ") + "], downstream [" +
         join(graph.downstreams(stage.name), ", ") + "]\n";

  const auto sample = plan_sample_batch(stage);
  if (!sample) return out + "scoped refresh: the stage is empty, no sample batch to plan\n";
  out +=
      "scoped refresh query for a batch of " + std::to_string(sample->keys) + " keys:\n  " + sample->sql + "\nplan:\n";
  for (const auto& line : sample->lines) out += "  " + line + "\n";
  out += "push-down:\n";
  const auto scope = scope_names(stage);
  for (const auto& s : sources) {
    const ScopeReach reach = scope_reach(sample->lines, s.relname, scope, sample->literals);
    out += "  " + s.name + ": ";
    if (s.kind != "same" && reach == ScopeReach::NotReached)
      out += "read in full (it has no scope column; fine when it is small)";
    else
      out += describe(reach);
    out += "\n";
  }
  return out;
}

std::optional<std::string> independence_verdict(const StageRecord& stage) {
  // 1. The query tree: constructs that mix scopes, sources not tied to the scope.
  std::optional<std::string> problem;
  as_owner_of(stage, [&] { problem = independence_problem(stage.shape.query, scope_names(stage)); });
  if (problem) return problem;
  // 2. The plan of a sample batch (when the table has rows): the batch's own filter must
  // constrain every scan of every source that has the scope columns.
  const auto sample = plan_sample_batch(stage);
  if (!sample) return std::nullopt;
  std::vector<std::string> unreached;
  for (const auto& s : source_rows_as_printed(stage))
    if (s.kind == "same" &&
        scope_reach(sample->lines, s.relname, scope_names(stage), sample->literals) == ScopeReach::NotReached)
      unreached.push_back(s.name);
  if (unreached.empty()) return std::nullopt;
  return "the batch's scope filter does not constrain every scan of " + join(unreached, ", ") +
         " in the plan of a sample batch";
}

void record_independence(const StageRecord& stage) {
  const std::optional<std::string> problem = independence_verdict(stage);
  save_independence(stage.id, problem);
  if (!problem) return;
  const std::string msg =
      "the scopes of stage \"" + stage.name + "\" are not independent: " + *problem +
      (stage.declared_independent ? "; its owner declared them independent, so refreshes still go scope by scope"
                                  : "; its refreshes rebuild it in full");
  const std::string detail =
      "a scope's rows may depend on rows of other scopes, so re-deriving only the changed scopes could leave the "
      "others wrong";
  const char* m = msg.c_str();
  const char* d = detail.c_str();
  const int level = stage.declared_independent ? WARNING : NOTICE;
  pg_call([&] {
    ereport(level, (errmsg("%s", m), errdetail("%s", d),
                    errhint("see incview.explain('%s'); partition the window/aggregate by the scope, join every "
                            "source on the scope, or choose another scope",
                            stage.name.c_str())));
  });
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
  const std::vector<std::array<std::string, 3>> indexes = stage_table_indexes(stage);
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
