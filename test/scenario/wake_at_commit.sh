#!/usr/bin/env bash
# A commit that dirties a continuous stage wakes the scheduler at once: with the polling
# period (incview.naptime) set to ten minutes, the change is still refreshed within 2 s.
# A manual stage's commit does not wake it, and a stage switched to continuous is woken by
# the very next commit, also from a session that wrote to the source before the switch
# (its cached capture plans are invalidated by set_policy).
set -euo pipefail
: "${PGBIN:=/usr/lib/postgresql/15/bin}"
db=incview_wake
source "$(dirname "${BASH_SOURCE[0]}")/lib/wait.bash"
cleanup() {
  psql -d postgres -c "ALTER SYSTEM RESET incview.naptime" -c "SELECT pg_reload_conf()" >/dev/null || true
}
trap cleanup EXIT
psql -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" 2>/dev/null
psql -d $db >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION pg_incview;
CREATE TABLE src (k int, v int);
INSERT INTO src SELECT g % 10, g FROM generate_series(1, 100) g;
SELECT incview.create_stage('live', 'SELECT k, sum(v) AS total FROM src GROUP BY k', ARRAY['k']);
SELECT incview.create_stage('later', 'SELECT k, count(*) AS n FROM src GROUP BY k', ARRAY['k']);
SELECT incview.set_policy('later', 'manual');
SQL
wait_for 20 "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'pg_incview scheduler' AND datname = current_database())"
psql -d postgres -c "ALTER SYSTEM SET incview.naptime = '10min'" -c "SELECT pg_reload_conf()" >/dev/null
sleep 1  # the scheduler takes the new naptime before its next sleep

# 1. continuous: woken by the commit, not by the (10 min) poll.
psql -d $db -c "INSERT INTO src VALUES (3, 1000)"
wait_for 2 "SELECT (SELECT total FROM live WHERE k = 3) = (SELECT sum(v) FROM src WHERE k = 3)"
echo "continuous: refreshed within 2 s of the commit with naptime = 10min"

# 2. manual: stays dirty (it was already dirtied by the insert above; the live stage was not).
wait_for 2 "SELECT EXISTS (SELECT 1 FROM incview.stages WHERE name = 'later' AND dirty_scopes > 0)"
sleep 1
[[ "$(psql -d $db -c "SELECT dirty_scopes FROM incview.stages WHERE name = 'later'")" == 1 ]] \
  || { echo "manual stage was refreshed"; exit 1; }
echo "manual: left dirty"

# 3. One session loads its capture state while both stages are manual (no wake), then
#    'live' is switched to continuous: the same session's next commit must wake the
#    scheduler, so set_policy has to invalidate what that session cached.
"$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -U postgres -d $db >/dev/null <<'SQL'
SELECT incview.set_policy('live', 'manual');
INSERT INTO src VALUES (7, 1);             -- capture state cached: nobody to wake
SELECT incview.set_policy('live', 'continuous');  -- wakes the scheduler once, right now
SELECT pg_sleep(1);                        -- that wake-up has passed
INSERT INTO src VALUES (8, 1);             -- must wake it again, at commit
SQL
wait_for 2 "SELECT (SELECT total FROM live WHERE k = 8) = (SELECT sum(v) FROM src WHERE k = 8)"
echo "policy switches: the next commit wakes the scheduler"
psql -d postgres -c "DROP DATABASE $db WITH (FORCE)"
