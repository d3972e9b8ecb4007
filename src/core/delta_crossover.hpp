// Engine auto (issue 13 item 3): from how many source rows per scope a query that qualifies
// for `delta` is better served by it than by `replace`. The answer depends on what the
// shape makes writers and refreshes do, measured in bench/crossover.sh (bench/delta.md,
// "Crossover by shape"):
//   - the refresh: a delta fold costs what the touched groups cost, replace re-derives each
//     touched scope from its source rows. Measured in server CPU of the refreshing backend,
//     delta was cheaper at every size from 1 source row per scope up, for one-row changes and
//     for 1 % of the scopes changed, except where the fold re-derives groups itself: HAVING
//     (every touched group) and a deleted min/max (its group).
//   - the writer: a one-row INSERT/DELETE on a single-table stage without WHERE over plain
//     columns appends its queue row directly, at the cost of key capture (core/delta_direct);
//     every other shape runs a capture statement per write (a join's runs the join), which
//     costs the writer more than key capture, and pays off only from larger scopes.
#pragma once
#include "core/no_postgres.hpp"

#include <string>

#include "core/delta_plan.hpp"

namespace incview {

// What a delta stage of a query does beyond replace, as far as the crossover depends on it.
struct DeltaShape {
  bool statement_capture = false;  // a write runs a capture statement (not direct capture)
  bool join = false;               // ... and it joins the other sources in the writer's transaction
  bool extremes = false;           // min/max: a delete of a group's extreme re-derives the group
  bool having = false;             // every touched group is re-derived from the source
};

DeltaShape delta_shape(const DeltaQueryDescription& d);

// Source rows per scope from which auto chooses delta (never, for HAVING: the fold re-derives
// every group it touches, as replace does, and the writers pay capture on top).
inline constexpr double kDeltaCrossoverRowsDirect = 1.0;       // direct capture: writers pay as key capture
inline constexpr double kDeltaCrossoverRowsStatement = 100.0;  // a capture statement per write
double delta_crossover_rows(const DeltaShape& s);              // infinity: never
bool delta_pays_off(double rows_per_scope, const DeltaShape& s);

// Why, in words: "a single-table GROUP BY captured row by row: from 1 source row per scope".
std::string delta_crossover_reason(const DeltaShape& s);

}  // namespace incview
