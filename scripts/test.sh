#!/usr/bin/env bash
# THE test command of pg_incview (see docs/testing.md).
#
#   scripts/test.sh                  # deps, build, fresh cluster, all suites
#   scripts/test.sh regress pgtap    # only these suites (regress | pgtap | scenario | bench | citus | ctest)
#
# Suites and how they are counted:
#   regress  `make installcheck`: pg_regress (sql/*.sql vs expected/*.out) and the isolation
#            specs (specs/*.spec vs expected/*.out, pg_isolation_regress): one per file
#   pgtap    pg_prove on test/pgtap/*.sql, each file in a fresh database: one per assertion
#   ctest    ctest on build/ (GoogleTest, one per discovered test)
#   citus    test/citus/*.sh on a throwaway Citus cluster (scripts/citus.sh): one per file;
#            where Citus is neither installed nor buildable (no tarball), counted as
#            skipped with the reason in the summary line
# Last line of output is always `N passed, M failed`; exit status 1 if M > 0.
# Whatever prevents tests from running counts as one failure: a failed build, a cluster
# that won't start, a pgTAP file that dies (plus its unrun planned assertions), a pg_regress
# or ctest run that produces no results.
#
# Environment: INCVIEW_KEEP=1 (leave the cluster running), INCVIEW_SKIP_BUILD=1 (skip deps
# and build), INCVIEW_REGRESS="t1 t2" (only these pg_regress tests),
# INCVIEW_PGTAP_FILES="test/pgtap/a.sql" (only these files), INCVIEW_SCENARIOS="test/scenario/a.sh", INCVIEW_FAST (default 1 here),
# plus everything scripts/cluster.sh reads (INCVIEW_PGPORT, INCVIEW_PGDATA, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

export INCVIEW_FAST=${INCVIEW_FAST:-1}
export INCVIEW_FRESH=1
PORT=${INCVIEW_PGPORT:-54329}
PGDATA_DIR=${INCVIEW_PGDATA:-/tmp/pg_incview_data}
export PG_CONFIG=${PG_CONFIG:-/usr/bin/pg_config}
# PGBIN follows PG_CONFIG, so a private copy of the server (another PG_CONFIG) is used end to end.
export PGBIN=${PGBIN:-$("$PG_CONFIG" --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)}
LOGDIR="$ROOT/build/test-logs"
TAPDB=incview_tap

SUITES=("$@")
[[ ${#SUITES[@]} -eq 0 ]] && SUITES=(regress pgtap scenario bench citus ctest)
want() { local s; for s in "${SUITES[@]}"; do [[ $s == "$1" ]] && return 0; done; return 1; }
for s in "${SUITES[@]}"; do
  case "$s" in regress|pgtap|scenario|bench|citus|ctest) ;; *) echo "test: unknown suite '$s' (regress|pgtap|scenario|bench|citus|ctest)" >&2; exit 2;; esac
done

TOTAL_PASS=0
TOTAL_FAIL=0
SUMMARY=()
record() {  # record <suite label> <passed> <failed> [note]
  TOTAL_PASS=$((TOTAL_PASS + $2))
  TOTAL_FAIL=$((TOTAL_FAIL + $3))
  SUMMARY+=("$(printf '  %-10s %5d passed, %3d failed%s' "$1" "$2" "$3" "${4:+  ($4)}")")
}
section() { printf '\n== %s\n' "$*"; }
show() {  # show <file> [max lines]: print a log excerpt, indented
  local n=${2:-60}
  [[ -f "$1" ]] || return 0
  sed -e 's/^/    | /' "$1" | tail -n "$n"
}
show_build_errors() {  # the first compiler/make errors of a build log, else its tail
  if grep -qE 'error:|Error [0-9]+|undefined reference|CMake Error' "$1"; then
    grep -E -A3 'error:|undefined reference|CMake Error' "$1" | head -n 40 | sed -e 's/^/    | /'
    grep -E 'Error [0-9]+' "$1" | head -n 5 | sed -e 's/^/    | /'
  else
    show "$1" 30
  fi
}

CLUSTER_STARTED=0
FINISHED=0
CITUS_RUNNING=0
cleanup() {
  if [[ $CITUS_RUNNING == 1 ]]; then bash "$ROOT/scripts/citus.sh" stop >/dev/null 2>&1 || true; CITUS_RUNNING=0; fi
  if [[ $CLUSTER_STARTED == 1 && "${INCVIEW_KEEP:-0}" != 1 ]]; then
    "$ROOT/scripts/cluster.sh" stop >/dev/null 2>&1 || true
    CLUSTER_STARTED=0
  fi
}
exec 3>&1 4>&2   # the real stdout/stderr, for the exit trap (it may fire inside a redirection)
on_exit() {
  local rc=$?
  cleanup
  if [[ $FINISHED != 1 ]]; then
    # Aborted (unexpected error or interrupt): still end with the closing line.
    {
      echo
      echo "test.sh aborted (exit $rc) before all suites ran"
      echo "$TOTAL_PASS passed, $((TOTAL_FAIL + 1)) failed"
    } >&3 2>&4
    exit 1
  fi
}
trap on_exit EXIT
trap 'exit 130' INT TERM

mkdir -p "$LOGDIR"
rm -f "$LOGDIR"/*.log

# ---------------------------------------------------------------- deps + build
PGXS_OK=1
CMAKE_OK=1
if [[ "${INCVIEW_SKIP_BUILD:-0}" != 1 ]]; then
  section "dependencies"
  if bash scripts/deps.sh; then
    echo "ok"
  else
    echo "FAILED"
    record "deps" 0 1 "scripts/deps.sh failed"
    PGXS_OK=0; CMAKE_OK=0
  fi

  if [[ $PGXS_OK == 1 ]] && { want regress || want pgtap || want citus; }; then
    section "build: PGXS (make && make install)"
    if bash scripts/build.sh pgxs >"$LOGDIR/build-pgxs.log" 2>&1; then
      echo "ok"
    else
      PGXS_OK=0
      echo "FAILED (log: $LOGDIR/build-pgxs.log)"
      record "build/PGXS" 0 1 "make failed"
      show_build_errors "$LOGDIR/build-pgxs.log"
    fi
  fi
  if [[ $CMAKE_OK == 1 ]] && want ctest; then
    section "build: CMake (build/)"
    if bash scripts/build.sh cmake >"$LOGDIR/build-cmake.log" 2>&1; then
      echo "ok"
    else
      CMAKE_OK=0
      echo "FAILED (log: $LOGDIR/build-cmake.log)"
      record "build/CMake" 0 1 "cmake failed"
      show_build_errors "$LOGDIR/build-cmake.log"
    fi
  fi
fi

# ---------------------------------------------------------------- cluster
CLUSTER_OK=0
if want regress || want pgtap || want scenario; then
  if [[ $PGXS_OK == 1 ]]; then
    section "cluster (fresh, port $PORT)"
    CLUSTER_STARTED=1
    if bash scripts/cluster.sh start; then
      CLUSTER_OK=1
    else
      echo "FAILED to start the cluster"
      record "cluster" 0 1 "did not start"
    fi
  fi
fi
PSQL=(env PGOPTIONS="-c client_min_messages=warning" "$PGBIN/psql" -X -q -h /tmp -p "$PORT" -U postgres -v ON_ERROR_STOP=1)

# ---------------------------------------------------------------- pg_regress
run_regress() {
  section "pg_regress (make installcheck)"
  local tests=()
  if [[ -n "${INCVIEW_REGRESS:-}" ]]; then
    read -r -a tests <<<"$INCVIEW_REGRESS"
  else
    local f
    for f in sql/*.sql; do
      [[ -e $f ]] || continue
      f=$(basename "$f" .sql)
      [[ $f == pg_incview--* ]] && continue
      tests+=("$f")
    done
  fi
  if [[ ${#tests[@]} -eq 0 ]]; then
    echo "no tests"; record "pg_regress" 0 0 "no tests"; return
  fi
  # A build or cluster failure was already counted once; don't count it again here.
  if [[ $PGXS_OK != 1 ]]; then echo "skipped"; record "pg_regress" 0 0 "skipped: build failed"; return; fi
  if [[ $CLUSTER_OK != 1 ]]; then echo "skipped"; record "pg_regress" 0 0 "skipped: no cluster"; return; fi

  local log="$LOGDIR/pg_regress.log" rc=0
  local args=(installcheck PG_CONFIG="$PG_CONFIG" PGHOST=/tmp PGPORT="$PORT" PGUSER=postgres)
  [[ -n "${INCVIEW_REGRESS:-}" ]] && args+=(REGRESS="${tests[*]}")
  PGHOST=/tmp PGPORT=$PORT PGUSER=postgres make -s "${args[@]}" >"$log" 2>&1 || rc=$?

  # PG15 lines: "test name   ... ok   12 ms", "     name   ... FAILED   12 ms" (parallel
  # groups), "... failed (ignored)". Count ok / FAILED per test.
  local pass fail
  pass=$(grep -cE '^(test +|     +)?[^ ]+ +\.\.\. +ok( |$)' "$log" || true)
  fail=$(grep -cE '^(test +|     +)?[^ ]+ +\.\.\. +FAILED' "$log" || true)
  grep -E '\.\.\. +(ok|FAILED|failed)' "$log" | sed -e 's/^ */  /' || true
  grep -E 'tests? (passed|failed)' "$log" | sed -e 's/^[ =]*/  /; s/[ =]*$//' || true
  if [[ $rc -ne 0 && $fail -eq 0 ]]; then
    # make/pg_regress failed without a per-test failure: it could not run.
    echo "pg_regress could not run (exit $rc):"
    show "$log" 30
    record "pg_regress" "$pass" 1 "did not run"
    return
  fi
  if [[ $fail -gt 0 ]]; then
    if [[ -f regression.diffs ]]; then
      echo "--- regression.diffs ($ROOT/regression.diffs; first 200 lines)"
      head -n 200 regression.diffs
      echo "---"
    fi
  fi
  record "pg_regress" "$pass" "$fail"
}

# ---------------------------------------------------------------- pgTAP
run_pgtap() {
  section "pgTAP (pg_prove, fresh database $TAPDB per file)"
  local files=()
  if [[ -n "${INCVIEW_PGTAP_FILES:-}" ]]; then
    read -r -a files <<<"$INCVIEW_PGTAP_FILES"
  else
    local f
    for f in test/pgtap/*.sql; do [[ -e $f ]] && files+=("$f"); done
  fi
  if [[ ${#files[@]} -eq 0 ]]; then
    echo "no tests"; record "pgTAP" 0 0 "no files"; return
  fi
  if [[ $PGXS_OK != 1 ]]; then echo "skipped"; record "pgTAP" 0 0 "skipped: build failed"; return; fi
  if [[ $CLUSTER_OK != 1 ]]; then echo "skipped"; record "pgTAP" 0 0 "skipped: no cluster"; return; fi

  local spass=0 sfail=0 f
  for f in "${files[@]}"; do
    local name log rc=0
    name=$(basename "$f")
    log="$LOGDIR/pgtap-${name%.sql}.log"
    if ! { "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $TAPDB WITH (FORCE)" &&
           "${PSQL[@]}" -d postgres -c "CREATE DATABASE $TAPDB" &&
           "${PSQL[@]}" -d "$TAPDB" -c "CREATE EXTENSION pgtap"; } >"$LOGDIR/pgtap-setup.log" 2>&1; then
      printf '  %-40s could not create database %s\n' "$name" "$TAPDB"
      show "$LOGDIR/pgtap-setup.log" 20
      sfail=$((sfail + 1)); continue
    fi
    pg_prove --nocolor --verbose --psql-bin "$PGBIN/psql" \
             -h /tmp -p "$PORT" -U postgres -d "$TAPDB" "$f" >>"$log" 2>&1 || rc=$?
    # Column-0 TAP lines only (pg_prove --verbose echoes the TAP stream).
    local plan ok notok todo ran p fl note=""
    plan=$(grep -m1 -oE '^1\.\.[0-9]+' "$log" | cut -c4- || true)
    ok=$(grep -cE '^ok [0-9]+' "$log" || true)
    notok=$(grep -cE '^not ok [0-9]+' "$log" || true)
    todo=$(grep -E '^not ok [0-9]+' "$log" | grep -ciE '# *TODO' || true)
    ran=$((ok + notok))
    p=$((ok + todo))
    fl=$((notok - todo))
    if [[ -n "$plan" && $plan -gt $ran ]]; then
      fl=$((fl + plan - ran)); note="died after $ran of $plan"
    fi
    if [[ $rc -ne 0 && $fl -eq 0 ]]; then
      fl=1; note="exit $rc"
    fi
    printf '  %-40s %4d passed, %3d failed%s\n' "$name" "$p" "$fl" "${note:+  ($note)}"
    if [[ $fl -gt 0 ]]; then
      # failing assertions with their diagnostics, psql errors, the summary
      grep -vE '^ok [0-9]+|^1\.\.[0-9]+$' "$log" | sed -e 's/^/    | /' | head -n 80
    fi
    spass=$((spass + p)); sfail=$((sfail + fl))
  done
  # INCVIEW_KEEP=1 leaves the last file's database for inspection.
  if [[ "${INCVIEW_KEEP:-0}" != 1 ]]; then
    "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $TAPDB WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  record "pgTAP" "$spass" "$sfail"
}

# ---------------------------------------------------------------- scenarios
# test/scenario/*.sh: shell scenarios that need more than one SQL session or a server
# restart (pg_dump/restore, killed workers). Each is one test: exit 0 passes. They get
# PGHOST/PGPORT/PGUSER, PGBIN, INCVIEW_PGDATA and the cluster script.
run_scenario() {
  section "scenarios (test/scenario/*.sh)"
  local files=() f
  if [[ -n "${INCVIEW_SCENARIOS:-}" ]]; then
    read -r -a files <<<"$INCVIEW_SCENARIOS"
  else
    for f in test/scenario/*.sh; do [[ -e $f ]] && files+=("$f"); done
  fi
  if [[ ${#files[@]} -eq 0 ]]; then echo "no tests"; record "scenario" 0 0 "no files"; return; fi
  if [[ $PGXS_OK != 1 || $CLUSTER_OK != 1 ]]; then echo "skipped"; record "scenario" 0 0 "skipped"; return; fi
  local spass=0 sfail=0
  for f in "${files[@]}"; do
    local name log rc=0
    name=$(basename "$f")
    log="$LOGDIR/scenario-${name%.sh}.log"
    # 600 s each, unless the script asks for more with a line "# scenario-timeout: <seconds>".
    local limit
    limit=$(sed -n 's/^# scenario-timeout: \([0-9][0-9]*\)$/\1/p' "$f" | head -n1)
    PGHOST=/tmp PGPORT=$PORT PGUSER=postgres PGBIN=$PGBIN INCVIEW_PGDATA=$PGDATA_DIR \
      timeout "${limit:-600}" bash "$f" >"$log" 2>&1 || rc=$?
    if [[ $rc -eq 0 ]]; then
      printf '  %-40s ok\n' "$name"; spass=$((spass + 1))
    else
      printf '  %-40s FAILED (exit %d)\n' "$name" "$rc"; show "$log" 40; sfail=$((sfail + 1))
    fi
  done
  record "scenario" "$spass" "$sfail"
}

# ---------------------------------------------------------------- bench smoke
# bench/run.sh at scale 0.01 (20 patients, about 30 s) on its own throwaway cluster, so the
# benchmark script keeps working; its numbers mean nothing and nothing is published into
# bench/. One test: exit 0 passes (the script fails on any error or wrong refresh result).
run_bench_smoke() {
  section "bench smoke (bench/run.sh 0.01)"
  if [[ $PGXS_OK != 1 ]]; then echo "skipped"; record "bench" 0 0 "skipped: build failed"; return; fi
  local log="$LOGDIR/bench-smoke.log" rc=0
  BENCH_PGPORT=$((PORT + 3)) BENCH_PGDATA="${PGDATA_DIR}_bench" BENCH_OUT="$LOGDIR/bench-out" \
    BENCH_PUBLISH_DIR="$LOGDIR/bench-out" PGBIN=$PGBIN timeout 600 bash bench/run.sh 0.01 >"$log" 2>&1 || rc=$?
  if [[ $rc -eq 0 ]]; then
    echo "  bench/run.sh 0.01                        ok  (results: $LOGDIR/bench-out/RESULTS.md)"
    record "bench" 1 0
  else
    echo "  bench/run.sh 0.01                        FAILED (exit $rc)"; show "$log" 40
    record "bench" 0 1
  fi
}

# ---------------------------------------------------------------- Citus
# test/citus/*.sh on a throwaway Citus cluster (coordinator + 2 workers, scripts/citus.sh),
# one test per file (exit 0 passes). Citus comes from the source tarball (CITUS_TARBALL,
# default ../shared/vendor/citus-13.2.2.tar.gz), built once into $PG_CONFIG's PostgreSQL and
# cached, or is already installed there (Citus' own packages). Neither: the suite is counted
# as skipped and says why in the summary. Ports: CITUS_PORTS (default PORT+5..PORT+7).
run_citus() {
  section "Citus (test/citus/*.sh, scripts/citus.sh)"
  if [[ $PGXS_OK != 1 ]]; then echo "skipped"; record "citus" 0 0 "skipped: build failed"; return; fi
  local tarball=${CITUS_TARBALL:-$ROOT/../shared/vendor/citus-13.2.2.tar.gz}
  local log="$LOGDIR/citus-build.log"
  if [[ -f "$tarball" ]]; then
    if ! CITUS_TARBALL=$tarball bash scripts/citus.sh build >"$log" 2>&1; then
      echo "  Citus build FAILED (log: $log)"; show "$log" 30
      record "citus" 0 1 "Citus build failed"; return
    fi
    sed -e 's/^/  /' "$log"
  elif ! bash scripts/citus.sh available; then
    local why="SKIPPED: Citus unavailable (no citus.so in $("$PG_CONFIG" --pkglibdir), no tarball at $tarball)"
    echo "  $why"; record "citus" 0 0 "$why"; return
  else
    echo "  using the Citus installed in $("$PG_CONFIG" --pkglibdir)"
  fi
  export CITUS_PORTS=${CITUS_PORTS:-"$((PORT + 5)) $((PORT + 6)) $((PORT + 7))"}
  export CITUS_PGDATA=${CITUS_PGDATA:-${PGDATA_DIR}-citus}
  local files=() f spass=0 sfail=0
  for f in test/citus/*.sh; do [[ -e $f ]] && files+=("$f"); done
  if [[ ${#files[@]} -eq 0 ]]; then echo "no tests"; record "citus" 0 0 "no files"; return; fi
  for f in "${files[@]}"; do
    local name rc=0
    name=$(basename "$f")
    log="$LOGDIR/citus-${name%.sh}.log"
    # Each file gets a fresh cluster: a test may restart or break nodes.
    CITUS_RUNNING=1
    if ! bash scripts/citus.sh start >"$log" 2>&1; then
      printf '  %-40s FAILED (cluster did not start)\n' "$name"; show "$log" 20
      sfail=$((sfail + 1)); continue
    fi
    PGBIN=$PGBIN timeout 600 bash "$f" >>"$log" 2>&1 || rc=$?
    bash scripts/citus.sh stop >/dev/null 2>&1 || true
    CITUS_RUNNING=0
    if grep -qE 'terminated by signal|PANIC' "$CITUS_PGDATA"-*/server.log 2>/dev/null; then
      echo "  $name: a Citus node's backend crashed:"; grep -hE 'terminated by signal|PANIC' "$CITUS_PGDATA"-*/server.log | head -n 5
      [[ $rc -eq 0 ]] && rc=99
    fi
    if [[ $rc -eq 0 ]]; then
      printf '  %-40s ok\n' "$name"; spass=$((spass + 1))
    else
      printf '  %-40s FAILED (exit %d)\n' "$name" "$rc"; show "$log" 40; sfail=$((sfail + 1))
    fi
  done
  record "citus" "$spass" "$sfail"
}

# ---------------------------------------------------------------- CTest
run_ctest() {
  section "CTest (build/)"
  if [[ $CMAKE_OK != 1 ]]; then echo "skipped"; record "CTest" 0 0 "skipped: build failed"; return; fi
  if [[ ! -f build/CTestTestfile.cmake ]]; then record "CTest" 0 1 "build/ not configured"; return; fi
  local log="$LOGDIR/ctest.log" rc=0
  ctest --test-dir build --output-on-failure -j2 --timeout 300 >"$log" 2>&1 || rc=$?
  # "83% tests passed, 2 tests failed out of 12"   or   "No tests were found!!!"
  local line total fail
  line=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n1 || true)
  if [[ -n "$line" ]]; then
    fail=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
    total=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")
    echo "  ${line#"${line%%[![:space:]]*}"}"
    if [[ $fail -gt 0 ]]; then
      sed -n '/The following tests FAILED/,$p' "$log" | sed -e 's/^/    | /'
      echo "  (full output: $log)"
    fi
    record "CTest" $((total - fail)) "$fail"
  elif grep -q 'No tests were found' "$log" && [[ $rc -eq 0 ]]; then
    echo "no tests"; record "CTest" 0 0 "no tests"
  else
    echo "ctest could not run (exit $rc):"; show "$log" 30
    record "CTest" 0 1 "did not run"
  fi
}

want regress && run_regress
want pgtap && run_pgtap
want scenario && run_scenario

# Server crashes are worth a look even when the counts look fine.
if [[ $CLUSTER_OK == 1 && -f "$PGDATA_DIR/server.log" ]] &&
   grep -qE 'terminated by signal|PANIC' "$PGDATA_DIR/server.log"; then
  section "server log: crash detected ($PGDATA_DIR/server.log)"
  grep -nE 'terminated by signal|PANIC' "$PGDATA_DIR/server.log" | head -n 20
  # Scenarios may SIGKILL a worker on purpose (signal 9); any other crash is a failure.
  if grep -E 'terminated by signal|PANIC' "$PGDATA_DIR/server.log" | grep -vq 'SIGKILL\|signal 9'; then
    record "server" 0 1 "backend crashed"
  fi
fi
if [[ "${INCVIEW_KEEP:-0}" == 1 && $CLUSTER_OK == 1 ]]; then
  section "cluster kept running (INCVIEW_KEEP=1): psql -h /tmp -p $PORT -U postgres; stop: scripts/cluster.sh stop"
else
  cleanup
fi

want bench && run_bench_smoke
want citus && run_citus
want ctest && run_ctest

section "summary (logs: $LOGDIR)"
printf '%s\n' "${SUMMARY[@]}"
echo "$TOTAL_PASS passed, $TOTAL_FAIL failed"
FINISHED=1
[[ $TOTAL_FAIL -eq 0 ]]
