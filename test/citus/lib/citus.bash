# Shared by the Citus tests (sourced; test/citus/*.sh are the tests, this folder is not).
# scripts/test.sh starts a fresh cluster (scripts/citus.sh start) before each test and
# passes CITUS_PORTS, CITUS_PGDATA and PGBIN. The database is $CITUS_DB on every node.
ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
read -r -a CITUS_PORT <<<"${CITUS_PORTS:?CITUS_PORTS is set by scripts/test.sh}"
CITUS_DB=${CITUS_DB:-incview_citus}

# on <node> [psql args]: psql on coordinator | worker1 | worker2, tuples only, stop on error.
on() {
  local port
  case "$1" in
    coordinator) port=${CITUS_PORT[0]} ;; worker1) port=${CITUS_PORT[1]} ;; worker2) port=${CITUS_PORT[2]} ;;
    *) echo "on: unknown node $1" >&2; return 2 ;;
  esac
  shift
  PGOPTIONS="-c client_min_messages=warning" \
    "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h /tmp -p "$port" -U postgres -d "$CITUS_DB" "$@"
}
coord() { on coordinator "$@"; }

# check <description> <command...>: prints ok/FAILED, remembers a failure in $failed.
failed=0
check() {
  local what=$1; shift
  if "$@"; then echo "ok: $what"; else echo "FAILED: $what"; failed=1; fi
}
# same <description> <expected> <actual>
same() {
  if [[ "$2" == "$3" ]]; then echo "ok: $1"; else echo "FAILED: $1: expected [$2], got [$3]"; failed=1; fi
}
# fails_with <description> <expected error substring> <node> <sql>: the statement must fail
# with an error containing the substring.
fails_with() {
  local what=$1 want=$2 node=$3 sql=$4 out
  if out=$(on "$node" -c "$sql" 2>&1); then
    echo "FAILED: $what: succeeded ($out)"; failed=1
  elif [[ "$out" != *"$want"* ]]; then
    echo "FAILED: $what: wrong error: $out"; failed=1
  else
    echo "ok: $what"
  fi
}
not() { ! "$@"; }
# verified <stage>: incview.verify reports no missing and no extra row.
verified() { [[ "$(coord -c "SELECT missing || '/' || extra FROM incview.verify('$1')")" == "0/0" ]]; }

finish() { exit "$failed"; }
