// Engine replace, writing only the rows that changed (issue 12, item 4: the per-key cost of a
// continuous stage was re-writing a scope's ~24 rows and their index entries where one changed).
//
// One statement per batch, for stages with a unique_key:
//   fresh  the query's rows of the batch, materialized once;
//   gone   DELETE of the batch's current rows that have no identical fresh row;
//   added  INSERT of the fresh rows that have no identical current row, after `gone` (it
//          reads gone's count first: the unique index must not see a changed row's new
//          version beside its old one).
// "Identical" is record image equality (`*=`, record_image_eq, what REFRESH MATERIALIZED VIEW
// CONCURRENTLY compares): the same bytes, so 1.0 and 1.00, -0 and 0, 'a' and 'A' under a case-
// insensitive collation differ and are written; NULLs are identical to NULLs; no equality
// operator of the column types is needed for it. Rows are first paired by their unique key
// with its types' `=` (so the anti-joins hash on the key instead of comparing every row with
// every row); identical rows have equal keys, so the pairing never hides a match, and a pair it
// misses (a NULL in the key) only means a rewrite. Both sides use the same predicate, so a kept
// row is exactly a current row with an identical fresh one: the scope's rows afterwards equal
// the query's.
//
// Why only with a unique_key: the unique index makes the table a set (no two identical rows),
// which "no identical row on the other side" needs. A multiset needs copies counted per value,
// and `*=` has no hash support to group by: stages without a unique_key keep DELETE + INSERT
// (or use engine diff, which counts copies by text form).
//
// `*=` needs both rows' columns to have the same types: both sides are cast to the table's
// column types as compare_types gives them (the base type of a domain, no type modifier, so a
// cast never truncates or rounds: a value that differs only after such a cast is rewritten,
// and the INSERT applies the column's own type and modifier as it always did).
#pragma once
#include "core/no_postgres.hpp"
#include "core/stage_sql.hpp"

#include <string>
#include <vector>

namespace incview {

// Whether replace may write only what changed for this shape (a unique_key).
bool replace_writes_changes(const StageShape& shape);

// The statement; parameters as StageSql::delete_scoped. compare_types: one type name per
// shape.columns entry (SQL text, already quoted/qualified). Returns one row (deleted, inserted).
std::string replace_changes_scoped(const StageSql& sql, const NullColumns& nulls, bool one_key,
                                   const std::vector<std::string>& compare_types);

}  // namespace incview
