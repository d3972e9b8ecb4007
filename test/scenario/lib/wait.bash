# Shared by the scenarios (sourced; test/scenario/*.sh are the tests, this folder is not).
# Needs PGBIN and $db (the scenario's database); a scenario may define diagnose() to print
# what it knows when a wait times out.
psql() { "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -U postgres "$@"; }

# wait_for <seconds> <sql returning t>: polls in $db (connection errors count as "not yet",
# e.g. while the server restarts); on timeout prints the condition (and diagnose) and fails.
wait_for() {
  local deadline=$((SECONDS + $1))
  until [[ "$(psql -d "$db" -c "$2" 2>/dev/null || true)" == t ]]; do
    if (( SECONDS > deadline )); then
      echo "timeout ($1 s) waiting for: $2"
      if declare -F diagnose >/dev/null; then diagnose; fi
      return 1
    fi
    sleep 0.05
  done
}

# check <description> <command...>: runs the command, prints ok/FAILED, remembers a failure
# in $failed (a scenario runs every check, then exits 1 if any failed).
failed=0
check() {
  local what=$1; shift
  if "$@"; then echo "ok: $what"; else echo "FAILED: $what"; failed=1; fi
}

# fresh_database: drops and re-creates $db.
fresh_database() {
  psql -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null 2>&1
}
