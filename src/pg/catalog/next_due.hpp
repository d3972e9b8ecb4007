// When stages are due, read from the catalog: the stages a scheduler pass refreshes now,
// the markers that make polled stages due, and when something will next be due (left for
// the launcher by a scheduler about to exit), and the scheduler's other reads (stages due
// for retention or a re-derive, Citus polling, a refresh worker's stage). Every function
// runs as the scheduler, not as the extension owner. The rule itself is SQL, once:
// incview.period_start and incview.due_at (sql/pg_incview--0.1--0.2.sql; docs/design.md).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "pg/support/pg_headers.hpp"

namespace incview::pg {

struct DueStage {
  std::string name;
  int32 id = 0;
  int64 dirty = 0;  // keys queued (not deduplicated): for "batch i of ~n" only
};

// Polled stages (a foreign table or materialized view among their sources: no trigger sees
// those change): one "every scope" marker at every period of an interval/daily policy, so
// the pass rebuilds them. Inside a transaction with SPI connected, as the scheduler.
void queue_polled_periods();

// The stages due now: keys queued, and their period started or a key older than max_lag,
// and not backing off after a failure. Same context.
std::vector<DueStage> read_due_stages();

struct NextDue {
  TimestampTz at = DT_NOEND;        // due then even without new writes (DT_NOEND: never)
  TimestampTz if_dirty = DT_NOEND;  // due then if keys of an interval/daily stage are queued
  int64 min_max_lag_us = 0;         // ... or this long after such keys were queued (0: no max_lag)
};

// Inside a transaction with SPI connected, as the scheduler (catalog only, no user SQL).
NextDue read_next_due();

// Reads: the names of the stages with retention whose expired rows were last removed over
// a minute ago (incview.stage, stage_state), by name. Same context.
std::vector<std::string> stages_due_for_retention();

// Reads: the names of the delta stages whose float re-derive cadence has come round
// (incview.delta_stage, stage), by name. Same context; catalog 0.2 only.
std::vector<std::string> stages_due_for_rederive();

// Reads: whether a stage that is not manual reads a distributed Citus table
// (incview.citus_source, stage_source, stage): the scheduler then never idles, its passes
// collect the shards' keys. Same context; catalog 0.2 only.
bool reads_distributed_sources();

// Reads: the name of stage `stage_id` (a refresh worker's), nullopt when it is gone.
// Same context.
std::optional<std::string> stage_name_of(int32 stage_id);

}  // namespace incview::pg
