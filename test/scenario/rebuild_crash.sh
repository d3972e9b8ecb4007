#!/usr/bin/env bash
# The server stopped with `pg_ctl stop -m immediate` around a full rebuild by storage swap
# (docs/rebuild.md), CRASH_ROUNDS times (default 3):
#   (a) while the new contents are being built (the stage query waits at a gate),
#   (b) after the swap, before its transaction commits (it waits on a lock after rebuild()),
#   (c) right after the commit.
# After each restart the stage holds the old rows ((a), (b)) or the new ones ((c)), every
# row readable (out-of-line values detoasted), never neither; no transient heap is left in
# the catalog; and a refresh then brings it to its query (verify = (0, 0)).
# The crash points are pinned by advisory locks this script holds, not timed.
set -euo pipefail
: "${PGBIN:=/usr/lib/postgresql/15/bin}"
: "${INCVIEW_PGDATA:=/tmp/pg_incview_data}"
ROUNDS=${CRASH_ROUNDS:-3}
db=incview_rebuild_crash
source "$(dirname "${BASH_SOURCE[0]}")/lib/wait.bash"
source "$(dirname "${BASH_SOURCE[0]}")/lib/crash.bash"

cleanup() { local pid; for pid in "${holders[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT
diagnose() {
  psql -d $db -c "SELECT 'activity: ' || coalesce(wait_event, '-') || ' ' || left(coalesce(query, ''), 100) FROM pg_stat_activity WHERE datname = current_database()" 2>&1 | sed 's/^/  /' || true
  tail -n 20 "$INCVIEW_PGDATA/server.log" 2>/dev/null | sed 's/^/  log| /' || true
}
# The stage's contents as one checksum; reading it detoasts every value.
contents() { psql -d $db -c "SELECT md5(coalesce(string_agg(g || ':' || n || ':' || vs, '|' ORDER BY g), '')) FROM rb"; }
query_contents() {
  psql -d $db -c "SELECT md5(coalesce(string_agg(g || ':' || n || ':' || vs, '|' ORDER BY g), ''))
                  FROM (SELECT g, count(*) AS n, string_agg(v, ',' ORDER BY id) AS vs FROM src GROUP BY g) q"
}
no_transient() { [[ "$(psql -d $db -c "SELECT count(*) FROM pg_class WHERE relname LIKE 'pg_temp_%' AND relnamespace = 'public'::regnamespace")" == 0 ]]; }
same() { [[ "$1" == "$2" ]]; }
verified() { [[ "$(psql -d $db -c "SELECT incview.refresh('rb') >= 0; SELECT missing || '/' || extra FROM incview.verify('rb')" | tail -n 1)" == 0/0 ]]; }

fresh_database
psql -d $db -c "SET client_min_messages = warning" -c "CREATE EXTENSION pg_incview" >/dev/null
psql -d $db >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE TABLE src (id int PRIMARY KEY, g int, v text);
INSERT INTO src SELECT i, i % 50, CASE WHEN i % 400 = 0 THEN repeat(md5(i::text), 300) ELSE 'v' || i END
FROM generate_series(1, 20000) i;
-- The stage query waits at this gate while the script holds advisory lock 7101.
CREATE FUNCTION gate() RETURNS boolean LANGUAGE sql VOLATILE
  AS $$ SELECT true FROM (SELECT pg_advisory_xact_lock_shared(7101)) AS l $$;
SELECT incview.create_stage('rb', 'SELECT g, count(*) AS n, string_agg(v, '','' ORDER BY id) AS vs FROM src WHERE gate() GROUP BY g',
                            ARRAY['g'], unique_key => ARRAY['g'], engine => 'full');
SELECT incview.set_policy('rb', 'manual');
SQL

for round in $(seq 1 "$ROUNDS"); do
  echo "round $round"
  # (a) crash while the new heap is being filled
  old=$(contents)
  psql -d $db -c "UPDATE src SET v = v || '$round' WHERE id % 9 = 0" >/dev/null
  hold_advisory 7101
  hold "SELECT incview.rebuild('rb')"
  waiting_on_advisory 7101
  crash_and_restart
  check "(a) crash while building: the old rows, all readable" same "$(contents)" "$old"
  check "(a) no transient heap left in the catalog" no_transient

  # (b) crash after the swap, before the commit
  hold_advisory 7102
  hold "BEGIN" "SELECT incview.rebuild('rb')" "SELECT pg_advisory_lock(7102)" "COMMIT"
  waiting_on_advisory 7102
  crash_and_restart
  check "(b) crash after the swap, before the commit: the old rows, all readable" same "$(contents)" "$old"
  check "(b) no transient heap left in the catalog" no_transient

  # (c) crash right after the commit
  psql -d $db -c "SELECT incview.rebuild('rb')" >/dev/null
  crash_and_restart
  check "(c) crash after the commit: the new rows, all readable" same "$(contents)" "$(query_contents)"
  check "(c) no transient heap left in the catalog" no_transient
  check "the stage equals its query" verified
done
exit $failed
