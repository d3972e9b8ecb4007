#!/usr/bin/env bash
# The whole server stopped with `pg_ctl stop -m immediate` in the middle of
#   (a) a large refresh batch (2,000 scopes in one batch),
#   (b) a bulk captured write (20,000 rows over 400 scopes), before and right after its commit,
#   (c) a partition swap (incview.rebuild_partition), while it builds the new partition and
#       while it waits to swap it in,
#   (d) retention (incview.set_retention, applied by the scheduler in batches),
# CRASH_ROUNDS times each (default 5). After every restart the scheduler alone (continuous
# policy, incview.naptime = 100ms; nobody calls refresh) empties the queue and brings the
# stage under test back to its query (verify = (0, 0); every stage at the end of each
# round, after the retention crash). And no queued key is lost:
# the keys queued (committed) at the crash are all refreshed after the restart (the scopes
# of the refresh_log rows written after it add up to them), and a bulk write that never
# committed leaves no key behind.
#
# The crash points are pinned, not timed: the work in progress reaches a trigger (or a table
# lock) that waits for an advisory lock this script holds, and the server is stopped once
# pg_locks shows it waiting.
#
# Durability: test.sh runs the cluster with INCVIEW_FAST=1 (fsync = off). An immediate stop
# kills the server's processes, not the machine: every page they wrote is still in the
# operating system's cache, so skipping fsync loses nothing here (it only matters when the
# OS or the power goes). synchronous_commit = off, though, lets a commit return before its
# WAL is written, and a process crash then loses it (PostgreSQL's documented trade-off), so
# the database (scheduler, refresh workers: incview.worker_synchronous_commit) and this
# script's sessions turn it back on.
set -euo pipefail
: "${PGBIN:=/usr/lib/postgresql/15/bin}"
: "${INCVIEW_PGDATA:=/tmp/pg_incview_data}"
ROUNDS=${CRASH_ROUNDS:-5}
db=incview_crash_restart
source "$(dirname "${BASH_SOURCE[0]}")/lib/wait.bash"
source "$(dirname "${BASH_SOURCE[0]}")/lib/crash.bash"

cleanup() {
  local pid
  for pid in "${holders[@]}"; do kill "$pid" 2>/dev/null || true; done
  psql -d postgres -c "ALTER SYSTEM RESET incview.naptime" -c "SELECT pg_reload_conf()" >/dev/null 2>&1 || true
}
trap cleanup EXIT
diagnose() {
  psql -d $db -c "SELECT 'stage: ' || name || ' ' || status || ' dirty=' || dirty_scopes || ' all=' || all_dirty || coalesce(' error=' || last_error, '') FROM incview.stages" \
    -c "SELECT 'log: ' || row_to_json(l)::text FROM (SELECT id, stage, engine, scopes, error FROM incview.refresh_log ORDER BY id DESC LIMIT 5) l" \
    -c "SELECT 'activity: ' || backend_type || ' ' || coalesce(wait_event, '-') || ' ' || left(coalesce(query, ''), 100) FROM pg_stat_activity WHERE datname = current_database()" \
    2>&1 | sed 's/^/  /' || true
  tail -n 20 "$INCVIEW_PGDATA/server.log" 2>/dev/null | sed 's/^/  log| /' || true
}
# converged [stage]: nothing is queued, and that stage (default: every stage) equals its
# query. The verifies read whole stages, so they run once the queue is empty; after each
# crash the stage under test is verified, at the end of each round every stage.
converged() {
  local which=${1:+"WHERE s.name = '$1'"}
  wait_for 60 "SELECT NOT EXISTS (SELECT 1 FROM incview.queued_keys)" &&
    wait_for 60 "SELECT coalesce(bool_and(v.missing = 0 AND v.extra = 0), true)
                 FROM incview.stage s, incview.verify(s.name) v ${which:-}"
}
last_log() { psql -d $db -c "SELECT coalesce(max(id), 0) FROM incview.refresh_log"; }
# scopes refreshed for stage $1 by runs logged after refresh_log id $2, without error
refreshed_since() {
  psql -d $db -c "SELECT coalesce(sum(scopes), 0) FROM incview.refresh_log WHERE stage = '$1' AND id > $2 AND error IS NULL"
}
queued() {  # distinct committed keys of stage $1
  psql -d $db -c "SELECT count(DISTINCT q.key) FROM incview.queued_keys q JOIN incview.stage s ON s.id = q.stage_id WHERE s.name = '$1'"
}
expect() {  # expect <what> <got> <want>
  if [[ "$2" == "$3" ]]; then echo "  ok: $1 ($2) [${SECONDS}s]"; else echo "  FAILED: $1: got $2, want $3"; failed=1; fi
}

psql -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
psql -d postgres -c "ALTER DATABASE $db SET synchronous_commit = on" \
                 -c "ALTER DATABASE $db SET incview.worker_synchronous_commit = on" \
                 -c "ALTER DATABASE $db SET incview.batch_size = 10000" >/dev/null  # (a): one large batch
export PGOPTIONS="-c synchronous_commit=on"
psql -d postgres -c "ALTER SYSTEM SET incview.naptime = '100ms'" -c "SELECT pg_reload_conf()" >/dev/null
psql -d $db >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION pg_incview;
-- The crash point: a statement trigger that waits while this script holds advisory lock
-- TG_ARGV[0] (and passes at once otherwise, e.g. after the restart).
CREATE FUNCTION hold_point() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock_shared(TG_ARGV[0]::bigint);
  RETURN NULL;
END $$;

-- (a) 5,000 scopes over 50,000 rows; a round dirties 2,000 of them (40%: keys, not the
-- "every scope" marker that capture_all_ratio = 0.5 would queue).
CREATE TABLE big (id int PRIMARY KEY, k int, v int);
INSERT INTO big SELECT g, g % 5000, g FROM generate_series(1, 50000) g;
CREATE INDEX ON big (k);
SELECT incview.create_stage('big_stage', 'SELECT k, sum(v) AS total, count(*) AS n FROM big GROUP BY k', ARRAY['k'],
                            engine => 'replace');  -- scoped batches whatever the share of dirty scopes
CREATE TRIGGER zz_crash_point AFTER INSERT ON big_stage FOR EACH STATEMENT EXECUTE FUNCTION hold_point(1);

-- (b) a bulk write of 20,000 rows over 400 of 1,000 scopes. Its crash point fires after
-- pg_incview's capture trigger (AFTER triggers fire in name order): the keys are queued
-- in the writer's open transaction.
CREATE TABLE bulk (id bigserial PRIMARY KEY, k int, v int);
INSERT INTO bulk (k, v) SELECT g % 1000, g FROM generate_series(1, 10000) g;
CREATE INDEX ON bulk (k);
SELECT incview.create_stage('bulk_stage', 'SELECT k, sum(v) AS total, count(*) AS n FROM bulk GROUP BY k', ARRAY['k'],
                            engine => 'replace');  -- keys queued and scopes re-inserted (auto: delta, folding groups)
CREATE TRIGGER zz_crash_point AFTER INSERT ON bulk FOR EACH STATEMENT EXECUTE FUNCTION hold_point(2);
CREATE TRIGGER zz_crash_point AFTER INSERT ON bulk_stage FOR EACH STATEMENT EXECUTE FUNCTION hold_point(3);

-- (c) a stage list-partitioned by region.
CREATE TABLE sales (id int PRIMARY KEY, region text, k int, v int);
INSERT INTO sales SELECT g, (ARRAY['north', 'south', 'east'])[g % 3 + 1], g % 50, g FROM generate_series(1, 30000) g;
SELECT incview.create_stage('part_stage', 'SELECT region, k, sum(v) AS total, count(*) AS n FROM sales GROUP BY region, k',
                            ARRAY['region', 'k'], partition_by => 'list (region)');

-- (d) events, most of them older than the 30 days the retention stages keep.
CREATE TABLE events (id int PRIMARY KEY, at timestamptz, k int);
-- Half an hour off the hour: no row reaches the 30-day cutoff while the scenario runs.
INSERT INTO events SELECT g, now() - g * interval '1 hour' - interval '30 minutes', g % 100
FROM generate_series(1, 12000) g;
SQL
# The partition of 'north' and the list of partitions (a swap must leave the same names).
north=$(psql -d $db -c "SELECT c.oid::regclass FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                        WHERE i.inhparent = 'part_stage'::regclass AND pg_get_expr(c.relpartbound, c.oid) LIKE '%north%'")
partitions="SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_class c
            WHERE c.relname LIKE 'part_stage%' AND c.relkind IN ('r', 'p')"
parts_before=$(psql -d $db -c "$partitions")
converged

for round in $(seq 1 "$ROUNDS"); do
  echo "round $round"

  # (a) large refresh batch: 2,000 scopes in one batch, crashed after the batch deleted its
  # keys and rewrote its rows, before its commit.
  hold_advisory 1
  psql -d $db -c "UPDATE big SET v = v + 1 WHERE k < 2000"
  waiting_on_advisory 1 'pg_incview%'
  keys=$(queued big_stage); log=$(last_log)
  crash_and_restart
  converged big_stage
  expect "(a) keys queued at the crash" "$keys" 2000
  expect "(a) scopes refreshed after the restart" "$(refreshed_since big_stage "$log")" "$keys"

  # (b1) bulk write crashed before its commit, its keys queued in its transaction: after the
  # restart neither its rows nor its keys exist.
  rows=$(psql -d $db -c "SELECT count(*) FROM bulk")
  hold_advisory 2
  hold "INSERT INTO bulk (k, v) SELECT g % 400, g FROM generate_series(1, 20000) g"
  waiting_on_advisory 2 'client backend'
  log=$(last_log)
  crash_and_restart
  expect "(b1) rows of the uncommitted write" "$(psql -d $db -c "SELECT count(*) FROM bulk")" "$rows"
  expect "(b1) its keys: queued + refreshed since" \
    "$(queued bulk_stage)+$(refreshed_since bulk_stage "$log")" "0+0"
  converged bulk_stage

  # (b2) bulk write committed, crashed before any refresh of it could commit: every key is
  # there after the restart, and refreshed.
  hold_advisory 3
  psql -d $db -c "INSERT INTO bulk (k, v) SELECT g % 400, g FROM generate_series(1, 20000) g"
  waiting_on_advisory 3 'pg_incview%'   # the scheduler's refresh of it, stopped before its commit
  keys=$(queued bulk_stage); log=$(last_log)
  crash_and_restart
  converged bulk_stage
  expect "(b2) keys queued at the crash" "$keys" 400
  expect "(b2) scopes refreshed after the restart" "$(refreshed_since bulk_stage "$log")" "$keys"
  expect "(b2) rows of the committed write" "$(psql -d $db -c "SELECT count(*) FROM bulk")" "$((rows + 20000))"

  # (c) partition swap: rebuild_partition of 'north' crashed while it builds the new
  # partition (the source locked: odd rounds) or while it waits to swap it in (a reader of
  # the old partition: even rounds; scopes of 'north' are dirty meanwhile, and the swap or
  # the scheduler consumes their keys first).
  psql -d $db -c "UPDATE sales SET v = v + 1 WHERE region = 'north' AND k < 10"
  if (( round % 2 )); then
    # (the scheduler's refresh of these keys must not be the one waiting for the lock)
    wait_for 60 "SELECT NOT EXISTS (SELECT 1 FROM incview.queued_keys)"
    hold "BEGIN" "LOCK TABLE sales IN ACCESS EXCLUSIVE MODE"
    wait_for 20 "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE relation = 'sales'::regclass AND mode = 'AccessExclusiveLock' AND granted)"
  else
    hold "BEGIN" "SELECT count(*) FROM $north"
    wait_for 20 "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE relation = '$north'::regclass AND granted)"
  fi
  hold "SET application_name = 'crash_swap'" "SELECT incview.rebuild_partition('part_stage', 'north')"
  if (( round % 2 )); then
    wait_for 60 "SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                 WHERE a.application_name = 'crash_swap' AND l.relation = 'sales'::regclass AND NOT l.granted)"
  else
    wait_for 60 "SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                 WHERE a.application_name = 'crash_swap' AND l.relation = '$north'::regclass AND NOT l.granted)"
  fi
  crash_and_restart
  converged part_stage
  expect "(c) partitions after the restart" "$(psql -d $db -c "$partitions")" "$parts_before"

  # (d) retention: a new stage over events, 30 days kept; the scheduler's first delete batch
  # (10,000 of about 11,300 expired rows) is stopped before its commit.
  psql -d $db >/dev/null <<SQL
SET client_min_messages = warning;
SELECT incview.create_stage('ret_$round', 'SELECT id, at, k FROM events', ARRAY['k']);
CREATE TRIGGER zz_crash_point AFTER DELETE ON ret_$round FOR EACH STATEMENT EXECUTE FUNCTION hold_point(4);
SQL
  hold_advisory 4
  psql -d $db -c "SELECT incview.set_retention('ret_$round', 'at', '30 days')" >/dev/null
  waiting_on_advisory 4 'pg_incview%'
  crash_and_restart
  # (retention is applied, then verify, which filters the query by the same cutoff, agrees)
  wait_for 60 "SELECT st.last_retention IS NOT NULL FROM incview.stage_state st
               JOIN incview.stage s ON s.id = st.stage_id WHERE s.name = 'ret_$round'"
  converged
  expect "(d) expired rows left" \
    "$(psql -d $db -c "SELECT count(*) FROM ret_$round WHERE at < now() - interval '30 days'")" 0
done

echo "rounds: $ROUNDS of each case; failures: $failed"
psql -d postgres -c "DROP DATABASE $db WITH (FORCE)" >/dev/null
exit "$failed"
