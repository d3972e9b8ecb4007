// The scope keys a storage-swap rebuild changed for each stage reading the rebuilt table
// (issue 12): the table's old rows and the new heap's rows, both still at hand before the
// swap, are joined on the table's unique key; a row on one side only, or a pair whose
// bytes differ, changed, and the scope columns of each such row (old and new) are the
// downstream stage's keys. What the DELETE + INSERT of every row would have queued through
// the capture triggers, minus the rows that came back byte for byte identical.
#pragma once
#include "core/no_postgres.hpp"

#include <string>
#include <vector>

namespace incview {

struct SwapDiffSpec {
  std::string old_table;  // quoted, qualified: the table before the swap (alias o)
  std::string new_heap;   // quoted, qualified: the new contents (alias n)
  // The unique key's columns (names) and their equality, one clause per key column over
  // o."col" and n."col", operators schema-qualified (the caller generates them from the
  // index's opclasses).
  std::vector<std::string> key_columns;
  std::vector<std::string> key_equalities;
  // Each reading stage's scope columns, by name (columns of the table, 'same' mapping).
  std::vector<std::vector<std::string>> readers;
};

// One statement, read-only, no parameters. Returns one row per reader with at least one
// changed key: (reader index from 0, jsonb[] of its distinct keys as text, their count).
// A reader missing from the result has no changed scope. The join is on the unique key,
// so it is a hash or merge FULL JOIN, and paired rows are compared by their binary image
// (record_image_eq, `*=`, as REFRESH ... CONCURRENTLY does): a value equal by its type's
// `=` but not identical (1.0 and 1.00) counts as changed. Rows with a NULL in the key never
// pair; they are compared as multisets of their text images (EXCEPT ALL both ways).
std::string swap_diff_keys_statement(const SwapDiffSpec& spec);

}  // namespace incview
