#!/usr/bin/env bash
# Writer-backend CPU per transaction against the number of stages on one source (issue 18),
# same-round ratios. bench/capture_fanout.sh measures the whole cluster's CPU (WAL writer,
# autovacuum and the checkpointer included); this one reads the two pgbench backends' own
# CPU time (/proc/<pid>/stat, utime + stime) over the middle of each run, and the rows they
# committed over the same interval (max(id) of the table), so it measures the write path.
#
# Tables t<name>, each with its own stages (CPU_TABLES: "name:stages[:engine] ...", every stage
# `SELECT k, sum(v), count(*) … GROUP BY k`, scope k, engine CPU_ENGINE unless the table names
# its own, manual policy) on
# CPU_SOURCE_ROWS rows (1,000 scope values). Each round, for each build (alternating order)
# and synchronous_commit on and off, every table gets a pgbench run of CPU_SECONDS (2
# clients, single-row INSERT) in rotated order; queues are emptied after each run.
# Builds: "after" under AFTER_PGBIN, "before" under BEFORE_PGBIN (optional).
# Output: raw rows (measure,build,table,round,sync,tps,cpu_us_per_tx) in $OUT/raw.csv and a
# per-round report on stdout and in $OUT/report.md; the ratios are against the first table.
#   CPU_ENGINE=delta CPU_TABLES="d1:1 d10:10 d50:50" AFTER_PGBIN=... BEFORE_PGBIN=... bench/capture_fanout_cpu.sh
#   CPU_ENGINE=replace CPU_TABLES="k1:1 k50:50 c1:1" CPU_ROUNDS=9 ...   (c1: the 1-vs-1 control)
#   CPU_TOGETHER=1: the tables' runs at the same time instead of one after the other (below).
#   CPU_TABLES="k1:1:replace d1:1:delta" CPU_BULK_ROWS=100000 ...: one key-capture stage against one delta
#   stage (issue 13's writer-cost target), and after each round's pgbench runs one INSERT … SELECT of
#   CPU_BULK_ROWS rows per table, its backend's CPU measured the same way (measure "b").
#   CPU_WORKLOAD=update: pgbench's single-row statement is `UPDATE t SET v = v + 1 WHERE id = :id`
#   (random id, the row stays in its group; committed rows counted by sum(v)) instead of the INSERT;
#   with CPU_BULK_ROWS, also one `UPDATE … SET v = v + 1 WHERE id <= CPU_BULK_ROWS` per table after
#   the INSERT … SELECT (measure "u").
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
AFTER_PGBIN=${AFTER_PGBIN:-${PGBIN:-$("${PG_CONFIG:-/usr/bin/pg_config}" --bindir)}}
BEFORE_PGBIN=${BEFORE_PGBIN:-}
PORT=${BENCH_PGPORT:-54460}
DATA=${BENCH_PGDATA:-/tmp/pg_incview_fanout_cpu}
TABLES=${CPU_TABLES:-"d1:1 d10:10 d50:50"}
ENGINE=${CPU_ENGINE:-delta}
ROUNDS=${CPU_ROUNDS:-5}
SECS=${CPU_SECONDS:-6}
SOURCE_ROWS=${CPU_SOURCE_ROWS:-100000}
BULK_ROWS=${CPU_BULK_ROWS:-0}
TOGETHER=${CPU_TOGETHER:-0}
CLIENTS=${CPU_CLIENTS:-1}  # CPU_TOGETHER only (one after the other: 2 clients)
WORKLOAD=${CPU_WORKLOAD:-insert}
# what grows by one per committed single-row statement
if [[ $WORKLOAD == update ]]; then DONE_SQL="sum(v)"; else DONE_SQL="max(id)"; fi
OUT=${BENCH_OUT:-$HERE/out/capture_fanout_cpu_$ENGINE}
mkdir -p "$OUT"
RAW="$OUT/raw.csv"
: >"$RAW"
LIBS="after"
[[ -n $BEFORE_PGBIN ]] && LIBS="before after"
HZ=$(getconf CLK_TCK)
bin_of() { if [[ $1 == after ]]; then echo "$AFTER_PGBIN"; else echo "$BEFORE_PGBIN"; fi; }
port_of() { if [[ $1 == after ]]; then echo "$PORT"; else echo $((PORT + 1)); fi; }
data_of() { echo "${DATA}_$1"; }
cluster() {
  INCVIEW_PGPORT=$(port_of "$1") INCVIEW_PGDATA=$(data_of "$1") INCVIEW_FAST=0 PGBIN=$(bin_of "$1") \
    INCVIEW_PGCONF_EXTRA="shared_buffers = 256MB
max_wal_size = 4GB
checkpoint_timeout = 30min
autovacuum = off" bash "$ROOT/scripts/cluster.sh" "$2" >/dev/null
}
stop_all() { for l in $LIBS; do cluster "$l" stop || true; rm -rf "$(data_of "$l")"; done; }
trap stop_all EXIT
q() {
  local lib=$1
  shift
  "$AFTER_PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h /tmp -p "$(port_of "$lib")" -U postgres -d fanout "$@"
}
# This run's backends only: one of the previous run may still be exiting.
FRESH="backend_start > clock_timestamp() - interval '4 seconds'"
ticks_of() {  # pids -> summed utime + stime (a pid gone: 0)
  local t=0 p
  for p in "$@"; do
    read -r -a f < <(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null) || continue
    t=$((t + f[11] + f[12]))
  done
  echo "$t"
}
# One pgbench run on table $2; prints "tps cpu_us_per_tx" (backend CPU over the middle of the run).
run() {  # lib, table, sync
  local lib=$1 tab=$2 sync=$3 pids t0 t1 n0 n1 out
  PGOPTIONS="-c synchronous_commit=$sync" "$AFTER_PGBIN/pgbench" -n -h /tmp -p "$(port_of "$lib")" -U postgres \
    -c 2 -j 2 -T "$SECS" -f "$OUT/insert_$tab.sql" fanout >"$OUT/pgbench.out" 2>>"$OUT/pgbench.log" &
  local pg=$!
  sleep 1
  pids=$(q "$lib" -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgbench' AND datname = 'fanout' AND $FRESH")
  n0=$(q "$lib" -c "SELECT $DONE_SQL FROM t$tab")
  # shellcheck disable=SC2086
  t0=$(ticks_of $pids)
  sleep $((SECS - 2))
  # shellcheck disable=SC2086
  t1=$(ticks_of $pids)
  n1=$(q "$lib" -c "SELECT $DONE_SQL FROM t$tab")
  wait "$pg"
  out=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$OUT/pgbench.out" | head -1)
  awk -v tps="$out" -v d=$((t1 - t0)) -v n=$((n1 - n0)) -v hz="$HZ" 'BEGIN { printf "%s %.1f\n", tps, 1e6 * d / hz / n }'
}
# CPU_TOGETHER=1: the tables' pgbench runs at the same time (CPU_CLIENTS clients each), so every
# table sees the same machine load at every moment: the per-round ratios then vary far less
# than with runs one after the other (the other engineers' load changes within seconds).
# Prints one "table tps cpu_us_per_tx" line per table; TPS here is the rows committed over the
# sampled window (the same window as the CPU), not pgbench's.
run_together() {  # lib, sync
  local lib=$1 sync=$2 tab p pids n1 t1 d
  declare -A pgpid p0 n0
  for tab in $names; do
    # longer than the sampled window: sampling several tables under load takes seconds
    PGAPPNAME="fan_$tab" PGOPTIONS="-c synchronous_commit=$sync" "$AFTER_PGBIN/pgbench" -n -h /tmp \
      -p "$(port_of "$lib")" -U postgres -c "$CLIENTS" -j "$CLIENTS" -T $((SECS + 8)) -f "$OUT/insert_$tab.sql" fanout \
      >"$OUT/pgbench_$tab.out" 2>>"$OUT/pgbench.log" &
    pgpid[$tab]=$!
  done
  sleep 2
  for tab in $names; do
    pids=$(q "$lib" -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'fan_$tab' AND $FRESH")
    p0[$tab]=""
    for p in $pids; do p0[$tab]+="$p:$(ticks_of "$p") "; done
    n0[$tab]=$(q "$lib" -c "SELECT $DONE_SQL FROM t$tab")
  done
  sleep "$SECS"
  for tab in $names; do
    # the same backends; one gone since (pgbench's first connection) counts nothing
    d=0
    for p in ${p0[$tab]}; do
      [[ -r /proc/${p%%:*}/stat ]] || continue
      t1=$(ticks_of "${p%%:*}")
      d=$((d + t1 - ${p#*:}))
    done
    n1=$(q "$lib" -c "SELECT $DONE_SQL FROM t$tab")
    p0[$tab]="$d $((n1 - n0[$tab]))"
  done
  for tab in $names; do
    wait "${pgpid[$tab]}"
    read -r d n1 <<<"${p0[$tab]}"
    awk -v tab="$tab" -v d="$d" -v n="$n1" -v hz="$HZ" 'BEGIN { printf "%s %.1f %.1f\n", tab, n / '"$SECS"', 1e6 * d / hz / n }'
  done
}
# One INSERT … SELECT of BULK_ROWS rows into t$2 in a session of its own; prints "ms cpu_ms" (wall
# time and the backend's on-CPU time, /proc/<pid>/schedstat, over the statement).
bulk() {  # lib, table[, statement]
  local lib=$1 tab=$2 pid c0 c1 w0 w1 x
  local sql=${3:-"INSERT INTO t$tab (k, v) SELECT 1 + g % 1000, g FROM generate_series(1, $BULK_ROWS) g"}
  coproc BULK { q "$lib"; }
  echo "SELECT pg_backend_pid();" >&"${BULK[1]}"
  read -r pid <&"${BULK[0]}"
  read -r c0 _ </proc/"$pid"/schedstat
  w0=$(date +%s%N)
  echo "$sql; SELECT 1;" >&"${BULK[1]}"
  read -r x <&"${BULK[0]}"
  w1=$(date +%s%N)
  read -r c1 _ </proc/"$pid"/schedstat
  echo '\q' >&"${BULK[1]}"
  wait "$BULK_PID" 2>/dev/null || true
  awk -v w=$((w1 - w0)) -v c=$((c1 - c0)) 'BEGIN { printf "%.1f %.1f\n", w / 1e6, c / 1e6 }'
}
clear_queues() {  # lib
  q "$1" -c "DELETE FROM incview.dirty_scope" -c "DELETE FROM incview.source_change" -c "DELETE FROM incview.capture_mark"
  local dq
  for dq in $(q "$1" -c "SELECT d.queue FROM incview.delta_stage d"); do q "$1" -c "DELETE FROM $dq"; done
  q "$1" -c "VACUUM incview.dirty_scope" -c "VACUUM incview.source_change"
}

names=""
for spec in $TABLES; do
  name=${spec%%:*}
  names+="$name "
  if [[ $WORKLOAD == update ]]; then
    printf '\\set id random(1, %s)\nUPDATE t%s SET v = v + 1 WHERE id = :id;\n' "$SOURCE_ROWS" "$name" >"$OUT/insert_$name.sql"
  else
    printf '\\set k random(1, 1000)\nINSERT INTO t%s (k, v) VALUES (:k, 1);\n' "$name" >"$OUT/insert_$name.sql"
  fi
done
for lib in $LIBS; do
  INCVIEW_FRESH=1 cluster "$lib" start
  "$AFTER_PGBIN/psql" -X -q -h /tmp -p "$(port_of "$lib")" -U postgres -d postgres -c "CREATE DATABASE fanout"
  q "$lib" -c "SET client_min_messages = warning" -c "CREATE EXTENSION pg_incview"
  for spec in $TABLES; do
    name=${spec%%:*} n=${spec#*:} eng=$ENGINE
    [[ $n == *:* ]] && eng=${n#*:} n=${n%%:*}
    q "$lib" -c "CREATE TABLE t$name (id bigserial PRIMARY KEY, k int NOT NULL, v int NOT NULL)" \
      -c "INSERT INTO t$name (k, v) SELECT 1 + g % 1000, g FROM generate_series(1, $SOURCE_ROWS) g" \
      -c "CREATE INDEX ON t$name (k)" -c "VACUUM ANALYZE t$name"
    q "$lib" -c "SET client_min_messages = error" -c "SET incview.default_policy = manual" \
      -c "SELECT count(incview.create_stage('s_${name}_' || i, 'SELECT k, sum(v) AS total, count(*) AS n FROM t$name GROUP BY k',
          ARRAY['k'], engine => '$eng')) FROM generate_series(1, $n) i" >/dev/null
  done
  echo "$lib: $(q "$lib" -c "SELECT count(*) || ' stages, ' || (SELECT count(*) FROM incview.delta_stage) || ' delta' FROM incview.stage")" | tee -a "$OUT/run.log"
  clear_queues "$lib"
done
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
echo "$(date -u +%H:%M:%S) setup done; load $LOAD_START; git $(git -C "$ROOT" rev-parse --short HEAD)" | tee -a "$OUT/run.log"
for ((r = 1; r <= ROUNDS; r++)); do
  libs=$LIBS
  ((r % 2)) || libs=$(echo "$LIBS" | tr ' ' '\n' | tac | tr '\n' ' ')
  # rotate the tables' order each round
  read -r -a arr <<<"$names"
  k=$(((r - 1) % ${#arr[@]}))
  order="${arr[*]:k} ${arr[*]:0:k}"
  for lib in $libs; do
    for sync in off on; do
      if ((TOGETHER)); then
        while read -r tab tps cpu; do echo "w,$lib,$tab,$r,$sync,$tps,$cpu" >>"$RAW"; done < <(run_together "$lib" "$sync")
        clear_queues "$lib"
        continue
      fi
      for tab in $order; do
        read -r tps cpu <<<"$(run "$lib" "$tab" "$sync")"
        echo "w,$lib,$tab,$r,$sync,$tps,$cpu" >>"$RAW"
        clear_queues "$lib"
      done
    done
    if ((BULK_ROWS > 0)); then
      for tab in $order; do
        read -r ms cpu <<<"$(bulk "$lib" "$tab")"
        echo "b,$lib,$tab,$r,-,$ms,$cpu" >>"$RAW"
        clear_queues "$lib"
        [[ $WORKLOAD == update ]] || continue
        read -r ms cpu <<<"$(bulk "$lib" "$tab" "UPDATE t$tab SET v = v + 1 WHERE id <= $BULK_ROWS")"
        echo "u,$lib,$tab,$r,-,$ms,$cpu" >>"$RAW"
        clear_queues "$lib"
      done
    fi
  done
  echo "$(date -u +%H:%M:%S) round $r done; load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/run.log"
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- report: per round, each table's TPS and CPU/tx and its ratios to the first table
first=${names%% *}
{
  echo "git $(git -C "$ROOT" rev-parse --short HEAD), $(date -u '+%Y-%m-%d %H:%M UTC'), engine $ENGINE, tables: $TABLES,"
  echo "workload: single-row $WORKLOAD."
  echo "$ROUNDS rounds of $SECS s (tables $( ((TOGETHER)) && echo "at the same time, $CLIENTS client(s) each" || echo "one after the other, 2 clients")), load $LOAD_START at the start, $LOAD_END at the end."
  echo "Per round: TPS / writer-backend CPU per transaction (µs); ratios to t$first of the same round"
  echo "(TPS: t/t$first; CPU: t/t$first, > 1 costs more). Median of the ratios last."
  for sync in off on; do
    for lib in $LIBS; do
      echo
      echo "synchronous_commit = $sync, build $lib:"
      echo
      echo "| table | per round TPS | per round CPU µs/tx | TPS ratio per round | CPU ratio per round | median TPS ratio | median CPU ratio |"
      echo "|---|---|---|---|---|---|---|"
      for tab in $names; do
        awk -F, -v l="$lib" -v s="$sync" -v t="$tab" -v f="$first" '
          $1 == "w" && $2 == l && $5 == s && $3 == f { ft[$4] = $6; fc[$4] = $7 }
          $1 == "w" && $2 == l && $5 == s && $3 == t { tt[$4] = $6; tc[$4] = $7; if ($4 > m) m = $4 }
          function med(a, n,   i, j, x) { for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { x = a[j]; a[j] = a[j-1]; a[j-1] = x }
                                         return (n % 2) ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2 }
          END { for (r = 1; r <= m; r++) { ts = ts sprintf(" %.0f", tt[r]); cs = cs sprintf(" %.0f", tc[r])
                                           a[r] = tt[r] / ft[r]; b[r] = tc[r] / fc[r]
                                           ra = ra sprintf(" %.2f", a[r]); rb = rb sprintf(" %.2f", b[r]) }
                printf "| t%s |%s |%s |%s |%s | %.2f | %.2f |\n", t, ts, cs, ra, rb, med(a, m), med(b, m) }' "$RAW"
      done
    done
  done
  if ((BULK_ROWS > 0)); then
    for m in b u; do
    [[ $m == u && $WORKLOAD != update ]] && continue
    for lib in $LIBS; do
      echo
      what="INSERT … SELECT"
      [[ $m == u ]] && what="UPDATE"
      echo "$what of $BULK_ROWS rows, build $lib (ratios to t$first of the same round):"
      echo
      echo "| table | per round ms | per round backend CPU ms | CPU ratio per round | median CPU ratio |"
      echo "|---|---|---|---|---|"
      for tab in $names; do
        awk -F, -v meas="$m" -v l="$lib" -v t="$tab" -v f="$first" '
          $1 == meas && $2 == l && $3 == f { fc[$4] = $7 }
          $1 == meas && $2 == l && $3 == t { tt[$4] = $6; tc[$4] = $7; if ($4 > m) m = $4 }
          function med(a, n,   i, j, x) { for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { x = a[j]; a[j] = a[j-1]; a[j-1] = x }
                                         return (n % 2) ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2 }
          END { for (r = 1; r <= m; r++) { ts = ts sprintf(" %.0f", tt[r]); cs = cs sprintf(" %.0f", tc[r])
                                           b[r] = tc[r] / fc[r]; rb = rb sprintf(" %.2f", b[r]) }
                printf "| t%s |%s |%s |%s | %.2f |\n", t, ts, cs, rb, med(b, m) }' "$RAW"
      done
    done
    done
  fi
} | tee "$OUT/report.md"
