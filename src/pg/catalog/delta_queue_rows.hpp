// Engine delta, direct capture (core/delta_direct.hpp): a one-row statement's queue row,
// appended to the stage's queue table incview.delta_<id> by a direct heap insert, as change
// records are (change_rows.hpp): no SPI, no executor start-up on the write path. The row
// commits with the change and dies with it on rollback (to a savepoint too), exactly as the
// capture statement's INSERT would; the fold cannot tell them apart. docs/design.md, "The
// catalog layer".
#pragma once
#include <vector>

#include "pg/support/pg_headers.hpp"

namespace incview::pg {

// Appends (values, nulls) to the queue `queue` (locked ROW EXCLUSIVE or stronger by the
// caller) when the table is the one the engine made for this row: heap, no index, no trigger,
// no row-level security, no CHECK constraint, and exactly the columns of `types` in order.
// Returns false, writing nothing, when it is not (the caller then runs the capture statement,
// which goes through the executor and so honours whatever was added).
bool append_delta_row(Oid queue, const std::vector<Oid>& types, Datum* values, bool* nulls);

// Several rows (a one-row UPDATE moving between groups: the old group's and the new one's):
// all of them or, when any one could not be appended, none.
struct DeltaRow {
  Datum* values;
  bool* nulls;
};
bool append_delta_rows(Oid queue, const std::vector<Oid>& types, const std::vector<DeltaRow>& rows);

// The queue's column types in order (dropped columns as InvalidOid); empty when the relation
// is gone.
std::vector<Oid> delta_queue_types(Oid queue);

}  // namespace incview::pg
