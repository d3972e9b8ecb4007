#!/usr/bin/env bash
# CPU time of a k = 1 refresh of the scoped (replace) stage of examples/vet against the
# hand-written floor, before and after, on a shared machine (issue 12, item 4). As
# bench/delta_cpu.sh does for the delta stage: per transaction, the CPU time the pgbench
# session's backend ran (/proc/<pid>/schedstat, first field, ns; and utime + stime of
# /proc/<pid>/stat, clock ticks, as a cross-check) over a window in the middle of each run,
# and the transactions in that window (the medications id sequence: each inserts one row):
#   ins    INSERT INTO medications (one row of a random patient, captured)
#   k1     the same INSERT, then SELECT incview.refresh('patient_product_due')
#   floor  the same INSERT, then by hand in one message: DELETE that patient's rows from a
#          copy of the stage and INSERT them from the stage's query
# refresh = k1 - ins and floor = floor - ins (µs per call, server CPU only: waiting for a
# core is not counted, so the load of the machine moves it much less than latencies).
#
# With CPU_KS (e.g. "1 5 100 300"), each round also measures refresh calls of k keys: in one
# session (synchronous_commit = off), CPU_REPS times per k: one medication for each of k
# distinct random patients (captured), then SELECT incview.refresh(...) alone, its server CPU
# (/proc/<pid>/schedstat around it) and its time (psql's \timing); raw values in
# out/scoped_cpu/batch.csv, medians per build and k in the summary.
#
#   bench/scoped_cpu.sh [scale]      # default 5: 10,000 patients
#   CPU_ROUNDS (6), CPU_SECONDS (10): alternating rounds per build and variant
#   CPU_KS (""), CPU_REPS (10): the k-key refreshes; CPU_K1=0 skips the k = 1 variants
#   PGBIN (after), PGBIN_BEFORE (optional: a second PostgreSQL copy with another build)
#   BENCH_PGPORT (54567; before: +1), BENCH_PGDATA (/tmp/pg_incview_scoped_cpu)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
SCALE=${1:-5}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PGBIN_BEFORE=${PGBIN_BEFORE:-}
PORT=${BENCH_PGPORT:-54567}
DATA=${BENCH_PGDATA:-/tmp/pg_incview_scoped_cpu}
ROUNDS=${CPU_ROUNDS:-6}
SECS=${CPU_SECONDS:-10}
OUT=${BENCH_OUT:-$HERE/out/scoped_cpu}
STAGE=patient_product_due
mkdir -p "$OUT"
RAW=$OUT/raw.csv
echo "label,variant,round,tx,cpu_us_per_tx,ticks_us_per_tx" > "$RAW"
BATCH=$OUT/batch.csv
echo "label,k,round,rep,scopes,cpu_us,ms" > "$BATCH"
KS=${CPU_KS:-}
REPS=${CPU_REPS:-10}
K1=${CPU_K1:-1}
log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }

# shellcheck source=bench/builds.sh
source "$HERE/builds.sh"
# shellcheck source=bench/workloads.sh
source "$HERE/workloads.sh"
builds_init "$PORT" "$DATA"
cluster() { builds_cluster "$@" >/dev/null; }
psql_() { local l=$1; shift; builds_psql "$l" -d scpu "$@"; }
sql() { psql_ "$1" -At -c "$2"; }
trap builds_remove EXIT

QUERY=$(vet_stage_query)
log "scoped_cpu: scale $SCALE, $ROUNDS rounds of ${SECS} s, labels ${LABELS[*]}, load $(cut -d' ' -f1-3 /proc/loadavg)"
for l in "${LABELS[@]}"; do
  INCVIEW_FRESH=1 cluster "$l" start
  "${BIN[$l]}/psql" -X -q -h /tmp -p "${PRT[$l]}" -U postgres -d postgres -c "CREATE DATABASE scpu"
  sql "$l" "CREATE EXTENSION pg_incview" >/dev/null
  psql_ "$l" -f "$ROOT/examples/vet/schema.sql" >/dev/null
  psql_ "$l" -v scale="$SCALE" -f "$ROOT/examples/vet/data.sql" >/dev/null
  psql_ "$l" -f "$HERE/setup.sql" >/dev/null
  psql_ "$l" -f "$ROOT/examples/vet/stage.sql" >/dev/null
  sql "$l" "SELECT incview.set_policy('$STAGE', 'manual')" >/dev/null
  sql "$l" "CREATE TABLE ppd_floor AS SELECT * FROM $STAGE" >/dev/null
  sql "$l" "CREATE UNIQUE INDEX ON ppd_floor (patient_id, product_id) NULLS NOT DISTINCT" >/dev/null
  sql "$l" "VACUUM ANALYZE" >/dev/null
done
N_PATIENTS=$(sql after "SELECT n_patients FROM bench.meta")
N_PRODUCTS=$(sql after "SELECT n_products FROM bench.meta")

vet_pgbench_scripts "$OUT" "$N_PATIENTS" "$N_PRODUCTS" "$STAGE" "$QUERY"

# One pgbench run; prints "tx cpu_us_per_tx ticks_us_per_tx" over the window from 1 s after
# the start to 1 s before the end.
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
measure() {  # label variant
  local l=$1 v=$2 pid c0 c1 t0 t1 s0 s1 hz
  hz=$(getconf CLK_TCK)
  PGOPTIONS="-c synchronous_commit=off" "${BIN[$l]}/pgbench" -n -h /tmp -p "${PRT[$l]}" -U postgres \
    -T "$SECS" -f "$OUT/$v.pgbench" scpu > "$OUT/pgbench-$l-$v.log" 2>&1 &
  local bench=$!
  sleep 1
  # this run's session (a busy machine may start it late, or the last run's may still exit)
  for _ in $(seq 1 50); do
    pid=$(sql "$l" "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgbench' AND datname = 'scpu' AND state IS NOT NULL ORDER BY backend_start DESC LIMIT 1")
    [[ -n $pid && -r /proc/$pid/schedstat ]] && break
    sleep 0.1
  done
  c0=$(cut -d' ' -f1 "/proc/$pid/schedstat"); t0=$(ticks "$pid"); s0=$(sql "$l" "SELECT last_value FROM medications_id_seq")
  sleep $((SECS - 2))
  c1=$(cut -d' ' -f1 "/proc/$pid/schedstat"); t1=$(ticks "$pid"); s1=$(sql "$l" "SELECT last_value FROM medications_id_seq")
  wait "$bench"
  awk -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v s0="$s0" -v s1="$s1" -v hz="$hz" \
    'BEGIN { printf "%d %.1f %.1f\n", s1 - s0, (c1 - c0) / 1000 / (s1 - s0), (t1 - t0) * 1e6 / hz / (s1 - s0) }'
}

# Refresh calls of k keys, REPS times, in one session: prints "scopes cpu_us ms" per call.
batch_measure() {  # label k
  local l=$1 k=$2
  {
    echo "SET synchronous_commit = off;"
    echo "SELECT pg_backend_pid() AS pid \\gset"
    echo "\\setenv BPID :pid"
    for _ in $(seq 1 "$REPS"); do
      echo "INSERT INTO medications (patient_id, product_id, given_at) SELECT p, 1 + p % $N_PRODUCTS, now()"
      echo "  FROM (SELECT DISTINCT 1 + (random() * ($N_PATIENTS - 1))::int AS p FROM generate_series(1, $k * 2)) d LIMIT $k;"
      echo "\\! echo c0 \$(cut -d' ' -f1 /proc/\$BPID/schedstat)"
      echo "\\timing on"
      echo "SELECT 'scopes', incview.refresh('$STAGE');"
      echo "\\timing off"
      echo "\\! echo c1 \$(cut -d' ' -f1 /proc/\$BPID/schedstat)"
    done
  } > "$OUT/batch-$k.sql"
  psql_ "$l" -At -F ' ' -f "$OUT/batch-$k.sql" |
    awk '$1 == "c0" { c0 = $2 } $1 == "scopes" { n = $2 } $1 == "Time:" { ms = $2 }
         $1 == "c1" { printf "%d %.1f %.3f\n", n, ($2 - c0) / 1000, ms }'
}

for round in $(seq 1 "$ROUNDS"); do
  mapfile -t order < <(builds_order "$round")
  for l in "${order[@]}"; do
    for k in $KS; do
      rep=0
      while read -r n us ms; do
        rep=$((rep + 1))
        echo "$l,$k,$round,$rep,$n,$us,$ms" >> "$BATCH"
      done < <(batch_measure "$l" "$k")
      log "round $round $l k=$k: $(awk -F, -v l="$l" -v k="$k" -v r="$round" '$1 == l && $2 == k && $3 == r { printf "%s ", $6 }' "$BATCH")µs CPU"
      sql "$l" "VACUUM medications, incview.dirty_scope, incview.source_change, $STAGE" >/dev/null
    done
    (( K1 == 1 )) || continue
    for v in ins k1 floor; do
      read -r tx us tus < <(measure "$l" "$v")
      echo "$l,$v,$round,$tx,$us,$tus" >> "$RAW"
      log "round $round $l $v: $tx transactions, $us µs CPU each (ticks: $tus)"
      # the keys the ins and floor variants queued (k1 would refresh them all at its first
      # call), then the dead rows: every variant starts alike
      sql "$l" "SELECT incview.refresh('$STAGE')" >/dev/null
      sql "$l" "VACUUM medications, incview.dirty_scope, incview.source_change, $STAGE, ppd_floor" >/dev/null
    done
  done
done
for l in "${LABELS[@]}"; do
  log "$l: verify($STAGE) (missing,extra) = ($(sql "$l" "SELECT missing || ',' || extra FROM incview.verify('$STAGE')"))"
done
log "load at the end $(cut -d' ' -f1-3 /proc/loadavg)"

if [[ -n $KS ]]; then
python3 - "$BATCH" <<'PY' | tee "$OUT/batch_summary.md"
import csv, sys, statistics
rows = list(csv.DictReader(open(sys.argv[1])))
labels = sorted({r['label'] for r in rows}, key=lambda l: l != 'before')
ks = sorted({int(r['k']) for r in rows})
rounds = sorted({int(r['round']) for r in rows})
def sel(l, k, col, rnd=None):
    return [float(r[col]) for r in rows if r['label'] == l and int(r['k']) == k and (rnd is None or int(r['round']) == rnd)]
print("| k | build | calls | scopes (median) | CPU per call (µs, median) | time per call (ms, median) | per-round median CPU (µs) |")
print("|---|---|---|---|---|---|---|")
for k in ks:
    for l in labels:
        per = ", ".join(f"{statistics.median(sel(l, k, 'cpu_us', r)):.0f}" for r in rounds if sel(l, k, 'cpu_us', r))
        print(f"| {k} | {l} | {len(sel(l, k, 'cpu_us'))} | {statistics.median(sel(l, k, 'scopes')):.0f} | "
              f"{statistics.median(sel(l, k, 'cpu_us')):.0f} | {statistics.median(sel(l, k, 'ms')):.2f} | {per} |")
if len(labels) == 2:
    for k in ks:
        rr = [statistics.median(sel('after', k, 'cpu_us', r)) / statistics.median(sel('before', k, 'cpu_us', r))
              for r in rounds if sel('after', k, 'cpu_us', r) and sel('before', k, 'cpu_us', r)]
        rt = [statistics.median(sel('after', k, 'ms', r)) / statistics.median(sel('before', k, 'ms', r))
              for r in rounds if sel('after', k, 'ms', r) and sel('before', k, 'ms', r)]
        print(f"\nk = {k}: after / before per round, CPU {', '.join(f'{x:.2f}' for x in rr)} (median {statistics.median(rr):.2f}); "
              f"time {', '.join(f'{x:.2f}' for x in rt)} (median {statistics.median(rt):.2f})")
PY
fi
(( K1 == 1 )) || exit 0
python3 - "$RAW" <<'PY' | tee "$OUT/summary.md"
import csv, sys, statistics
rows = list(csv.DictReader(open(sys.argv[1])))
labels = sorted({r['label'] for r in rows}, key=lambda l: l != 'before')
def v(l, var): return [float(r['cpu_us_per_tx']) for r in rows if r['label'] == l and r['variant'] == var]
print("| build | ins (µs) | k1 (µs) | floor (µs) | refresh = k1 - ins (µs) | floor = floor - ins (µs) | refresh / floor (medians) | per round |")
print("|---|---|---|---|---|---|---|---|")
for l in labels:
    i, k, f = v(l, 'ins'), v(l, 'k1'), v(l, 'floor')
    ref = [b - a for a, b in zip(i, k)]; fl = [b - a for a, b in zip(i, f)]
    per = ", ".join(f"{a / b:.2f}" for a, b in zip(ref, fl))
    print(f"| {l} | {statistics.median(i):.1f} | {statistics.median(k):.1f} | {statistics.median(f):.1f} | "
          f"{statistics.median(ref):.1f} | {statistics.median(fl):.1f} | {statistics.median(ref) / statistics.median(fl):.2f}x | {per} |")
for l in labels:
    i, k, f = v(l, 'ins'), v(l, 'k1'), v(l, 'floor')
    print(f"\n{l} per round (µs): refresh " + ", ".join(f"{b - a:.0f}" for a, b in zip(i, k)) +
          "; floor " + ", ".join(f"{b - a:.0f}" for a, b in zip(i, f)))
if len(labels) == 2:
    rb = [b - a for a, b in zip(v('before', 'ins'), v('before', 'k1'))]
    ra = [b - a for a, b in zip(v('after', 'ins'), v('after', 'k1'))]
    print(f"\nrefresh after / before per round: {', '.join(f'{a / b:.2f}' for a, b in zip(ra, rb))}; "
          f"medians {statistics.median(ra) / statistics.median(rb):.2f}")
PY
