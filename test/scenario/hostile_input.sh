#!/usr/bin/env bash
# Hostile input, mechanically (issue #11 item 4): every SQL function of the extension called
# with plausible, NULL, empty, huge, unknown and malformed arguments (generator and its
# pools: hostile_input/generator.sql). Each call runs in its own transaction between a
# snapshot and a check. Passes when:
#   - no call failed with SQLSTATE XX000 (internal error) -- except _selftest_throw('std'
#     / 'unknown'), whose purpose is to raise a C++ exception the entry guard reports as such;
#   - no call crashed the server or lost the connection (server log: no "terminated by
#     signal", no PANIC);
#   - no failed call changed the incview catalog, pg_class or pg_trigger (procedures that
#     commit on purpose, e.g. refresh_all, are held to the invariants only);
#   - after every call: no half-made stage and no cycle of stages (fuzz.invariants), no
#     leaked role, search_path or advisory lock in the session (fuzz.session_leaks);
#   - every function of the extension was called.
# Reproducible: INCVIEW_FUZZ_SEED (default 0.1) and INCVIEW_FUZZ_CALLS (random calls after
# the systematic ones; default 1000) fix the list of calls. A larger run:
#   INCVIEW_FUZZ_CALLS=20000 INCVIEW_FUZZ_SEED=0.7 bash test/scenario/hostile_input.sh
set -euo pipefail
: "${PGBIN:=/usr/lib/postgresql/15/bin}"
: "${INCVIEW_PGDATA:=/tmp/pg_incview_data}"
SEED=${INCVIEW_FUZZ_SEED:-0.1}
CALLS=${INCVIEW_FUZZ_CALLS:-1000}
here=$(dirname "${BASH_SOURCE[0]}")
db=incview_fuzz
source "$here/lib/wait.bash"
work=$(mktemp -d)
serverlog="$INCVIEW_PGDATA/server.log"

restore_settings() {
  psql -d postgres -c "ALTER SYSTEM RESET incview.enabled" -c "SELECT pg_reload_conf()" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap restore_settings EXIT
wait_server() {
  local deadline=$((SECONDS + 60))
  until psql -d postgres -c "SELECT 1" >/dev/null 2>&1; do
    (( SECONDS > deadline )) && { echo "server did not come back"; return 1; }
    sleep 0.2
  done
}

# Background refreshes and retention would change the catalog between a call and its check.
psql -d postgres -c "ALTER SYSTEM SET incview.enabled = off" -c "SELECT pg_reload_conf()" >/dev/null
fresh_database
# Durable commits: a crash must not take the recorded results of earlier calls with it.
psql -d postgres -c "ALTER DATABASE $db SET synchronous_commit = on" \
                 -c "ALTER DATABASE $db SET incview.default_policy = manual" \
                 -c "ALTER DATABASE $db SET statement_timeout = '60s'" >/dev/null
psql -d $db -f "$here/hostile_input/fixture.sql" >/dev/null
psql -d $db -f "$here/hostile_input/generator.sql" >/dev/null
psql -d $db -c "INSERT INTO fuzz.call SELECT * FROM fuzz.calls($SEED, $CALLS)" >/dev/null
total=$(psql -d $db -c "SELECT count(*) FROM fuzz.call")
echo "seed $SEED: $total calls ($CALLS random), $(psql -d $db -c "SELECT count(*) FROM fuzz.target_function") functions"

log_offset=$(stat -c %s "$serverlog" 2>/dev/null || echo 0)
next=1 crashes=0
started=$SECONDS
while (( next <= total )); do
  psql -d $db -c "SELECT * FROM fuzz.script($next)" >"$work/calls.sql"
  rc=0
  # -q -At: results go to /dev/null; errors (expected by the hundred) to calls.log.
  "$PGBIN/psql" -X -q -At -U postgres -d $db -v path="$(psql -d $db -c 'SHOW search_path')" \
    -f "$work/calls.sql" >/dev/null 2>>"$work/calls.log" || rc=$?
  last=$(psql -d $db -c "SELECT coalesce(max(id), 0) FROM fuzz.result" 2>/dev/null || true)
  if [[ $rc -eq 0 ]]; then break; fi
  # The session ended before the script did: the call after the last recorded one killed it.
  wait_server
  last=$(psql -d $db -c "SELECT coalesce(max(id), 0) FROM fuzz.result")
  crashes=$((crashes + 1))
  echo "CONNECTION LOST at call $((last + 1)) (psql exit $rc): $(psql -d $db -c "SELECT left(sql, 300) FROM fuzz.call WHERE id = $((last + 1))")"
  psql -d $db -c "INSERT INTO fuzz.result (id, sqlstate, message) VALUES ($((last + 1)), 'CRASH', 'psql exit $rc')" >/dev/null
  next=$((last + 2))
done
elapsed=$((SECONDS - started))

# ---------------------------------------------------------------- report
psql -d $db <<'SQL'
\pset footer off
SELECT format('%s calls made (%s setup steps), %s succeeded, %s failed with an ERROR',
              count(*), count(*) FILTER (WHERE c.fn IS NULL), count(*) FILTER (WHERE r.sqlstate = '00000'),
              count(*) FILTER (WHERE r.sqlstate NOT IN ('00000', 'CRASH')))
FROM fuzz.result r JOIN fuzz.call c USING (id);
SELECT 'errors by SQLSTATE: ' || string_agg(sqlstate || ' ' || n, ', ' ORDER BY n DESC, sqlstate)
FROM (SELECT sqlstate, count(*) AS n FROM fuzz.result WHERE sqlstate <> '00000' GROUP BY 1) s;
SELECT 'calls per function: ' || string_agg(fn || ' ' || n || '/' || ok, ', ' ORDER BY fn)
FROM (SELECT c.fn, count(*) AS n, count(*) FILTER (WHERE r.sqlstate = '00000') AS ok
      FROM fuzz.result r JOIN fuzz.call c USING (id) WHERE c.fn IS NOT NULL GROUP BY 1) s;
SQL
echo "elapsed ${elapsed}s"

problems() {  # one line per finding
  psql -d $db <<'SQL'
SELECT format('call %s: %s -- %s: %s', r.id, left(c.sql, 300), kind, left(what, 300))
FROM fuzz.result r JOIN fuzz.call c USING (id)
CROSS JOIN LATERAL (VALUES
  ('XX000 internal error', CASE WHEN r.sqlstate = 'XX000' AND c.fn IS DISTINCT FROM '_selftest_throw' THEN r.message END),
  ('setup step failed', CASE WHEN c.fn IS NULL AND r.sqlstate <> '00000' THEN r.message END),
  ('crash', CASE WHEN r.sqlstate = 'CRASH' THEN r.message END),
  ('failed call changed the catalog', CASE WHEN r.changed AND NOT EXISTS (
      SELECT 1 FROM fuzz.target_function f WHERE f.name = c.fn AND f.prokind = 'p') THEN r.sqlstate || ' ' || r.message END),
  ('half-made state', r.broken),
  ('session leak', r.leaked)) AS v(kind, what)
WHERE what IS NOT NULL
ORDER BY r.id;
SELECT format('function %s was never called', f.name)
FROM fuzz.target_function f WHERE NOT EXISTS (SELECT 1 FROM fuzz.call c JOIN fuzz.result r USING (id) WHERE c.fn = f.name);
SQL
}
found=$(problems)
if [[ -f "$serverlog" ]]; then
  crash_lines=$(tail -c +"$((log_offset + 1))" "$serverlog" | grep -E 'terminated by signal|PANIC' || true)
  [[ -n "$crash_lines" ]] && found+=$'\n'"server log: $crash_lines"
fi
found=$(sed '/^$/d' <<<"$found")
if [[ -n "$found" ]]; then
  echo "FAILED: $(wc -l <<<"$found") findings (seed $SEED)"
  head -n 60 <<<"$found" | cut -c1-700
  exit 1
fi
echo "crashes: 0; XX000: 0; failed calls that changed the catalog: 0; half-made states: 0; session leaks: 0"
if [[ ${INCVIEW_FUZZ_KEEP:-0} != 1 ]]; then
  psql -d postgres -c "DROP DATABASE $db WITH (FORCE)" -c "DROP ROLE IF EXISTS incview_fuzz_user" >/dev/null
fi
