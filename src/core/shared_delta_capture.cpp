#include "core/shared_delta_capture.hpp"

#include "core/error.hpp"

namespace incview {

std::string shared_delta_capture(const std::vector<std::string>& inserts) {
  if (inserts.empty()) throw Error(sqlstate::kInternalError, "pg_incview: a shared delta capture of no stage");
  for (const auto& s : inserts)
    if (s.empty()) throw Error(sqlstate::kInternalError, "pg_incview: a delta stage without a capture statement");
  if (inserts.size() == 1) return inserts.front();
  // Data-modifying CTEs run exactly once and to completion whether or not the main query
  // reads them (PostgreSQL docs, "Data-Modifying Statements in WITH").
  std::string sql = "WITH ";
  for (size_t i = 0; i < inserts.size(); ++i) {
    if (i) sql += ",\n";
    sql += "\"__incview_c" + std::to_string(i + 1) + "\" AS (" + inserts[i] + ")";
  }
  return sql + "\nSELECT 1";
}

}  // namespace incview
