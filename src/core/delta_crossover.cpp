#include "core/delta_crossover.hpp"

#include <limits>

#include "core/delta_direct.hpp"

namespace incview {

namespace {

std::string rows_text(double rows) {
  const long n = static_cast<long>(rows);
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {  // 1,000 as the docs write it
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out + (n == 1 ? " source row" : " source rows");
}

}  // namespace

DeltaShape delta_shape(const DeltaQueryDescription& d) {
  DeltaShape s;
  s.join = d.join;
  s.having = !d.having.empty();
  for (const auto& o : d.outputs)
    if (o.aggregate && (o.function == "min" || o.function == "max")) s.extremes = true;
  // Direct capture's condition (core/delta_direct): one table, no WHERE, plain columns only.
  s.statement_capture = d.multi || d.relations != 1 || !d.where.empty();
  for (const auto& o : d.outputs) {
    if (o.group_key && !plain_identifier(o.text)) s.statement_capture = true;
    if (o.aggregate && !o.star && !plain_identifier(o.arg)) s.statement_capture = true;
  }
  return s;
}

double delta_crossover_rows(const DeltaShape& s) {
  if (s.join) return kDeltaCrossoverRowsJoin;
  return s.statement_capture ? kDeltaCrossoverRowsStatement : kDeltaCrossoverRowsDirect;
}

double delta_crossover_max_rows(const DeltaShape& s) {
  return s.having ? kDeltaHavingMaxRows : std::numeric_limits<double>::infinity();
}

bool delta_pays_off(double rows_per_scope, const DeltaShape& s) {
  return rows_per_scope >= delta_crossover_rows(s) && rows_per_scope <= delta_crossover_max_rows(s);
}

std::string delta_crossover_reason(const DeltaShape& s) {
  const std::string what = s.join ? "a join, captured by a statement that runs the join in the writer's transaction"
                           : s.statement_capture ? "a GROUP BY captured by a statement per write"
                                                 : "a single-table GROUP BY over plain columns, captured row by row";
  const double from = delta_crossover_rows(s), to = delta_crossover_max_rows(s);
  if (!s.having) return what + ": from " + rows_text(from) + " per scope";
  const std::string having = " with HAVING (its fold re-derives every group it touches)";
  if (from > to) return what + having + ": never";
  return what + having + ": from " + rows_text(from) + " up to " + rows_text(to) + " per scope";
}

}  // namespace incview
