# Whole-server crashes for the scenarios that need them (crash_restart.sh, rebuild_crash.sh,
# delta_exactly_once.sh): `pg_ctl stop -m immediate` kills the server's processes, not the
# machine, and the crash points are held by advisory locks, not timing. Sourced after
# wait.bash (needs psql, wait_for, PGBIN, INCVIEW_PGDATA and $db).
as_pg() { if [[ $(id -un) == postgres ]]; then "$@"; else runuser -u postgres -- "$@"; fi; }
holders=()  # background psql sessions of the scenario (they die with the server)

# wait_server: until the restarted server accepts connections (at most 60 s).
wait_server() {
  local deadline=$((SECONDS + 60))
  until psql -d postgres -c "SELECT 1" >/dev/null 2>&1; do
    (( SECONDS > deadline )) && { echo "server did not come back"; return 1; }
    sleep 0.1
  done
}

# crash_and_restart: immediate stop, start, wait; reaps the background sessions.
crash_and_restart() {
  as_pg "$PGBIN/pg_ctl" -D "$INCVIEW_PGDATA" -m immediate stop >/dev/null
  as_pg "$PGBIN/pg_ctl" -D "$INCVIEW_PGDATA" -w -t 60 -l "$INCVIEW_PGDATA/server.log" start >/dev/null
  wait_server
  local pid
  for pid in "${holders[@]}"; do wait "$pid" 2>/dev/null || true; done  # they lost their server
  holders=()
}

# hold <sql...>: a background session that runs the statements and stays connected (and
# inside its transaction, if one is open) until the crash.
hold() {
  local args=() s
  for s in "$@"; do args+=(-c "$s"); done
  "$PGBIN/psql" -X -q -At -U postgres -d $db "${args[@]}" -c "SELECT pg_sleep(600)" >/dev/null 2>&1 &
  holders+=($!)
}

# hold_advisory <n>: holds advisory lock n; the crash points wait for it.
hold_advisory() {
  hold "SELECT pg_advisory_lock($1)"
  wait_for 20 "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND granted)"
}

# waiting_on_advisory <n> [backend_type LIKE pattern]: someone (of that kind) waits for lock n.
waiting_on_advisory() {
  wait_for 60 "SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
               WHERE l.locktype = 'advisory' AND l.objid = $1 AND NOT l.granted AND a.backend_type LIKE '${2:-%}')"
}
