// Engine auto (issue 13 item 3): from how many source rows per scope a query that qualifies
// for `delta` is better served by it than by `replace`. The answer depends on what the
// shape makes writers and refreshes do, measured in bench/crossover.sh (bench/delta.md,
// "Crossover by shape"):
//   - the refresh: a delta fold costs what the touched groups cost, replace re-derives each
//     touched scope from its source rows. Measured in server CPU of the refreshing backend,
//     delta was cheaper at every size from 1 to 10,000 source rows per scope, after a one-row
//     change and after 1 % of the scopes changed, except where the fold re-derives groups
//     itself: with HAVING (every touched group) it cost more than replace from 100 rows per
//     scope on, and a deleted min/max (its group) from 30 on.
//   - the writer: a one-row INSERT/DELETE on a single-table stage without WHERE over plain
//     columns appends its queue row directly, at the cost of key capture (core/delta_direct);
//     every other shape runs a capture statement per write: 1.1-1.5x key capture's CPU for a
//     WHERE, 1.4-2.4x for a join (which runs the join). When refreshes batch many changes, the
//     refresh repays that per changed row from about 10 source rows per scope (WHERE) and
//     between 30 and 100 (join).
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

// The source rows per scope for which auto chooses delta: from delta_crossover_rows up to
// delta_crossover_max_rows (infinity: no bound). HAVING has an upper bound instead of a lower
// one: its fold re-derives every group it touches, cheaper than replace's scoped statement for
// small groups, 2-3x dearer for large ones.
inline constexpr double kDeltaCrossoverRowsDirect = 1.0;      // direct capture: writers pay as key capture
inline constexpr double kDeltaCrossoverRowsStatement = 10.0;  // a capture statement per write (WHERE, ...)
inline constexpr double kDeltaCrossoverRowsJoin = 100.0;      // ... that runs a join
inline constexpr double kDeltaHavingMaxRows = 10.0;           // HAVING: delta up to this many
double delta_crossover_rows(const DeltaShape& s);
double delta_crossover_max_rows(const DeltaShape& s);
bool delta_pays_off(double rows_per_scope, const DeltaShape& s);

// Why, in words: "a single-table GROUP BY captured row by row: from 1 source row per scope".
std::string delta_crossover_reason(const DeltaShape& s);

}  // namespace incview
