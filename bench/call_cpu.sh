#!/usr/bin/env bash
# Server CPU time per call of a one-row delta refresh and of the algebraic floor, many calls in
# ONE backend (issue 13's one-row target), before and after, rounds alternating. Wall clock on
# 2 cores shared with other work moves 2-10x between rounds (bench/fixed_cost.md); the CPU time
# of the measured backend does not count waiting for a core. bench/call_cpu.c holds two
# connections: a writer W and the measured backend M; per call W runs its statement (committed),
# then M the measured one; M's utime+stime (/proc/<pid>/stat, clock ticks) and run time
# (/proc/<pid>/schedstat, ns) are read before and after the calls. Nothing is subtracted:
#   k0    M: SELECT incview.refresh('by_tag_delta')              (nothing queued)
#   k1    W: INSERT one row into events (its delta queued), M: the same refresh
#   floor W: INSERT one row into a plain table,  M: UPDATE of that group in a 10-row copy of the stage
# Results: $OUT/raw.csv and a table on stdout (per-round values, medians, ratios).
#
#   bench/call_cpu.sh [rows]       # default 1,000,000 rows in events, 10 tags
#   CC_ROUNDS (5), CC_CALLS (3000 refresh calls per cell; the floor 4x as many), CC_WARMUP (300)
#   PGBIN (after), PGBIN_BEFORE (optional: a second PostgreSQL copy with another build)
#   BENCH_PGPORT (54565; before: +1), BENCH_PGDATA (/tmp/pg_incview_call_cpu)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
ROWS=${1:-1000000}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PGBIN_BEFORE=${PGBIN_BEFORE:-}
PORT=${BENCH_PGPORT:-54565}
DATA=${BENCH_PGDATA:-/tmp/pg_incview_call_cpu}
ROUNDS=${CC_ROUNDS:-5}
CALLS=${CC_CALLS:-3000}
WARMUP=${CC_WARMUP:-300}
OUT=${BENCH_OUT:-$HERE/out/call_cpu}
mkdir -p "$OUT"
RAW=$OUT/raw.csv
echo "label,variant,round,calls,stat_us,sched_us,wall_us,load1" > "$RAW"
log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }

gcc -O2 -o "$OUT/call_cpu" "$HERE/call_cpu.c" -I"$(pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)" -lpq

# shellcheck source=bench/builds.sh
source "$HERE/builds.sh"
# shellcheck source=bench/workloads.sh
source "$HERE/workloads.sh"
builds_init "$PORT" "$DATA"
BUILDS_PGCONF="autovacuum = off"
cluster() { builds_cluster "$@" >/dev/null; }
sql() { builds_psql "$1" -At -d ccpu -c "$2"; }
trap builds_remove EXIT

log "call_cpu: $ROWS rows, $ROUNDS rounds, $CALLS calls per refresh cell, labels ${LABELS[*]}, load $(cut -d' ' -f1-3 /proc/loadavg)"
for l in "${LABELS[@]}"; do
  INCVIEW_FRESH=1 cluster "$l" start
  "${BIN[$l]}/psql" -X -q -h /tmp -p "${PRT[$l]}" -U postgres -d postgres -c "CREATE DATABASE ccpu"
  "${BIN[$l]}/psql" -X -q -h /tmp -p "${PRT[$l]}" -U postgres -d ccpu -v ON_ERROR_STOP=1 >/dev/null <<SQL
SET client_min_messages = warning;
CREATE EXTENSION pg_incview;
$(by_tag_sql "$ROWS")
CREATE TABLE floor_writes (id bigserial PRIMARY KEY, tag text NOT NULL, v int NOT NULL);
VACUUM ANALYZE;
SQL
done

measure() {  # label variant -> "calls n stat_us x sched_us y wall_us z"
  local l=$1 v=$2 conn="host=/tmp port=${PRT[$1]} user=postgres dbname=ccpu options='-c synchronous_commit=off'"
  case $v in
    k0) "$OUT/call_cpu" "$conn" "$WARMUP" "$CALLS" - "SELECT incview.refresh('by_tag_delta')" ;;
    k1) "$OUT/call_cpu" "$conn" "$WARMUP" "$CALLS" "INSERT INTO events (tag, v) VALUES ('tag3', \$v)" \
          "SELECT incview.refresh('by_tag_delta')" ;;
    floor) "$OUT/call_cpu" "$conn" "$WARMUP" $((CALLS * 4)) "INSERT INTO floor_writes (tag, v) VALUES ('tag3', \$v)" \
          "UPDATE by_tag_floor SET n = n + 1, s = s + \$v WHERE tag = 'tag3'" ;;
  esac
}

for round in $(seq 1 "$ROUNDS"); do
  mapfile -t order < <(builds_order "$round")
  for l in "${order[@]}"; do
    for v in k0 k1 floor; do
      read -r _ n _ st _ sc _ wa < <(measure "$l" "$v")
      load=$(cut -d' ' -f1 /proc/loadavg)
      echo "$l,$v,$round,$n,$st,$sc,$wa,$load" >> "$RAW"
      log "round $round $l $v: $n calls, CPU $sc µs (schedstat) / $st µs (stat), wall $wa µs, load $load"
      # dead rows and log rows of this cell gone: every cell starts alike
      q=$(sql "$l" "SELECT queue FROM incview.delta_stage d JOIN incview.stage s ON s.id = d.stage_id WHERE s.name = 'by_tag_delta'")
      sql "$l" "VACUUM events, by_tag_delta, by_tag_floor, floor_writes, incview.refresh_log, incview.stage_state, $q" >/dev/null
    done
  done
done
for l in "${LABELS[@]}"; do
  log "$l: refresh_log rows $(sql "$l" "SELECT count(*) FROM incview.refresh_log"), verify(by_tag_delta) (missing,extra) = ($(sql "$l" "SELECT missing || ',' || extra FROM incview.verify('by_tag_delta')"))"
done
log "load at the end $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$RAW" <<'PY'
import csv, sys, statistics as st
rows = list(csv.DictReader(open(sys.argv[1])))
labels = sorted({r['label'] for r in rows}, key=lambda l: l != 'before')
def v(l, var, f): return [float(r[f]) for r in rows if r['label'] == l and r['variant'] == var]
# utime+stime counts whole clock ticks: a short cell can read 0
def div(a, b): return a / b if b else float('nan')
for f, what in (('sched_us', 'CPU (schedstat)'), ('stat_us', 'CPU (utime+stime)'), ('wall_us', 'wall at the client')):
    print(f"\n{what}, µs per call: per-round values; median")
    print("| build | k = 0 | k = 1 | floor | k = 1 / floor per round | k = 1 / floor (medians) |")
    print("|---|---|---|---|---|---|")
    for l in labels:
        k0, k1, fl = v(l, 'k0', f), v(l, 'k1', f), v(l, 'floor', f)
        ratios = [div(a, b) for a, b in zip(k1, fl)]
        fmt = lambda xs: ", ".join(f"{x:.0f}" for x in xs) + f"; **{st.median(xs):.0f}**"
        print(f"| {l} | {fmt(k0)} | {fmt(k1)} | {fmt(fl)} | {', '.join(f'{x:.2f}' for x in ratios)} | "
              f"{div(st.median(k1), st.median(fl)):.2f}x |")
    if len(labels) == 2:
        for var in ('k0', 'k1'):
            r = [div(a, b) for a, b in zip(v('after', var, f), v('before', var, f))]
            print(f"\n{var} after / before per round: {', '.join(f'{x:.2f}' for x in r)}; median {st.median(r):.2f}")
# The least disturbed round: interference (a shared core, its caches, its SMT sibling) only
# adds CPU time, so the minimum over rounds estimates what a call costs by itself.
print("\nminimum over rounds, CPU (schedstat), µs per call: " + "; ".join(
    f"{l}: k = 0 {min(v(l, 'k0', 'sched_us')):.0f}, k = 1 {min(v(l, 'k1', 'sched_us')):.0f}, "
    f"floor {min(v(l, 'floor', 'sched_us')):.0f}, k = 1 / floor {min(v(l, 'k1', 'sched_us')) / min(v(l, 'floor', 'sched_us')):.2f}x"
    for l in labels))
print("\nload per cell: " + ", ".join(r['load1'] for r in rows))
PY
