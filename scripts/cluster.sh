#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for pg_incview development and tests.
#
#   scripts/cluster.sh start    # init (if needed) and start; INCVIEW_FRESH=1 re-creates it
#   scripts/cluster.sh stop     # fast shutdown; fine when not running
#   scripts/cluster.sh status
#   scripts/cluster.sh psql [psql args...]
#
# Environment:
#   INCVIEW_PGDATA       data directory            (default /tmp/pg_incview_data)
#   INCVIEW_PGPORT       port                      (default 54329; socket in /tmp)
#   INCVIEW_FRESH=1      start: wipe and re-initdb the data directory
#   INCVIEW_FAST=1       fsync/synchronous_commit/full_page_writes off (test.sh sets it)
#   INCVIEW_NO_PRELOAD=1 do not preload pg_incview (debugging the scripts only)
#   INCVIEW_PGCONF_EXTRA extra postgresql.conf lines (e.g. "incview.naptime = '100ms'")
#
# The server runs as the OS user "postgres" (initdb refuses root); clients connect
# as database user postgres through the socket in /tmp with trust auth.
set -euo pipefail

PGBIN=${PGBIN:-$("${PG_CONFIG:-/usr/bin/pg_config}" --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)}
PGDATA=${INCVIEW_PGDATA:-/tmp/pg_incview_data}
PGPORT=${INCVIEW_PGPORT:-54329}
SOCKDIR=/tmp
LOGFILE="$PGDATA/server.log"
PGUSER_OS=postgres

as_pg() {
  if [[ $(id -un) == "$PGUSER_OS" ]]; then "$@"; else runuser -u "$PGUSER_OS" -- "$@"; fi
}

is_running() {
  [[ -f "$PGDATA/PG_VERSION" ]] && as_pg "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1
}

write_conf() {
  local preload="pg_incview" fast="${INCVIEW_FAST:-0}"
  if [[ "${INCVIEW_NO_PRELOAD:-0}" == 1 ]]; then
    preload=""
  else
    local libdir; libdir=$("$PGBIN/pg_config" --pkglibdir)
    if [[ ! -f "$libdir/pg_incview.so" ]]; then
      echo "cluster: $libdir/pg_incview.so is not installed; run scripts/build.sh first" >&2
      echo "         (or INCVIEW_NO_PRELOAD=1 to start without the extension preloaded)" >&2
      exit 1
    fi
  fi
  # Rewritten on every start so env changes apply to a reused data directory.
  {
    echo "# written by scripts/cluster.sh on every start; edits are lost"
    echo "shared_preload_libraries = '$preload'"
    echo "port = $PGPORT"
    echo "unix_socket_directories = '$SOCKDIR'"
    echo "listen_addresses = ''"
    echo "max_worker_processes = 16"
    # Room for a scheduler + incview.max_workers refresh workers in the database under test
    # while schedulers of other test databases wait out their idle timeout (the default
    # budget, 3, is exercised by test/scenario/many_databases.sh on its own cluster).
    echo "incview.worker_budget = 8"
    echo "log_min_messages = warning"
    # Isolation specs PREPARE captured writes (specs/prepared_writes.spec); 0 would refuse it.
    echo "max_prepared_transactions = 10"
    echo "log_line_prefix = '%m [%p] %q%u@%d '"
    if [[ "$fast" == 1 ]]; then
      echo "fsync = off"
      echo "synchronous_commit = off"
      echo "full_page_writes = off"
    fi
    [[ -n "${INCVIEW_PGCONF_EXTRA:-}" ]] && printf '%s\n' "$INCVIEW_PGCONF_EXTRA"
  } > "$PGDATA/incview.conf"
  chown "$PGUSER_OS:" "$PGDATA/incview.conf"
}

do_init() {
  rm -rf "$PGDATA"
  mkdir -p "$PGDATA"
  chown "$PGUSER_OS:" "$PGDATA"
  chmod 700 "$PGDATA"
  local out
  if ! out=$(as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres -A trust --no-sync \
                   --encoding=UTF8 --locale=C 2>&1); then
    echo "$out" >&2
    echo "cluster: initdb failed" >&2
    exit 1
  fi
  echo "include 'incview.conf'" >> "$PGDATA/postgresql.conf"
}

do_start() {
  if [[ "${INCVIEW_FRESH:-0}" == 1 ]]; then
    is_running && do_stop
    do_init
  elif is_running; then
    echo "cluster: already running ($PGDATA, port $PGPORT)"
    print_info
    return 0
  elif [[ ! -f "$PGDATA/PG_VERSION" ]]; then
    do_init
  fi
  write_conf
  if ! as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$LOGFILE" -w -t 60 start >/dev/null; then
    echo "cluster: start failed; last lines of $LOGFILE:" >&2
    tail -n 30 "$LOGFILE" >&2 || true
    exit 1
  fi
  echo "cluster: running (data $PGDATA, port $PGPORT, log $LOGFILE)"
  print_info
}

print_info() {
  echo "  connect: psql -h $SOCKDIR -p $PGPORT -U postgres   (or: scripts/cluster.sh psql)"
  echo "  stop:    scripts/cluster.sh stop"
}

do_stop() {
  if is_running; then
    as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w -t 60 stop >/dev/null
    echo "cluster: stopped"
  else
    echo "cluster: not running"
  fi
}

cmd=${1:-status}
[[ $# -gt 0 ]] && shift
case "$cmd" in
  start)  do_start ;;
  stop)   do_stop ;;
  status) if is_running; then echo "cluster: running (data $PGDATA, port $PGPORT)"; print_info
          else echo "cluster: not running ($PGDATA)"; exit 3; fi ;;
  psql)   exec "$PGBIN/psql" -h "$SOCKDIR" -p "$PGPORT" -U postgres "$@" ;;
  *)      echo "usage: $0 start|stop|status|psql [args]" >&2; exit 2 ;;
esac
