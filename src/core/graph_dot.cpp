#include "core/graph_dot.hpp"

#include <set>

namespace incview {

std::string dot_quote(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out + "\"";
}

std::string graph_dot(const std::vector<DotStage>& stages, const std::vector<DotSource>& sources) {
  std::string out =
      "digraph incview {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n"
      "  edge [fontname=\"Helvetica\", fontsize=9];\n";
  std::set<std::string> tables;
  for (const auto& s : sources)
    if (s.upstream_stage.empty() && tables.insert(s.source).second)
      out += "  " + dot_quote("table:" + s.source) +
             " [shape=box, style=filled, fillcolor=\"#eeeeee\", label=" + dot_quote(s.source) + "];\n";
  for (const auto& st : stages) {
    std::string label = st.name + "\nscope: " + st.scope + "\npolicy: " + st.policy +
                        "\ndirty: " + (st.every_scope ? "all" : std::to_string(st.dirty));
    const bool dirty = st.every_scope || st.dirty > 0;
    out += "  " + dot_quote("stage:" + st.name) +
           " [shape=ellipse, style=filled, fillcolor=" + (dirty ? "\"#ffe0b2\"" : "\"#c8e6c9\"") +
           ", label=" + dot_quote(label) + "];\n";
  }
  for (const auto& s : sources) {
    const std::string from = s.upstream_stage.empty() ? "table:" + s.source : "stage:" + s.upstream_stage;
    out += "  " + dot_quote(from) + " -> " + dot_quote("stage:" + s.stage);
    if (s.mapping != "same")
      out += " [label=" + dot_quote(s.mapping == "all" ? "every scope" : "lookup") + ", style=dashed]";
    out += ";\n";
  }
  return out + "}\n";
}

}  // namespace incview
