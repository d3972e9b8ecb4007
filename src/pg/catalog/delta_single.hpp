// One queued delta read and consumed without a statement (issue 13's one-row target): a
// one-row change queues one row, and its fold is then a kept, parameterised UPDATE of its
// group (DeltaPlan::fold_one, run by the delta engine as the stage's owner) plus the
// consumption of that row here, in the same transaction: applied exactly when consumed. The
// fold statement (DELETE ... RETURNING, aggregate, UPDATE, put-back INSERT) paid the start-up
// of every node for that one row (bench/fixed_cost.md).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "pg/support/pg_headers.hpp"
#include "pg/support/spi.hpp"

namespace incview::pg {

struct QueuedDelta {
  Oid queue = InvalidOid;
  ItemPointerData tid;
  std::vector<std::string> names;  // the queue's columns, in order
  std::vector<SpiArg> values;      // the row's values, in that order (valid until spi_finish)
};

// The only row of the delta queue `queue` (quoted name) visible to the snapshot a statement
// would take now, this transaction's own rows included; nullopt when there is none, more than
// one, or the table is not as the engine made it (a trigger, forced row security, a dropped
// column) or the current user (the stage's owner) may not SELECT and DELETE it: the fold
// statement then does the work, as before. A row committed after the snapshot stays queued
// for the next refresh, as if it had come a moment later.
std::optional<QueuedDelta> single_queued_delta(const std::string& queue);

// Deletes that row (its consumption: the caller applied it in this transaction); ERROR, which
// undoes the application too, when it is no longer there to delete (another transaction or
// command consumed it meanwhile).
void consume_queued_delta(const QueuedDelta& delta);

}  // namespace incview::pg
