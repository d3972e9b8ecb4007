#!/usr/bin/env bash
# Engine delta (issue 13): every queued delta is applied exactly once.
#   (a) The server stopped with `pg_ctl stop -m immediate` in the middle of a fold (the
#       scheduler's refresh has consumed the queue and written the stage in its open
#       transaction), DELTA_CRASH_ROUNDS times (default 3). After the restart the scheduler
#       alone (continuous policy, incview.naptime = 100ms) empties the queue and the stage
#       equals its query: a delta applied twice or lost would show in verify.
#   (b) pgbench: 4 clients of single-row inserts, updates that move rows between groups and
#       deletes, plus a client of bulk statements, for DELTA_PGBENCH_SECONDS (default 10),
#       while the scheduler folds and a fifth client calls refresh_scopes (the re-derive path
#       that settles the queue under its SHARE lock). Then the stage equals its query.
# The crash point is pinned, not timed: a statement trigger on the stage table waits for an
# advisory lock this script holds; the server is stopped once pg_locks shows the refresh
# worker waiting for it.
set -euo pipefail
: "${PGBIN:=/usr/lib/postgresql/15/bin}"
: "${INCVIEW_PGDATA:=/tmp/pg_incview_data}"
ROUNDS=${DELTA_CRASH_ROUNDS:-3}
SECS=${DELTA_PGBENCH_SECONDS:-10}
db=incview_delta_once
source "$(dirname "${BASH_SOURCE[0]}")/lib/wait.bash"
source "$(dirname "${BASH_SOURCE[0]}")/lib/crash.bash"

work=$(mktemp -d)
cleanup() {
  local pid
  for pid in "${holders[@]}"; do kill "$pid" 2>/dev/null || true; done
  psql -d postgres -c "ALTER SYSTEM RESET incview.naptime" -c "SELECT pg_reload_conf()" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
diagnose() {
  psql -d $db -c "SELECT 'stage: ' || name || ' ' || status || coalesce(' error=' || last_error, '') FROM incview.stages" \
    -c "SELECT 'log: ' || row_to_json(l)::text FROM (SELECT id, stage, engine, scopes, error FROM incview.refresh_log ORDER BY id DESC LIMIT 5) l" \
    2>&1 | sed 's/^/  /' || true
  tail -n 20 "$INCVIEW_PGDATA/server.log" 2>/dev/null | sed 's/^/  log| /' || true
}
queue_empty() { echo "SELECT NOT incview.delta_queued((SELECT d.queue FROM incview.delta_stage d))"; }
converged() {
  wait_for 60 "$(queue_empty)" &&
    wait_for 60 "SELECT v.missing = 0 AND v.extra = 0 FROM incview.verify('tags') v"
}

psql -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
psql -d postgres -c "ALTER DATABASE $db SET synchronous_commit = on" >/dev/null
export PGOPTIONS="-c synchronous_commit=on"
psql -d postgres -c "ALTER SYSTEM SET incview.naptime = '100ms'" -c "SELECT pg_reload_conf()" >/dev/null
psql -d $db >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION pg_incview;
CREATE FUNCTION hold_point() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock_shared(1);
  RETURN NULL;
END $$;
CREATE TABLE ev (id bigserial PRIMARY KEY, tag int NOT NULL, v int);
INSERT INTO ev (tag, v) SELECT g % 200, g % 1000 FROM generate_series(1, 50000) g;
CREATE INDEX ON ev (tag);
SELECT incview.create_stage('tags', 'SELECT tag, count(*) AS n, sum(v) AS s, avg(v) AS a, min(v) AS lo, max(v) AS hi
                                      FROM ev GROUP BY tag', ARRAY['tag'], engine => 'delta');
SELECT incview.set_policy('tags', 'continuous');
-- fires inside the fold statement (its UPDATE/INSERT/DELETE of the stage table)
CREATE TRIGGER zz_crash_point AFTER INSERT OR UPDATE OR DELETE ON tags FOR EACH STATEMENT EXECUTE FUNCTION hold_point();
SQL
check "created: the stage equals its query" converged

for round in $(seq 1 "$ROUNDS"); do
  echo "round $round: crash in the middle of a fold"
  hold_advisory 1
  psql -d $db >/dev/null <<SQL
INSERT INTO ev (tag, v) SELECT (g * 7 + $round) % 210, g FROM generate_series(1, 300) g;
UPDATE ev SET tag = (tag + 1) % 200 WHERE id % 97 = $round;
DELETE FROM ev WHERE id IN (SELECT id FROM ev WHERE v = 0 ORDER BY id LIMIT 20);
UPDATE ev SET v = NULL WHERE id % 101 = $round;
SQL
  check "round $round: a fold waits at the crash point" \
    wait_for 30 "SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                 WHERE l.locktype = 'advisory' AND l.objid = 1 AND NOT l.granted)"
  crash_and_restart
  check "round $round: after the restart the scheduler folds every delta exactly once" converged
done

echo "pgbench: writers, the scheduler and refresh_scopes together for ${SECS}s"
cat >"$work/single.sql" <<'SQL'
\set t random(0, 219)
\set r random(1, 100)
\if :r <= 50
INSERT INTO ev (tag, v) VALUES (:t, :r);
\elif :r <= 80
UPDATE ev SET tag = :t WHERE id = (SELECT max(id) - :r FROM ev);
\else
DELETE FROM ev WHERE id = (SELECT max(id) - :r * 3 FROM ev);
\endif
SQL
cat >"$work/bulk.sql" <<'SQL'
\set t random(0, 199)
INSERT INTO ev (tag, v) SELECT (:t + g) % 220, g FROM generate_series(1, 200) g;
UPDATE ev SET v = v + 1 WHERE tag = :t;
DELETE FROM ev WHERE tag = (:t + 5) % 220 AND id % 4 = 0;
SQL
cat >"$work/rederive.sql" <<'SQL'
\set t random(0, 219)
SELECT incview.refresh_scopes('tags', ('[' || :t || ']')::jsonb);
SELECT pg_sleep(0.05);
SQL
psql -d $db -c "DROP TRIGGER zz_crash_point ON tags" >/dev/null
"$PGBIN/pgbench" -n -U postgres -c 4 -j 2 -T "$SECS" -f "$work/single.sql" $db >"$work/single.log" 2>&1 &
p1=$!
"$PGBIN/pgbench" -n -U postgres -c 1 -T "$SECS" -f "$work/bulk.sql" $db >"$work/bulk.log" 2>&1 &
p2=$!
"$PGBIN/pgbench" -n -U postgres -c 1 -T "$SECS" -f "$work/rederive.sql" $db >"$work/rederive.log" 2>&1 &
p3=$!
rc=0
wait $p1 || rc=1
wait $p2 || rc=1
wait $p3 || rc=1
grep -h "number of transactions actually processed\|number of failed" "$work"/*.log | sed 's/^/  /' || true
check "pgbench clients finished without errors" test $rc -eq 0
check "after pgbench: the stage equals its query" converged
check "the scheduler logged folds" test "$(psql -d $db -c "SELECT count(*) > 0 FROM incview.refresh_log WHERE stage = 'tags' AND engine = 'delta' AND error IS NULL")" = t
exit $failed
