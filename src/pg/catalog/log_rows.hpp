// The refresh_log row of a refresh run, written by a direct heap insert (issue 13's one-row
// target): the log row was ~21 % of a one-row delta refresh call, most of it the executor's
// start-up and finish of an INSERT statement (bench/fixed_cost.md). The row is the same one
// the statement wrote (every column, the id from the table's own sequence, both indexes
// maintained), WAL-logged, and commits or rolls back with the run. docs/design.md, "The
// catalog layer".
#pragma once
#include <optional>
#include <string>

#include "pg/support/pg_headers.hpp"

namespace incview::pg {

struct LogRow {
  std::string stage;
  Oid owner = InvalidOid;
  std::string engine;
  std::optional<int64> scopes;  // nullopt: NULL (a full rebuild at creation)
  int64 deleted = 0, inserted = 0, updated = 0;
  int64 duration_us = 0;  // started_at = now (clock) - duration
  std::optional<std::string> error;
};

// Appends the row to incview.refresh_log (catalog 0.2) and returns true; returns false,
// writing nothing, when the table is not exactly the one our scripts made (another column,
// index or trigger, forced row security): the caller then writes it with a statement, so a
// trigger or index added by hand still sees every row. The shape is checked once per
// relcache entry of the table (a change to its columns, indexes or triggers invalidates it).
bool append_log_row(const LogRow& row);

}  // namespace incview::pg
