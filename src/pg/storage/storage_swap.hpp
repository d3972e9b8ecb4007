// A full rebuild that never blocks the stage's readers for the build (issue 12): the new
// contents go into a fresh heap beside the table, its indexes are built there, and then the
// storage (relfilenodes of the heap, its TOAST table and every index) is exchanged with the
// table's under a short ACCESS EXCLUSIVE lock — the way CLUSTER and REFRESH MATERIALIZED
// VIEW swap heaps, but with the indexes built before the lock instead of under it.
// Everything attached to the table's OID (grants, RLS policies, comments, views, triggers,
// downstream stages, index definitions) stays; only the storage changes. docs/rebuild.md.
#pragma once
#include "pg/catalog/catalog.hpp"

namespace incview::pg {

// Why the table cannot be rebuilt by a storage swap ("" when it can): a swap writes no
// rows through the executor, so whatever a row-by-row write would have run must not exist
// (user triggers, CHECK and foreign-key constraints, publications, forced RLS), and the
// query's columns must map onto the table's without a cast.
std::string swap_refusal(const StageRecord& stage, const std::string& select_sql);

struct SwapResult {
  int64 inserted = 0;     // rows of the new contents
  int64 replaced = 0;     // rows the old contents had (pg_class estimate before; exact unknown)
  int64 scope_count = 0;  // distinct scopes of the new contents, counted during the fill (or after it)
  bool swapped = false;   // false: a long reader held the table, the rows were copied in
};

// Runs `select_sql` (the stage query's columns, named as the table's) into a new heap,
// builds the table's indexes on it, counts its scopes, queues for the stages reading the
// table the scopes whose rows changed (swap_downstream.hpp), then swaps the storage in and
// drops the old one. Run as the stage owner (the query and index expressions are the owner's).
// The ACCESS EXCLUSIVE lock taken for the swap is held until the transaction ends; when the
// table's readers do not let go of it within a moment, the rows are copied in instead.
SwapResult swap_rebuild(const StageRecord& stage, const std::string& select_sql);

// A first build (create_stage): runs `select_sql` straight into `table`, an empty table
// made by this statement, the way CREATE TABLE AS fills one (no per-row executor INSERT;
// rows written frozen when the table was created in this subtransaction). Returns the rows
// and their distinct scopes, counted as they went in (scope_tally.hpp; none when the tally
// gave up), or nullopt without writing anything when the query's columns need a cast or
// the table has anything a row-by-row INSERT would run (then the caller INSERTs).
struct LoadResult {
  int64 rows = 0;
  std::optional<int64> scope_count;
};
std::optional<LoadResult> load_new_table(const StageRecord& stage, const std::string& select_sql);

}  // namespace incview::pg
