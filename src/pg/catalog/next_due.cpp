#include "pg/catalog/next_due.hpp"

#include "pg/capture/idle_capture.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/support/spi.hpp"

extern "C" {
#include "utils/timestamp.h"
}

namespace incview::pg {

namespace {

// One row: the three facts of NextDue. The due rules are the scheduler's (kPeriodDue and its
// due-stage query in scheduler.cpp): a period that has come plus queued keys, max_lag, the
// back-off of a failing stage, polled stages (foreign tables or materialized views among the
// sources: due at every period, keys or not), retention every minute. Erring early only
// costs a scheduler start that finds nothing to do.
constexpr const char* kNextDueSql = R"SQL(
WITH s AS (
  SELECT s.policy, s.max_lag, s.retention_column, st.next_attempt, st.last_retention,
         CASE s.policy
           WHEN 'continuous' THEN now()
           WHEN 'interval' THEN coalesce(st.last_refresh + s.policy_every, now())
           ELSE CASE WHEN coalesce(st.last_refresh, '-infinity') < now()::date + s.policy_at
                     THEN (now()::date + s.policy_at)::timestamptz
                     ELSE (now()::date + 1 + s.policy_at)::timestamptz END
         END AS period,
         coalesce((SELECT min(q.dirtied_at) FROM incview.dirty_scope q WHERE q.stage_id = s.id), @DELTA@) AS oldest,
         EXISTS (SELECT 1 FROM incview.stage_source ss JOIN pg_catalog.pg_class c ON c.oid = ss.source
                 WHERE ss.stage_id = s.id AND c.relkind IN ('f', 'm')) AS polled
  FROM incview.stage s LEFT JOIN incview.stage_state st ON st.stage_id = s.id
  WHERE s.policy <> 'manual' OR s.retention_column IS NOT NULL),
due AS (
  SELECT CASE WHEN s.policy = 'manual' THEN NULL
              WHEN s.oldest IS NOT NULL
                THEN greatest(least(s.period, s.oldest + s.max_lag), coalesce(s.next_attempt, '-infinity'))
              WHEN s.polled AND s.policy <> 'continuous'
                THEN greatest(s.period, coalesce(s.next_attempt, '-infinity')) END AS work_at,
         CASE WHEN s.retention_column IS NOT NULL
              THEN coalesce(s.last_retention + interval '1 minute', now()) END AS retention_at,
         CASE WHEN s.policy IN ('interval', 'daily')
              THEN greatest(s.period, coalesce(s.next_attempt, '-infinity')) END AS if_dirty,
         CASE WHEN s.policy IN ('interval', 'daily') THEN s.max_lag END AS max_lag
  FROM s)
SELECT least(min(work_at), min(retention_at)),
       min(if_dirty),
       (extract(epoch FROM min(max_lag)) * 1000000)::int8
FROM due
)SQL";

TimestampTz timestamp_or(int col, TimestampTz fallback) {
  bool isnull = true;
  Datum d = spi_datum(0, col, &isnull);
  return isnull ? fallback : DatumGetTimestampTz(d);
}

}  // namespace

NextDue read_next_due() {
  NextDue out;
  // Delta stages (delta_engine.hpp, catalog 0.2) have work when their queue holds deltas.
  std::string sql = kNextDueSql;
  sql.replace(sql.find("@DELTA@"), 7,
              catalog_is_0_2() ? "CASE WHEN EXISTS (SELECT 1 FROM incview.delta_stage d WHERE d.stage_id = s.id "
                                 "AND incview.delta_queued(d.queue)) THEN now() END"
                               : "NULL::timestamptz");
  if (spi_exec(sql) == 1) {
    out.at = timestamp_or(1, DT_NOEND);
    out.if_dirty = timestamp_or(2, DT_NOEND);
    out.min_max_lag_us = std::max<int64>(spi_int8(0, 3), 0);
  }
  // Idle capture triggers wait for their table to be free: look again in a minute.
  if (!idle_capture_tables().empty()) {
    const TimestampTz soon = GetCurrentTimestamp() + 60 * USECS_PER_SEC;
    if (soon < out.at) out.at = soon;
  }
  return out;
}

}  // namespace incview::pg
