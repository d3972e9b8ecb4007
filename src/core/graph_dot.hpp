// Graphviz DOT text of the stage graph: source tables as boxes, stages as ellipses
// labelled with scope, policy and dirty count.
#pragma once
#include "core/no_postgres.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace incview {

struct DotStage {
  std::string name;
  std::string target;  // as regclass prints it
  std::string scope;   // "patient_id" or "org_id, cluster"
  std::string policy;
  std::int64_t dirty = 0;
  bool every_scope = false;
};

struct DotSource {
  std::string stage;           // the reading stage
  std::string source;          // table name as regclass prints it
  std::string mapping;         // same | lookup | all
  std::string upstream_stage;  // non-empty when the source is another stage's table
};

std::string graph_dot(const std::vector<DotStage>& stages, const std::vector<DotSource>& sources);

// "text" with quotes and backslashes escaped for a DOT string.
std::string dot_quote(const std::string& text);

}  // namespace incview
