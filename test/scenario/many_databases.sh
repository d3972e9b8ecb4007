#!/usr/bin/env bash
# Background refresh of many databases under one budget (issue 20), on a cluster of its own
# with PostgreSQL's default max_worker_processes = 8, incview.worker_budget = 3 and 30
# databases, each with a continuous stage:
# 1. with no writes, once the idle timeout has passed no pg_incview process but the
#    launcher is left (the databases were all looked at: each has a known "asleep" state);
# 2. a parallel query then gets every worker it planned (EXPLAIN ANALYZE);
# 3. with the budget (1) held by a database whose refresh waits on a lock, another database
#    with a dirty continuous stage shows 'waiting for a worker' in incview.stages and
#    set_policy warns; once the lock goes, it is refreshed;
# 4. one write in each of the 30 databases: every stage is fresh within a bounded time
#    (60 s; the p50/p95 lag from commit to refresh is printed), then idle again.
set -euo pipefail
: "${PGBIN:=/usr/lib/postgresql/15/bin}"
cd "$(dirname "$0")/../.."
port=${INCVIEW_MANYDB_PORT:-54461}
data="${INCVIEW_PGDATA:-/tmp/pg_incview_data}-manydb"
ndb=${INCVIEW_MANYDB_COUNT:-30}
export INCVIEW_PGPORT=$port INCVIEW_PGDATA=$data INCVIEW_FRESH=1 INCVIEW_FAST=1
export INCVIEW_PGCONF_EXTRA="max_worker_processes = 8
incview.worker_budget = 3
incview.idle_timeout = '2s'
incview.enabled = off"
holder=""
stop_cluster() {
  [[ -n "$holder" ]] && kill "$holder" 2>/dev/null || true
  INCVIEW_PGPORT=$port INCVIEW_PGDATA=$data bash scripts/cluster.sh stop >/dev/null 2>&1 || true
}
trap stop_cluster EXIT
bash scripts/cluster.sh start >/dev/null
export PGHOST=/tmp PGPORT=$port
db=postgres
source "$(dirname "${BASH_SOURCE[0]}")/lib/wait.bash"
diagnose() {
  psql -d postgres -c "SELECT datname, backend_type, wait_event_type, wait_event, left(query, 60)
                       FROM pg_stat_activity WHERE backend_type LIKE 'pg_incview%'"
}

# Setup with background refresh off: one template database, copied 30 times.
psql -d postgres -c "CREATE DATABASE tmpl"
psql -d tmpl >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION pg_incview;
CREATE TABLE src (k int, v int, at timestamptz);
INSERT INTO src SELECT g % 10, g, now() FROM generate_series(1, 100) g;
SELECT incview.create_stage('totals', 'SELECT k, sum(v) AS total, max(at) AS last_at FROM src GROUP BY k', ARRAY['k']);
SQL
psql -d postgres -c "ALTER DATABASE tmpl IS_TEMPLATE true"
# FILE_COPY: a copy of the files plus a checkpoint (cheap with fsync off), instead of
# WAL-logging every page of every copy.
for i in $(seq 1 "$ndb"); do echo "CREATE DATABASE t$i TEMPLATE tmpl STRATEGY FILE_COPY;"; done | psql -d postgres
psql -d postgres -c "CREATE TABLE big AS SELECT g FROM generate_series(1, 200000) g" -c "VACUUM ANALYZE big"
psql -d postgres -c "ALTER SYSTEM SET incview.enabled = on" -c "SELECT pg_reload_conf()" >/dev/null

in_all() {  # in_all <sql returning t>: true when it is t in every database t1..tN
  local i
  for i in $(seq 1 "$ndb"); do
    [[ "$(psql -d "t$i" -c "$1" 2>/dev/null || true)" == t ]] || return 1
  done
}
only_launcher="SELECT count(*) = 1 AND bool_and(backend_type = 'pg_incview launcher')
               FROM pg_stat_activity WHERE backend_type LIKE 'pg_incview%'"

# 1. Every database looked at once, then no process but the launcher.
deadline=$((SECONDS + 90))
until in_all "SELECT status = 'asleep' FROM incview.background_status()" \
      && [[ "$(psql -d postgres -c "$only_launcher")" == t ]]; do
  (( SECONDS < deadline )) || { echo "FAILED: not idle after 90 s"; diagnose; exit 1; }
  sleep 0.5
done
echo "setup and discovery: $SECONDS s"
echo "ok: idle after discovering $ndb databases: only the launcher runs"

echo "[$SECONDS s]"
# 2. Parallel query gets its planned workers while pg_incview is idle.
plan=$(psql -d postgres <<'SQL'
SET max_parallel_workers_per_gather = 4;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) SELECT count(*) FROM big;
SQL
)
planned=$(grep -o 'Workers Planned: [0-9]*' <<<"$plan" | grep -o '[0-9]*$')
launched=$(grep -o 'Workers Launched: [0-9]*' <<<"$plan" | grep -o '[0-9]*$')
echo "parallel query: planned $planned, launched $launched"
check "parallel query launches all its planned workers" test "${planned:-0}" -ge 2 -a "${launched:-x}" = "${planned:-0}"

# 3. Budget of one, held by t1 (its refresh waits for a lock): t2 waits for a worker.
psql -d postgres -c "ALTER SYSTEM SET incview.worker_budget = 1" -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
"$PGBIN/psql" -X -q -U postgres -d t1 -c "BEGIN" -c "LOCK TABLE totals IN ACCESS EXCLUSIVE MODE" \
  -c "SELECT pg_sleep(120)" >/dev/null 2>&1 &
holder=$!
db=t1
wait_for 10 "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE relation = 'totals'::regclass AND mode = 'AccessExclusiveLock' AND granted)"
psql -d t1 -c "INSERT INTO src VALUES (1, 1, clock_timestamp())"
wait_for 10 "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'pg_incview scheduler'
                           AND datname = 't1' AND wait_event_type = 'Lock')"
psql -d t2 -c "INSERT INTO src VALUES (1, 1, clock_timestamp())"
db=t2
check "t2's stage says it waits for a worker" wait_for 10 \
  "SELECT status = 'waiting for a worker' AND next_run IS NOT NULL FROM incview.stages WHERE name = 'totals'"
warn=$(psql -d t2 -c "SELECT incview.set_policy('totals', 'continuous')" 2>&1)
echo "$warn"
check "set_policy warns that the budget is full" grep -q "background processes are all busy" <<<"$warn"
psql -d postgres -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 't1' AND query LIKE '%pg_sleep(120)%'" >/dev/null
wait "$holder" 2>/dev/null || true
holder=""
fresh="SELECT (SELECT last_at FROM totals WHERE k = 1) = (SELECT max(at) FROM src WHERE k = 1)"
check "t2 refreshed once the budget frees up" wait_for 30 "$fresh"
db=t1
check "t1 refreshed after its lock went" wait_for 30 "$fresh"
psql -d postgres -c "ALTER SYSTEM SET incview.worker_budget = 3" -c "SELECT pg_reload_conf()" >/dev/null
db=postgres
wait_for 30 "$only_launcher"

echo "[$SECONDS s]"
# 4. One write per database: every stage fresh within a bound; lag from commit to refresh.
for i in $(seq 1 "$ndb"); do psql -d "t$i" -c "INSERT INTO src VALUES (2, 1, clock_timestamp())"; done
deadline=$((SECONDS + 60))
until in_all "SELECT (SELECT last_at FROM totals WHERE k = 2) = (SELECT max(at) FROM src WHERE k = 2)"; do
  (( SECONDS < deadline )) || { echo "FAILED: not every stage fresh within 60 s"; diagnose; exit 1; }
  sleep 0.2
done
lags=$(for i in $(seq 1 "$ndb"); do
  psql -d "t$i" -c "SELECT round(extract(epoch FROM l.started_at + l.duration - (SELECT max(at) FROM src WHERE k = 2)) * 1000)
                    FROM incview.refresh_log l WHERE l.stage = 'totals' AND l.error IS NULL ORDER BY l.id DESC LIMIT 1"
done | sort -n)
p50=$(sed -n "$(( (ndb + 1) / 2 ))p" <<<"$lags")
p95=$(sed -n "$(( (ndb * 95 + 99) / 100 ))p" <<<"$lags")
echo "ok: one write in each of $ndb databases, all fresh; lag commit -> refreshed: p50 ${p50} ms, p95 ${p95} ms, max $(tail -1 <<<"$lags") ms (budget 3)"
check "idle again: only the launcher" wait_for 30 "$only_launcher"

echo "[$SECONDS s]"
# 5. An interval stage dirtied while no scheduler runs: commits do not wake it, the launcher
#    starts one when the period recorded by the last scheduler has come.
psql -d t3 -c "SELECT incview.set_policy('totals', 'interval', every => '3 seconds')" >/dev/null
sleep 0.5
wait_for 30 "$only_launcher"
psql -d t3 -c "INSERT INTO src VALUES (3, 1, clock_timestamp())"
db=t3
check "interval stage refreshed by a scheduler the launcher started at its period" wait_for 20 \
  "SELECT (SELECT last_at FROM totals WHERE k = 3) = (SELECT max(at) FROM src WHERE k = 3)"

echo "[$SECONDS s]"
# 6. A budget larger than what max_worker_processes leaves: as many schedulers as there are
#    free worker slots wait on locks (8 minus the logical replication launcher and ours), so
#    the next database's scheduler cannot start. It says it is waiting, and the launcher,
#    retrying every pass (naptime 1 s), logs that once, not every second.
psql -d postgres -c "ALTER SYSTEM SET incview.worker_budget = 8" -c "SELECT pg_reload_conf()" >/dev/null
db=postgres
wait_for 30 "$only_launcher"  # t3's scheduler from step 5 is gone: every slot below is counted
nfree=$(psql -d postgres -c "SELECT current_setting('max_worker_processes')::int - count(*) FROM pg_stat_activity
                             WHERE backend_type IN ('logical replication launcher', 'pg_incview launcher')")
last=$((nfree + 1))
holders=()
for i in $(seq 1 "$nfree"); do
  "$PGBIN/psql" -X -q -U postgres -d "t$i" -c "BEGIN" -c "LOCK TABLE totals IN ACCESS EXCLUSIVE MODE" \
    -c "SELECT pg_sleep(120)" >/dev/null 2>&1 &
  holders+=($!)
done
db=postgres
wait_for 10 "SELECT count(*) = $nfree FROM pg_locks l JOIN pg_database d ON d.oid = l.database
             WHERE l.mode = 'AccessExclusiveLock' AND l.granted AND l.locktype = 'relation' AND d.datname ~ '^t[0-9]+$'"
for i in $(seq 1 "$nfree"); do psql -d "t$i" -c "INSERT INTO src VALUES (4, 1, clock_timestamp())"; done
wait_for 20 "SELECT count(*) = $nfree FROM pg_stat_activity WHERE backend_type = 'pg_incview scheduler' AND wait_event_type = 'Lock'"
psql -d "t$last" -c "INSERT INTO src VALUES (4, 1, clock_timestamp())"
db=t$last
check "t$last waits for a worker while max_worker_processes is exhausted" wait_for 10 \
  "SELECT status = 'waiting for a worker' FROM incview.stages WHERE name = 'totals'"
sleep 4
lines=$(grep -c "could not start a scheduler for database \"t$last\"" "$data/server.log" || true)
echo "\"could not start a scheduler\" lines for t$last over ~4 s of retries: $lines"
check "the start failure is logged once, not every pass" test "$lines" = 1
psql -d postgres -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(120)%' AND pid <> pg_backend_pid()" >/dev/null
for h in "${holders[@]}"; do wait "$h" 2>/dev/null || true; done
for i in $(seq 1 "$last"); do
  db=t$i
  check "t$i fresh after the slots free up" wait_for 30 \
    "SELECT (SELECT last_at FROM totals WHERE k = 4) = (SELECT max(at) FROM src WHERE k = 4)"
done
echo "[$SECONDS s]"

# 7. DROP DATABASE leaves no scheduler slot behind. It used to keep one "no scheduler here"
#    slot per dropped database for good: after 64 drops no database got a scheduler again.
for i in $(seq 1 "$ndb"); do echo "DROP DATABASE t$i;"; done | psql -d postgres
for i in $(seq 1 $((70 - ndb))); do
  echo "CREATE DATABASE churn TEMPLATE tmpl STRATEGY FILE_COPY; DROP DATABASE churn;"
done | psql -d postgres
psql -d postgres -c "CREATE DATABASE last_one TEMPLATE tmpl STRATEGY FILE_COPY"
psql -d last_one -c "INSERT INTO src VALUES (5, 1, clock_timestamp())"
db=last_one
check "after 70 DROP DATABASEs a new database still gets a scheduler" wait_for 30 \
  "SELECT (SELECT last_at FROM totals WHERE k = 5) = (SELECT max(at) FROM src WHERE k = 5)"
echo "[$SECONDS s]"
exit $failed
