#include "core/stage_partitioning.hpp"

#include <cctype>

#include "core/error.hpp"
#include "core/sql_text.hpp"

namespace incview {

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

[[noreturn]] void bad(const std::string& text, const std::string& why) {
  throw Error(sqlstate::kInvalidParameterValue, "invalid partition_by \"" + text + "\": " + why, "",
              "use 'list (column)', 'hash (column) 16' or 'range (column) 1 month' (or a number for numeric columns)");
}

}  // namespace

StagePartitioning parse_partition_by(const std::string& text) {
  StagePartitioning spec;
  const std::string t = trim(text);
  if (t.empty()) return spec;
  const size_t open = t.find('(');
  const size_t close = t.find(')', open == std::string::npos ? 0 : open);
  if (open == std::string::npos || close == std::string::npos) bad(text, "expected a column in parentheses");
  const std::string method = lower(trim(t.substr(0, open)));
  const auto parsed = parse_partition_method(method);
  if (!parsed) bad(text, "unknown method \"" + method + "\"");
  spec.method = *parsed;
  std::string col = trim(t.substr(open + 1, close - open - 1));
  if (col.empty()) bad(text, "no column");
  if (col.front() == '"') {
    auto parts = split_qualified_name(col);
    if (parts.size() != 1) bad(text, "one column only");
    col = parts[0];
  } else if (col.find_first_of(" ,") != std::string::npos) {
    bad(text, "partition by exactly one column");
  }
  spec.column = col;
  const std::string rest = trim(t.substr(close + 1));
  if (spec.method == PartitionMethod::List) {
    if (!rest.empty()) bad(text, "list takes no argument after the column");
  } else if (spec.method == PartitionMethod::Hash) {
    if (rest.empty() || rest.find_first_not_of("0123456789") != std::string::npos)
      bad(text, "hash needs the number of partitions, e.g. 'hash (patient_id) 16'");
    spec.modulus = std::stoi(rest.size() > 6 ? std::string("9999999") : rest);
    if (spec.modulus < 2 || spec.modulus > 1024) bad(text, "hash needs between 2 and 1024 partitions");
  } else {
    if (rest.empty()) bad(text, "range needs a bucket width, e.g. 'range (updated_at) 1 month'");
    spec.interval = rest;
    spec.numeric_range = rest.find_first_not_of("0123456789") == std::string::npos;
    if (spec.numeric_range && (rest.size() > 18 || std::stoll(rest) <= 0)) bad(text, "bucket width must be positive");
  }
  return spec;
}

std::string partition_clause(const StagePartitioning& spec) {
  const std::string m = spec.method == PartitionMethod::List   ? "LIST"
                        : spec.method == PartitionMethod::Hash ? "HASH"
                                                               : "RANGE";
  return " PARTITION BY " + m + " (" + quote_ident(spec.column) + ")";
}

std::string partition_name(const std::string& target_table, const std::string& suffix) {
  const size_t room = suffix.size() + 3 < 63 ? 63 - 3 - suffix.size() : 0;
  const std::string name = target_table.substr(0, std::min<size_t>(room, 40)) + "_p_" + suffix;
  return name.substr(0, 63);
}

}  // namespace incview
