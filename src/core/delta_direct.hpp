// Engine `delta`, direct capture (issue 13 item 5, writer cost): the queue row of a statement
// that changed ONE row (an UPDATE's: its old and new rows, below) is that row's own partials (count 1, the sum is the value, ...), so no
// aggregate is needed to compute it. For the simplest shape — one table, no WHERE, every group
// key and aggregate argument a plain column — capture builds that row in C and appends it to
// the queue by a direct heap insert (pg/capture/delta_direct.hpp), as key capture appends
// change records, instead of running the capture statement (executor start-up, a hash
// aggregate, an INSERT). Everything else keeps the statement.
//
// This file says which stages qualify and what each queue column of the row is, as text stored
// with the capture statements (incview.delta_capture.direct): one line per queue column, in the
// queue's column order (DeltaPlan::create_queue), "<kind>\t<arg type>\t<partial type>\t<text>":
//   key    the group column `text` (a plain column of the source, deparsed)
//   count  +1 / -1 (count(*) of the row)
//   n      count(text): +1 / -1 when the column is not NULL, else 0
//   sum    the column `text` cast to <partial type> (sum(int4) is int8 ...), negated for an
//          old row; NULL when it is NULL. <arg type>: the aggregate's declared argument type
//   scale  old row: scale(text); new row: NULL (numeric without a declared scale)
//   ins    new row: the column; old row: NULL (min/max)
//   del    old row: the column; new row: NULL
// Pure text: the PostgreSQL side resolves `text` to a column (it must be exactly the quoted
// name of one) and checks the types, or keeps the statement.
#pragma once
#include "core/no_postgres.hpp"

#include <string>
#include <vector>

#include "core/delta_plan.hpp"

namespace incview {

enum class DirectKind { Key, Count, N, Sum, Scale, Ins, Del };

struct DirectPart {
  DirectKind kind = DirectKind::Count;
  std::string arg_type;      // sum: the aggregate's declared argument type ("integer")
  std::string partial_type;  // sum: the queue column's type ("bigint")
  std::string text;          // key, n, sum, scale, ins, del: the deparsed column
};

// The parts of the queue row of one changed row, or empty when the plan's capture needs its
// statement (several relations, a WHERE, an expression that is not a plain column).
std::vector<DirectPart> direct_parts(const DeltaPlan& plan);

// As stored (empty text: none) and read back; parse returns empty on anything malformed.
std::string format_direct(const std::vector<DirectPart>& parts);
std::vector<DirectPart> parse_direct(const std::string& text);

// Whether `text` is one identifier as deparse writes a column: lower-case unquoted, or quoted.
bool plain_identifier(const std::string& text);

// A one-row UPDATE: the statement queues the old row's partials negated and the new row's,
// combined per group by the GROUP BY's equality (DeltaPlan::insert_partials). Direct capture
// queues the same: one combined row when the row stays in its group, the DELETE's and the
// INSERT's rows when it moves. Whether it stayed is decided only where the answer is certain:
// group keys identical byte for byte (both NULL alike: GROUP BY puts NULLs together) are
// equal under any equality; keys that differ are unequal only when the type's equality is
// identity (its btree "equalimage": int, text under a deterministic collation; not numeric
// 1.0 = 1.00, float -0 = 0, text under a nondeterministic collation). Otherwise: the statement.
struct KeyChange {
  bool identical = false;             // old and new key the same bytes, or both NULL
  bool equality_is_identity = false;  // the key type's equality (its collation) is identity
};
enum class UpdateRows { One, Two, Statement };
UpdateRows update_rows(const std::vector<KeyChange>& keys);

// Whether the statement queues a stayed row's combined row: its HAVING drops a group whose
// summed partials (count, n, sum) are all zero or NULL, unless the stage has a part combined
// otherwise (scale by max, min/max candidates): then always. nonzero[i]: part i's combined
// value is neither zero nor NULL (read for count, n and sum parts only).
bool same_group_queued(const std::vector<DirectPart>& parts, const std::vector<bool>& nonzero);

}  // namespace incview
