// The delta queue read once per refresh call, and one queued delta consumed without a
// statement (issue 13's one-row target): a one-row change queues one row, and its fold is
// then a kept, parameterised UPDATE of its group (DeltaPlan::fold_one, run by the delta
// engine as the stage's owner) plus the consumption of that row here, in the same
// transaction: applied exactly when consumed. The fold statement (DELETE ... RETURNING,
// aggregate, UPDATE, put-back INSERT) paid the start-up of every node for that one row, and
// a probe of the queue before the stage's lock plus a second scan for the row read every page
// the queue grew to since its last VACUUM twice (bench/fixed_cost.md).
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

// What one scan of a delta queue found.
enum class QueuedRows {
  None,     // no row visible: nothing to fold
  One,      // exactly one
  Several,  // more than one, or not known (a queue unlike the engine's): the fold statements decide
};
struct QueueScan {
  QueuedRows rows = QueuedRows::Several;
  // With rows == One, when the current user (the stage's owner) may SELECT and DELETE the
  // queue: the row, for the fold of one row; otherwise the fold statements take it.
  std::optional<QueuedDelta> one;
};

// The rows of the delta queue `queue` (quoted name) visible to the snapshot a statement would
// take now, this transaction's own rows included, read by one heap scan that stops at the
// second row. A queue that is not as the engine made it (a trigger, row security that applies
// to the current user, a dropped column, not a heap) is not scanned: Several. A row committed
// after the snapshot stays queued for the next refresh, as if it had come a moment later.
// Takes the queue's ROW EXCLUSIVE lock (the one the consuming DELETE takes), held to commit.
QueueScan scan_delta_queue(const std::string& queue);

// Deletes that row (its consumption: the caller applied it in this transaction); ERROR, which
// undoes the application too, when it is no longer there to delete (another transaction or
// command consumed it meanwhile).
void consume_queued_delta(const QueuedDelta& delta);

}  // namespace incview::pg
