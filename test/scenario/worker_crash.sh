#!/usr/bin/env bash
# The scheduler killed with SIGKILL mid-refresh, and the whole server stopped immediately
# mid-refresh, lose no dirty scope: after restart the stage converges to verify = (0,0).
# Also: SIGHUP reloads incview.enabled, and DROP DATABASE never waits for our worker.
set -euo pipefail
: "${PGBIN:=/usr/lib/postgresql/15/bin}"
: "${INCVIEW_PGDATA:=/tmp/pg_incview_data}"
db=incview_crash
source "$(dirname "${BASH_SOURCE[0]}")/lib/wait.bash"
diagnose() {  # what the scheduler saw, for a failure report
  psql -d $db -c "SELECT 'stage: ' || row_to_json(s)::text FROM incview.stages s" \
    -c "SELECT 'log: ' || row_to_json(l)::text FROM (SELECT * FROM incview.refresh_log ORDER BY 1 DESC LIMIT 5) l" \
    -c "SELECT 'dirty: ' || count(*) FROM incview.queued_keys" \
    -c "SELECT 'activity: ' || backend_type || ' ' || coalesce(datname, '-') || ' ' || left(coalesce(query, ''), 100) FROM pg_stat_activity WHERE backend_type LIKE 'pg_incview%'" \
    2>&1 | sed 's/^/  /' || true
  tail -n 30 "$INCVIEW_PGDATA/server.log" 2>/dev/null | sed 's/^/  log| /' || true
}
wait_server() {
  local deadline=$((SECONDS + 60))
  until psql -d postgres -c "SELECT 1" >/dev/null 2>&1; do
    (( SECONDS > deadline )) && { echo "server did not come back"; return 1; }
    sleep 0.2
  done
}
psql -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
# Small batches, so a refresh of 40 slow scopes takes several seconds and commits batch by batch.
psql -d postgres -c "ALTER DATABASE $db SET incview.batch_size = 2"
# test.sh runs the cluster with synchronous_commit = off, where a crash may lose the last
# commits of *every* session (PostgreSQL's documented trade-off): the data and its dirty keys
# together, but also this script's set_policy calls. The crash rounds need durable commits,
# for the scheduler and its refresh workers (incview.worker_synchronous_commit, default off:
# their own setting, a database's synchronous_commit does not reach them) and for this
# script's sessions (database setting, PGOPTIONS).
psql -d postgres -c "ALTER DATABASE $db SET synchronous_commit = on" \
                 -c "ALTER DATABASE $db SET incview.worker_synchronous_commit = on"
export PGOPTIONS="-c synchronous_commit=on"
psql -d $db <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION pg_incview;
CREATE TABLE src (k int, v int);
CREATE INDEX ON src (k);
-- 50 ms per scope: a refresh of the 40 scopes below lasts about 2 s.
CREATE FUNCTION slow(x int) RETURNS int LANGUAGE sql VOLATILE AS 'SELECT x FROM (SELECT pg_sleep(0.05)) s';
INSERT INTO src SELECT g % 40, g FROM generate_series(1, 400) g;
SELECT incview.create_stage('slow_stage', 'SELECT k, slow(sum(v)::int) AS total FROM src GROUP BY k', ARRAY['k'],
  engine => 'replace');  -- batches, not the full rebuild auto would pick for 100% dirty
-- slow() is volatile (pg_sleep), which the independence analysis refuses to trust; it only
-- slows each batch down, so the owner declares the scopes independent.
SELECT incview.declare_independent('slow_stage');
SELECT incview.set_policy('slow_stage', 'manual');
SQL

round() {  # round <label> <kill command>
  psql -d $db -c "SELECT incview.set_policy('slow_stage', 'manual')" >/dev/null
  psql -d $db -c "UPDATE src SET v = v + 1"    # dirties all 40 scopes
  psql -d $db -c "SELECT incview.set_policy('slow_stage', 'continuous')" >/dev/null
  # Mid-refresh: batch 3 or later of about 20 (some batches committed, most not yet).
  wait_for 20 "SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'pg_incview scheduler' AND query ~ 'slow_stage\", batch ([3-9]|1[0-5]) '"
  echo "$1: killing mid-refresh"
  eval "$2"
  wait_server
  wait_for 60 "SELECT (SELECT missing = 0 AND extra = 0 FROM incview.verify('slow_stage')) AND NOT EXISTS (SELECT 1 FROM incview.queued_keys)"
  echo "$1: converged, verify (0,0), queue empty"
}
round "SIGKILL scheduler" 'kill -9 "$(psql -d postgres -c "SELECT pid FROM pg_stat_activity WHERE backend_type = '"'"'pg_incview scheduler'"'"' AND datname = '"'"'$db'"'"'")"'
round "immediate shutdown" 'runuser -u postgres -- "$PGBIN/pg_ctl" -D "$INCVIEW_PGDATA" -m immediate stop >/dev/null; runuser -u postgres -- "$PGBIN/pg_ctl" -D "$INCVIEW_PGDATA" -w -l "$INCVIEW_PGDATA/server.log" start >/dev/null'

# SIGHUP: incview.enabled = off stops background refresh, on resumes it.
psql -d postgres -c "ALTER SYSTEM SET incview.enabled = off" -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
psql -d $db -c "ALTER DATABASE $db SET incview.batch_size = 1000" >/dev/null
psql -d $db -c "INSERT INTO src VALUES (1, 1)"
sleep 2
[[ "$(psql -d $db -c "SELECT count(*) > 0 FROM incview.queued_keys")" == t ]] || { echo "refreshed while disabled"; exit 1; }
psql -d postgres -c "ALTER SYSTEM RESET incview.enabled" -c "SELECT pg_reload_conf()" >/dev/null
wait_for 60 "SELECT NOT EXISTS (SELECT 1 FROM incview.queued_keys)"
echo "SIGHUP: disabled then re-enabled background refresh"

# DROP DATABASE (no FORCE) with a scheduler connected returns promptly.
wait_for 10 "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'pg_incview scheduler' AND datname = current_database())"
start=$SECONDS
timeout 20 "$PGBIN/psql" -X -q -U postgres -d postgres -c "DROP DATABASE $db"
echo "DROP DATABASE took $((SECONDS - start)) s"
