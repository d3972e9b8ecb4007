#!/usr/bin/env bash
# Without shared_preload_libraries every SQL function still works; only asking for
# background refresh says what is missing.
set -euo pipefail
: "${PGBIN:=/usr/lib/postgresql/15/bin}"
cd "$(dirname "$0")/../.."
# Its own cluster: INCVIEW_NOPRELOAD_PGPORT / INCVIEW_NOPRELOAD_PGDATA (defaults 54398, /tmp/pg_incview_nopreload).
port=${INCVIEW_NOPRELOAD_PGPORT:-54398} data=${INCVIEW_NOPRELOAD_PGDATA:-/tmp/pg_incview_nopreload}
export INCVIEW_PGPORT=$port INCVIEW_PGDATA=$data INCVIEW_FRESH=1 INCVIEW_NO_PRELOAD=1 INCVIEW_FAST=1
trap 'INCVIEW_PGPORT=$port INCVIEW_PGDATA=$data bash scripts/cluster.sh stop >/dev/null 2>&1 || true' EXIT
bash scripts/cluster.sh start >/dev/null
psql() { "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h /tmp -p $port -U postgres "$@"; }
[[ "$(psql -d postgres -c "SHOW shared_preload_libraries")" != *pg_incview* ]] || { echo "preloaded?"; exit 1; }
out=$(psql -d postgres 2>&1 <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION pg_incview;
CREATE TABLE t (k int, v int);
INSERT INTO t VALUES (1, 1), (2, 2);
SELECT incview.create_stage('s', 'SELECT k, sum(v) AS v FROM t GROUP BY k', ARRAY['k']) IS NOT NULL;
INSERT INTO t VALUES (1, 5);
SELECT 'dirty ' || dirty_scopes FROM incview.stages;
SELECT 'refreshed ' || incview.refresh('s');
SELECT 'verify ' || missing || '/' || extra FROM incview.verify('s');
SELECT incview.set_policy('s', 'interval', every => '1 minute');
SELECT 'workers ' || count(*) FROM pg_stat_activity WHERE backend_type LIKE 'pg_incview%';
SQL
)
echo "$out"
grep -q '^dirty 1$' <<<"$out"
grep -q '^refreshed 1$' <<<"$out"
grep -q '^verify 0/0$' <<<"$out"
grep -q 'WARNING:  pg_incview is not in shared_preload_libraries: no background worker will refresh stage "s"' <<<"$out"
grep -q '^workers 0$' <<<"$out"
echo "without preload: functions work, set_policy says what is missing"
