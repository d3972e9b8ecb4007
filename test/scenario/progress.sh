#!/usr/bin/env bash
# incview.progress, watched from another session while a refresh and a rebuild run. The
# stage's query passes a gate per scope (an advisory lock this script holds), and the script
# opens the gates one at a time: the refresh can only move as far as the script lets it, so
# every expected progress value is exact, never a matter of timing.
#   1. incview.refresh in batches of 2: scopes_done 0, 2, 4 of 10, batches 0, 1, 2 of 5;
#   2. incview.rebuild: rows_done 0, 1, 2, ... of rows_total 10, phase 'rebuilding';
#   3. CALL incview.refresh_all(): one run across its per-batch transactions (same
#      started_at, counts carried on after each COMMIT);
#   4. the background scheduler's worker reports its refresh too;
#   5. a run that fails (also inside a plpgsql EXCEPTION block) leaves no row behind.
set -euo pipefail
: "${PGBIN:=/usr/lib/postgresql/15/bin}"
db=incview_progress
source "$(dirname "${BASH_SOURCE[0]}")/lib/wait.bash"
diagnose() {
  psql -d $db -c "SELECT 'progress: ' || row_to_json(p)::text FROM incview.progress p" \
    -c "SELECT 'slots: ' || row_to_json(p)::text FROM incview._progress() p" \
    -c "SELECT 'lock: ' || row_to_json(l)::text FROM pg_locks l WHERE locktype = 'advisory'" \
    -c "SELECT 'activity: ' || pid || ' ' || coalesce(application_name, '') || ' ' || backend_type || ' ' || coalesce(state, '') || ' ' || left(coalesce(query, ''), 80) FROM pg_stat_activity WHERE datname = current_database()" \
    2>&1 | sed 's/^/  /' || true
}
fresh_database
# Batches of 2 scopes everywhere, the scheduler included (it reads this when it connects).
psql -d postgres -c "ALTER DATABASE $db SET incview.batch_size = 2" >/dev/null
psql -d $db >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION pg_incview;
SET incview.default_policy = manual;
CREATE TABLE src (k int, v int);
CREATE INDEX ON src (k);
INSERT INTO src SELECT g % 10, g FROM generate_series(1, 100) g;
-- The gate of scope k: a shared advisory lock on 1000 + k, held exclusively by the script.
CREATE FUNCTION gate(k int) RETURNS int LANGUAGE sql VOLATILE
  AS 'SELECT 0 FROM (SELECT pg_advisory_xact_lock_shared(1000 + k)) s';
SELECT incview.create_stage('gated', 'SELECT k, gate(k) + sum(v) AS total FROM src GROUP BY k', ARRAY['k'],
  engine => 'replace');  -- batches even with every scope dirty
-- gate() is volatile, which the independence analysis does not trust; it only holds
-- each scope back, so the owner vouches for the scopes.
SELECT incview.declare_independent('gated');
ANALYZE gated;  -- rows_total of a rebuild is the table's row estimate
SQL

# The controlling session: holds the gates, opens one when told (through a FIFO).
fifo=$(mktemp -u /tmp/incview_progress.XXXXXX)
mkfifo "$fifo"
PGAPPNAME=progress_gates "$PGBIN/psql" -X -q -At -U postgres -d $db <"$fifo" >/dev/null 2>&1 &
gates_pid=$!
exec 3>"$fifo"
cleanup() {
  exec 3>&- || true
  kill "$gates_pid" 2>/dev/null || true
  rm -f "$fifo" "$fifo.out"
  [[ -n "${refresher:-}" ]] && kill "$refresher" 2>/dev/null || true
}
trap cleanup EXIT
gates() { echo "$1" >&3; }
close_all_gates() {
  gates "SELECT pg_advisory_lock(1000 + g) FROM generate_series(0, 9) g;"
  wait_for 20 "SELECT count(*) = 10 FROM pg_locks l JOIN pg_stat_activity a USING (pid)
               WHERE a.application_name = 'progress_gates' AND l.locktype = 'advisory' AND l.granted"
}
open_all_gates() { gates "SELECT pg_advisory_unlock_all();"; }
# open_next_gate <pid>: waits until that backend waits at a gate, then opens that gate.
open_next_gate() {
  wait_for 20 "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND pid = $1)"
  local key
  key=$(psql -d $db -c "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND pid = $1")
  gates "SELECT pg_advisory_unlock($key);"
}
# wait_at_gate <pid>: until that backend waits at a gate.
wait_at_gate() {
  wait_for 20 "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND pid = $1)"
}
# progress <columns>: that row of incview.progress for the stage, '|'-separated.
progress() { psql -d $db -F '|' -c "SELECT $1 FROM incview.progress WHERE stage = 'gated'"; }
# run_in_background <sql...>: a session of its own (application_name progress_refresher);
# sets $refresher (its shell job) and $backend (its server pid).
run_in_background() {
  PGAPPNAME=progress_refresher "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -U postgres -d $db "$@" \
    >"$fifo.out" 2>&1 &
  refresher=$!
  wait_for 20 "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = 'progress_refresher')"
  backend=$(psql -d $db -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'progress_refresher'")
}
finish_background() {  # waits for the background session; fails if it failed
  local rc=0
  wait "$refresher" || rc=$?
  refresher=
  [[ $rc == 0 ]] || { echo "background session failed:"; cat "$fifo.out"; return 1; }
}

# ---------------------------------------------------------------- 1. batches
close_all_gates
psql -d $db -c "UPDATE src SET v = v + 1"   # dirties all 10 scopes
run_in_background -c "SELECT incview.refresh('gated')"
wait_at_gate "$backend"
first=$(progress "pid, phase, batches_done, batches_total, scopes_done, scopes_total, started_at IS NOT NULL")
check "refresh starts at 0 of 5 batches, 0 of 10 scopes ($first)" \
  test "$first" == "$backend|refreshing batches|0|5|0|10|t"
for batch in 1 2; do
  open_next_gate "$backend"; open_next_gate "$backend"   # the two scopes of this batch
  wait_for 20 "SELECT scopes_done = $((batch * 2)) FROM incview.progress WHERE stage = 'gated'"
  now=$(progress "batches_done, batches_total, scopes_done, scopes_total, percent")
  check "after batch $batch: $now" test "$now" == "$batch|5|$((batch * 2))|10|$((batch * 20)).0"
done
open_all_gates
finish_background
check "refresh returned 10 scopes" grep -qx 10 "$fifo.out"
check "no row once the refresh is over" test -z "$(progress "pid")"

# ---------------------------------------------------------------- 2. rebuild, row by row
close_all_gates
run_in_background -c "SELECT incview.rebuild('gated')"
wait_at_gate "$backend"
# rows_done counts a row when the plan reaches the rebuild's filter, which PostgreSQL may
# evaluate before or after the row's gate (a filter on the subquery, or pushed into its
# HAVING): it starts at 0 or 1, then every gate opened adds exactly one row.
start=$(progress "phase, rows_total, rows_done")
check "rebuild starts at 0 (or 1) of 10 rows ($start)" grep -qxE 'rebuilding\|10\|[01]' <<<"$start"
done_rows=${start##*|}
for step in 1 2 3; do
  open_next_gate "$backend"
  wait_for 20 "SELECT rows_done = $((done_rows + 1)) FROM incview.progress WHERE stage = 'gated'"
  now=$(progress "rows_done, rows_total, percent")
  check "rebuild, gate $step opened: $now" test "$now" == "$((done_rows + 1))|10|$((done_rows + 1))0.0"
  wait_at_gate "$backend"
  check "  and no further until the next gate opens" test "$(progress "rows_done")" == "$((done_rows + 1))"
  done_rows=$((done_rows + 1))
done
open_all_gates
finish_background
check "no row once the rebuild is over" test -z "$(progress "pid")"

# ---------------------------------------------------------------- 3. refresh_all: one run over many commits
close_all_gates
psql -d $db -c "UPDATE src SET v = v + 1"
run_in_background -c "CALL incview.refresh_all()"
wait_at_gate "$backend"
started=$(progress "started_at")
open_next_gate "$backend"; open_next_gate "$backend"
# The first step committed; the second waits at its first gate.
wait_for 20 "SELECT scopes_done = 2 FROM incview.progress WHERE stage = 'gated'"
open_next_gate "$backend"; open_next_gate "$backend"
wait_for 20 "SELECT scopes_done = 4 FROM incview.progress WHERE stage = 'gated'"
check "refresh_all: one run across its transactions ($(progress "batches_done, scopes_done, scopes_total"))" \
  test "$(progress "batches_done, batches_total, scopes_done, scopes_total, started_at = '$started'")" == "2|5|4|10|t"
open_all_gates
finish_background
check "no row once refresh_all is over" test -z "$(progress "pid")"

# ---------------------------------------------------------------- 4. the scheduler's worker
close_all_gates
psql -d $db -c "UPDATE src SET v = v + 1"
psql -d $db -c "SELECT incview.set_policy('gated', 'continuous')" >/dev/null
wait_for 30 "SELECT EXISTS (SELECT 1 FROM incview.progress WHERE stage = 'gated')"
worker=$(progress "pid")
check "a background worker reports its refresh" \
  test "$(psql -d $db -c "SELECT backend_type LIKE 'pg_incview%' FROM pg_stat_activity WHERE pid = $worker")" == t
open_next_gate "$worker"; open_next_gate "$worker"
wait_for 20 "SELECT scopes_done = 2 AND pid = $worker FROM incview.progress WHERE stage = 'gated'"
open_all_gates
wait_for 30 "SELECT NOT EXISTS (SELECT 1 FROM incview.progress WHERE stage = 'gated')"
psql -d $db -c "SELECT incview.set_policy('gated', 'manual')" >/dev/null
check "the worker's refresh converged" \
  test "$(psql -d $db -c "SELECT missing = 0 AND extra = 0 FROM incview.verify('gated')")" == t

# ---------------------------------------------------------------- 5. failures leave nothing behind
out=$(psql -d $db -v ON_ERROR_STOP=0 2>&1 <<'SQL'
SET client_min_messages = warning;
SELECT incview.create_stage('bad', 'SELECT k, sum(v) / (k - k) AS boom FROM src GROUP BY k', ARRAY['k'],
  populate => false) IS NOT NULL;
SELECT incview.rebuild('bad');     -- ERROR: division by zero, the transaction aborts
SELECT 'after abort: ' || count(*) FROM incview._progress() WHERE pid = pg_backend_pid();
DO $$ BEGIN PERFORM incview.rebuild('bad'); EXCEPTION WHEN others THEN NULL; END $$;
SELECT 'after caught error: ' || count(*) FROM incview._progress() WHERE pid = pg_backend_pid();
UPDATE src SET v = v + 1;
-- A failing batch is caught and logged by the refresh itself (WARNING); the run still ends.
DO $$ BEGIN PERFORM incview.refresh('bad'); EXCEPTION WHEN others THEN NULL; END $$;
SELECT 'after caught refresh error: ' || count(*) FROM incview._progress() WHERE pid = pg_backend_pid();
SQL
)
echo "$out"
check "an aborted rebuild leaves no progress row" grep -qx 'after abort: 0' <<<"$out"
check "a rebuild failing inside an EXCEPTION block leaves no progress row" grep -qx 'after caught error: 0' <<<"$out"
check "a refresh whose batches fail leaves no progress row" \
  grep -qx 'after caught refresh error: 0' <<<"$out"

cleanup
trap - EXIT
psql -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
[[ $failed == 0 ]] || exit 1
echo "progress: all checks passed"
