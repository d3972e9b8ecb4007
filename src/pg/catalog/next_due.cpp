#include "pg/catalog/next_due.hpp"

#include "pg/capture/idle_capture.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/support/spi.hpp"

extern "C" {
#include "utils/timestamp.h"
}

namespace incview::pg {

namespace {

// Whether the period of stage s (with its state st) has started: incview.period_start.
// A 0.1 catalog (the library updated, ALTER EXTENSION UPDATE not yet run) lacks the
// function: for it alone, the same rule written out (frozen with 0.1, never changed).
std::string period_started() {
  if (catalog_is_0_2())
    return "(incview.period_start(s.policy, s.policy_every, s.policy_at, st.last_refresh) <= now())";
  return "(CASE s.policy "
         "  WHEN 'continuous' THEN true "
         "  WHEN 'interval' THEN st.last_refresh IS NULL OR st.last_refresh + s.policy_every <= now() "
         "  WHEN 'daily' THEN now()::date + s.policy_at <= now() "
         "                    AND coalesce(st.last_refresh, '-infinity') < now()::date + s.policy_at "
         "  ELSE false END)";
}

// One row: the three facts of NextDue, from incview.due_at per stage (polled stages and
// max_lag included), retention every minute. Erring early only costs a scheduler start
// that finds nothing to do.
// A delta stage (delta_engine.hpp) has work when its queue holds deltas: they are not in
// the key queue. Both queries below ask it of stage `s` (catalog 0.2).
constexpr const char* kDeltaQueued =
    "EXISTS (SELECT 1 FROM incview.delta_stage d WHERE d.stage_id = s.id AND incview.delta_queued(d.queue))";

const std::string kNextDueSql = std::string(R"SQL(
WITH s AS (
  SELECT s.policy, s.max_lag, s.retention_column, st.next_attempt, st.last_retention,
         incview.period_start(s.policy, s.policy_every, s.policy_at, st.last_refresh) AS period,
         incview.due_at(s.policy, s.policy_every, s.policy_at, s.max_lag, st.last_refresh, st.next_attempt,
                        -- queued keys: its queue and the change records it has not collected (issue 18)
                        coalesce((SELECT min(q.dirtied_at) FROM incview.queued_keys q WHERE q.stage_id = s.id),
                                 CASE WHEN )SQL") +
                                kDeltaQueued + R"SQL( THEN now() END),
                        EXISTS (SELECT 1 FROM incview.stage_source ss JOIN pg_catalog.pg_class c ON c.oid = ss.source
                                WHERE ss.stage_id = s.id AND c.relkind IN ('f', 'm'))) AS work_at
  FROM incview.stage s LEFT JOIN incview.stage_state st ON st.stage_id = s.id
  WHERE s.policy <> 'manual' OR s.retention_column IS NOT NULL)
SELECT least(min(work_at),
             min(CASE WHEN retention_column IS NOT NULL
                      THEN coalesce(last_retention + interval '1 minute', now()) END)),
       min(CASE WHEN policy IN ('interval', 'daily') THEN greatest(period, coalesce(next_attempt, '-infinity')) END),
       (extract(epoch FROM min(CASE WHEN policy IN ('interval', 'daily') THEN max_lag END)) * 1000000)::int8
FROM s
)SQL";

TimestampTz timestamp_or(int col, TimestampTz fallback) {
  bool isnull = true;
  Datum d = spi_datum(0, col, &isnull);
  return isnull ? fallback : DatumGetTimestampTz(d);
}

}  // namespace

void queue_polled_periods() {
  spi_exec(
      "INSERT INTO incview.dirty_scope (stage_id, key) "
      "SELECT s.id, NULL FROM incview.stage s LEFT JOIN incview.stage_state st ON st.stage_id = s.id "
      "WHERE s.policy IN ('interval', 'daily') AND " +
      period_started() +
      " AND (st.next_attempt IS NULL OR st.next_attempt <= now()) "
      "AND EXISTS (SELECT 1 FROM incview.stage_source ss JOIN pg_catalog.pg_class c ON c.oid = ss.source "
      "            WHERE ss.stage_id = s.id AND c.relkind IN ('f', 'm')) "
      "AND NOT EXISTS (SELECT 1 FROM incview.dirty_scope q WHERE q.stage_id = s.id AND q.key IS NULL)");
}

std::vector<DueStage> read_due_stages() {
  // incview.due_at(...) <= now() for stages with keys queued, in a form that is cheap when
  // nothing is due: manual stages and stages without queued keys are ruled out before
  // anything reads their queue, the queue is searched for a key older than max_lag only
  // when the period has not started, and the key count is taken for due stages alone.
  // Delta stages (delta_engine.hpp) are due with deltas queued too (catalog 0.2).
  const std::string delta_queued = catalog_is_0_2() ? std::string(" OR ") + kDeltaQueued : "";
  const uint64 n = spi_exec(
      "SELECT s.name, (SELECT count(*) FROM incview.dirty_scope q WHERE q.stage_id = s.id), s.id "
      "FROM incview.stage s LEFT JOIN incview.stage_state st ON st.stage_id = s.id "
      "WHERE s.policy <> 'manual' AND (st.next_attempt IS NULL OR st.next_attempt <= now()) "
      "  AND (EXISTS (SELECT 1 FROM incview.dirty_scope q WHERE q.stage_id = s.id)" +
      delta_queued + ") AND (" + period_started() +
      " "
      "  OR EXISTS (SELECT 1 FROM incview.dirty_scope q "
      "             WHERE q.stage_id = s.id AND q.dirtied_at + s.max_lag <= now()))");
  std::vector<DueStage> due;
  for (uint64 i = 0; i < n; ++i)
    due.push_back({spi_text_or(i, 1, ""), static_cast<int32>(spi_int8(i, 3)), spi_int8(i, 2)});
  return due;
}

NextDue read_next_due() {
  NextDue out;
  if (!catalog_is_0_2()) {
    // A 0.1 catalog has no incview.due_at: look again in a minute (until the update).
    out.at = GetCurrentTimestamp() + 60 * USECS_PER_SEC;
    return out;
  }
  if (spi_exec(kNextDueSql) == 1) {
    out.at = timestamp_or(1, DT_NOEND);
    out.if_dirty = timestamp_or(2, DT_NOEND);
    out.min_max_lag_us = std::max<int64>(spi_int8(0, 3), 0);
  }
  // Idle capture triggers wait for their table to be free: look again in ten seconds, the
  // scheduler's pace for them (drop_idle_capture_when_free; docs/reference.md promises about
  // ten seconds). A minute let a table busy at the first attempt keep its triggers, and their
  // cost on every write, for a minute (test/scenario/ddl_locks.sh waits 40 s).
  if (!idle_capture_tables().empty()) {
    const TimestampTz soon = GetCurrentTimestamp() + 10 * USECS_PER_SEC;
    if (soon < out.at) out.at = soon;
  }
  return out;
}

std::vector<std::string> stages_due_for_retention() {
  std::vector<std::string> names;
  const uint64 n = spi_exec(
      "SELECT s.name FROM incview.stage s LEFT JOIN incview.stage_state st ON st.stage_id = s.id "
      "WHERE s.retention_column IS NOT NULL AND (st.last_retention IS NULL "
      "      OR st.last_retention < now() - interval '1 minute') ORDER BY s.name");
  for (uint64 i = 0; i < n; ++i) names.push_back(spi_text_or(i, 1, ""));
  return names;
}

std::vector<std::string> stages_due_for_rederive() {
  std::vector<std::string> names;
  const uint64 n = spi_exec(
      "SELECT s.name FROM incview.delta_stage d JOIN incview.stage s ON s.id = d.stage_id "
      "WHERE d.rederive_every IS NOT NULL AND d.rederive IS NOT NULL "
      "AND (d.last_rederive IS NULL OR d.last_rederive < now() - d.rederive_every) ORDER BY s.name");
  for (uint64 i = 0; i < n; ++i) names.push_back(spi_text_or(i, 1, ""));
  return names;
}

bool reads_distributed_sources() {
  return spi_scalar(
             "SELECT 1 FROM incview.citus_source c JOIN incview.stage_source ss ON ss.source = c.source "
             "JOIN incview.stage s ON s.id = ss.stage_id "
             "WHERE c.kind = 'distributed' AND s.policy <> 'manual' LIMIT 1")
      .has_value();
}

std::optional<std::string> stage_name_of(int32 stage_id) {
  return spi_scalar("SELECT name FROM incview.stage WHERE id = $1", {int4_arg(stage_id)});
}

}  // namespace incview::pg
