#!/usr/bin/env bash
# Citus for pg_incview's tests: build it from a source tarball into the PostgreSQL of
# $PG_CONFIG (cached), and run a throwaway Citus cluster (a coordinator and two workers).
# Citus is a platform we run on: this script builds and starts it, the project ships none
# of its code.
#
#   scripts/citus.sh build [TARBALL]  # build + install Citus, skipped when already installed
#                                     # from the same tarball (sha256 stamp beside citus.so)
#   scripts/citus.sh available        # exit 0 when citus.so is installed in $PG_CONFIG's PostgreSQL
#   scripts/citus.sh start            # fresh coordinator + 2 workers, extensions created, nodes added
#   scripts/citus.sh stop             # stop all three nodes; fine when not running
#   scripts/citus.sh psql [NODE] ...  # psql to coordinator (default), worker1 or worker2
#
# Environment:
#   PG_CONFIG            the PostgreSQL to build into and run    (default /usr/bin/pg_config)
#   CITUS_TARBALL        source tarball  (default ../shared/vendor/citus-13.2.2.tar.gz from the repo)
#   CITUS_BUILD_DIR      where the tarball is unpacked and built (default build/citus)
#   CITUS_PORTS          "coordinator worker1 worker2" ports     (default "54351 54352 54353")
#   CITUS_PGDATA         data directory prefix: <prefix>-coordinator, -worker1, -worker2
#                                                                (default /tmp/pg_incview_citus)
#   CITUS_DB             database created on every node          (default incview_citus)
#   CITUS_PGCONF_EXTRA   extra postgresql.conf lines for every node
#   INCVIEW_FAST=1       fsync/synchronous_commit/full_page_writes off
#
# Nodes listen on 127.0.0.1 (Citus connects between nodes over TCP) with trust auth for
# 127.0.0.1/32 and the socket in /tmp: a throwaway test cluster, never a real one.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

export PG_CONFIG=${PG_CONFIG:-/usr/bin/pg_config}
PGBIN=$("$PG_CONFIG" --bindir)
PKGLIBDIR=$("$PG_CONFIG" --pkglibdir)
TARBALL=${CITUS_TARBALL:-$ROOT/../shared/vendor/citus-13.2.2.tar.gz}
BUILD_DIR=${CITUS_BUILD_DIR:-$ROOT/build/citus}
read -r -a PORTS <<<"${CITUS_PORTS:-54351 54352 54353}"
DATA_PREFIX=${CITUS_PGDATA:-/tmp/pg_incview_citus}
DB=${CITUS_DB:-incview_citus}
NODES=(coordinator worker1 worker2)
PGUSER_OS=postgres
STAMP="$PKGLIBDIR/citus.so.sha256"   # sha256 of the tarball citus.so was built from

as_pg() {
  if [[ $(id -un) == "$PGUSER_OS" ]]; then "$@"; else runuser -u "$PGUSER_OS" -- "$@"; fi
}
node_index() {
  local i
  for i in "${!NODES[@]}"; do [[ ${NODES[$i]} == "$1" ]] && { echo "$i"; return 0; }; done
  echo "citus: unknown node '$1' (coordinator|worker1|worker2)" >&2; return 2
}
node_psql() {  # node_psql <node> [psql args]: as postgres, in $DB, stop at the first error
  local i; i=$(node_index "$1"); shift
  "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h /tmp -p "${PORTS[$i]}" -U postgres -d "$DB" "$@"
}

# ---------------------------------------------------------------- build
# The one compile fix against PostgreSQL 15.20+ (see ../shared/vendor/README.md): Citus'
# pg_version_compat.h defines a static have_createdb_privilege() for PostgreSQL < 16, which
# 15.20's commands/dbcommands.h already declares extern. Drop the compat copy when the server
# headers declare it; PostgreSQL's own function is then used.
apply_compile_fix() {
  local src=$1 compat="$1/src/include/pg_version_compat.h"
  local dbh; dbh="$("$PG_CONFIG" --includedir-server)/commands/dbcommands.h"
  grep -q 'extern bool have_createdb_privilege' "$dbh" 2>/dev/null || return 0
  grep -q '^have_createdb_privilege(void)' "$compat" || return 0
  # Delete from the "static inline bool" line before the definition to its closing brace.
  awk '
    pending != "" { if ($0 ~ /^have_createdb_privilege\(void\)/) { skip = 1; pending = ""; next }
                    print pending; pending = "" }
    skip { if ($0 ~ /^}/) skip = 0; next }
    /^static inline bool$/ { pending = $0; next }
    { print }
    END { if (pending != "") print pending }
  ' "$compat" > "$compat.new"
  mv "$compat.new" "$compat"
  if grep -q '^have_createdb_privilege(void)' "$compat"; then
    echo "citus: could not apply the compile fix to $compat" >&2; return 1
  fi
  echo "citus: compile fix applied (static have_createdb_privilege removed from pg_version_compat.h)"
}

do_build() {
  local tarball=${1:-$TARBALL}
  if [[ ! -f "$tarball" ]]; then
    echo "citus: no source tarball at $tarball (set CITUS_TARBALL or pass a path)" >&2
    return 3
  fi
  local sum; sum=$(sha256sum "$tarball" | cut -d' ' -f1)
  if [[ -f "$PKGLIBDIR/citus.so" && -f "$STAMP" && "$(cat "$STAMP")" == "$sum" ]]; then
    echo "citus: already installed from this tarball ($PKGLIBDIR/citus.so, sha256 $sum)"
    return 0
  fi
  echo "citus: building $(basename "$tarball") into $PKGLIBDIR"
  local t0=$SECONDS
  rm -rf "$BUILD_DIR"
  mkdir -p "$BUILD_DIR"
  tar -xzf "$tarball" -C "$BUILD_DIR"
  local src; src=$(find "$BUILD_DIR" -mindepth 1 -maxdepth 1 -type d | head -n1)
  apply_compile_fix "$src"
  # libcurl only serves Citus' usage statistics; with_llvm=no skips JIT bitcode (half the time).
  (cd "$src" && ./configure --without-libcurl PG_CONFIG="$PG_CONFIG" >"$BUILD_DIR/configure.log" 2>&1) || {
    echo "citus: configure failed (log: $BUILD_DIR/configure.log)" >&2; tail -n 20 "$BUILD_DIR/configure.log" >&2; return 1; }
  (cd "$src" && make -j"${INCVIEW_JOBS:-2}" with_llvm=no >"$BUILD_DIR/make.log" 2>&1) || {
    echo "citus: make failed (log: $BUILD_DIR/make.log)" >&2; grep -m5 -A3 'error' "$BUILD_DIR/make.log" >&2 || true; return 1; }
  (cd "$src" && make install with_llvm=no >"$BUILD_DIR/install.log" 2>&1) || {
    echo "citus: make install failed (log: $BUILD_DIR/install.log)" >&2; tail -n 20 "$BUILD_DIR/install.log" >&2; return 1; }
  echo "$sum" > "$STAMP"
  echo "citus: installed in $((SECONDS - t0)) s"
}

# ---------------------------------------------------------------- cluster
is_running() {
  [[ -f "$1/PG_VERSION" ]] && as_pg "$PGBIN/pg_ctl" -D "$1" status >/dev/null 2>&1
}

init_node() {  # init_node <datadir> <port>
  local dir=$1 port=$2
  rm -rf "$dir"; mkdir -p "$dir"; chown "$PGUSER_OS:" "$dir"; chmod 700 "$dir"
  as_pg "$PGBIN/initdb" -D "$dir" -U postgres -A trust --no-sync --encoding=UTF8 --locale=C >/dev/null
  {
    echo "# written by scripts/citus.sh"
    echo "shared_preload_libraries = 'citus,pg_incview'"   # citus must come first
    echo "port = $port"
    echo "listen_addresses = '127.0.0.1'"
    echo "unix_socket_directories = '/tmp'"
    echo "max_worker_processes = 32"
    echo "max_connections = 200"
    echo "log_min_messages = warning"
    echo "log_line_prefix = '%m [%p] %q%u@%d '"
    echo "citus.shard_count = 4"    # small: a test cluster on one machine
    if [[ "${INCVIEW_FAST:-0}" == 1 ]]; then
      echo "fsync = off"; echo "synchronous_commit = off"; echo "full_page_writes = off"
    fi
    [[ -n "${CITUS_PGCONF_EXTRA:-}" ]] && printf '%s\n' "$CITUS_PGCONF_EXTRA"
  } >> "$dir/postgresql.conf"
  echo "host all all 127.0.0.1/32 trust" >> "$dir/pg_hba.conf"
}

start_node() {  # start_node <node>
  local i; i=$(node_index "$1")
  local dir="$DATA_PREFIX-$1"
  if ! as_pg "$PGBIN/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 start >/dev/null; then
    echo "citus: $1 did not start; last lines of $dir/server.log:" >&2
    tail -n 20 "$dir/server.log" >&2 || true
    return 1
  fi
}

stop_node() {  # stop_node <node> [mode]
  local dir="$DATA_PREFIX-$1"
  if is_running "$dir"; then as_pg "$PGBIN/pg_ctl" -D "$dir" -m "${2:-fast}" -w -t 60 stop >/dev/null; fi
}

do_start() {
  for lib in citus pg_incview; do
    if [[ ! -f "$PKGLIBDIR/$lib.so" ]]; then
      echo "citus: $PKGLIBDIR/$lib.so is not installed (scripts/citus.sh build, scripts/build.sh pgxs)" >&2
      return 1
    fi
  done
  do_stop >/dev/null
  local i
  for i in "${!NODES[@]}"; do
    init_node "$DATA_PREFIX-${NODES[$i]}" "${PORTS[$i]}"
    start_node "${NODES[$i]}"
    "$PGBIN/psql" -X -q -h /tmp -p "${PORTS[$i]}" -U postgres -d postgres -c "CREATE DATABASE $DB" >/dev/null
    node_psql "${NODES[$i]}" -c "CREATE EXTENSION citus" >/dev/null
  done
  node_psql coordinator -c "SELECT citus_set_coordinator_host('127.0.0.1', ${PORTS[0]})" >/dev/null
  node_psql coordinator -c "SELECT citus_add_node('127.0.0.1', ${PORTS[1]})" \
                        -c "SELECT citus_add_node('127.0.0.1', ${PORTS[2]})" >/dev/null
  echo "citus: running: coordinator ${PORTS[0]}, workers ${PORTS[1]} ${PORTS[2]} (database $DB, data $DATA_PREFIX-*)"
}

do_stop() {
  local n
  for n in "${NODES[@]}"; do stop_node "$n"; done
  echo "citus: stopped"
}

cmd=${1:-}
[[ $# -gt 0 ]] && shift
case "$cmd" in
  build)     do_build "$@" ;;
  available) [[ -f "$PKGLIBDIR/citus.so" ]] ;;
  start)     do_start ;;
  stop)      do_stop ;;
  restart-node) stop_node "$1" "${2:-fast}"; start_node "$1" ;;
  psql)      node=${1:-coordinator}; [[ $# -gt 0 ]] && shift; node_psql "$node" "$@" ;;
  *)         echo "usage: $0 build [TARBALL] | available | start | stop | restart-node NODE [MODE] | psql [NODE] [args]" >&2; exit 2 ;;
esac
