// Partitioned stage tables (the sports analytics scenario, seed 002: partition by the domain context): partitions for new
// list values and range buckets are created when a refresh first needs them; one list
// partition can be rebuilt beside the table and swapped in; retention drops whole range
// partitions once they have expired.
#pragma once
#include "pg/catalog/catalog.hpp"
#include "pg/support/spi.hpp"
#include "pg/support/subxact.hpp"

namespace incview::pg {

// Creates the partitions the rows of `rows_sql` (with `args`) would need, if missing.
void ensure_partitions(const StageRecord& stage, const std::string& rows_sql, const std::vector<SpiArg>& args);

// Checks a range bucket width ("1 month", "7 days"): a valid, positive interval that is a
// whole number of months or has no month part.
void check_range_width(const std::string& width);

// Creates the hash partitions of a new stage.
void create_hash_partitions(const StageRecord& stage);

// Runs `insert` (a statement writing rows of `rows_sql` into the stage's table). When a row
// finds no partition, creates the missing ones and runs it again; other errors propagate.
template <typename F>
void insert_routed(const StageRecord& stage, const std::string& rows_sql, const std::vector<SpiArg>& args, F&& insert) {
  if (!stage.partition.creates_on_demand()) {
    insert();
    return;
  }
  auto error = in_subtransaction(insert);
  if (!error) return;
  if (error->sqlstate != sqlstate::kCheckViolation) throw Error(error->sqlstate, error->message);
  ensure_partitions(stage, rows_sql, args);
  insert();
}

// Drops range partitions (on the retention column) wholly older than the retention window;
// returns the rows they held.
int64 drop_expired_partitions(const StageRecord& stage);

// Rebuilds the list partition of `value` beside the table and swaps it in; returns rows.
int64 rebuild_list_partition(const StageRecord& stage, const std::string& value);

}  // namespace incview::pg
