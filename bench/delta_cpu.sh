#!/usr/bin/env bash
# CPU time of a one-row delta refresh against the algebraic floor, before and after, on a
# shared machine (issue 13's one-row target). Wall-clock latencies on 2 cores shared with
# other work move by 2-10x between rounds (bench/fixed_cost.md); the CPU time the server
# process itself spends per transaction moves much less, because waiting for a core is not
# counted. So this measures, per transaction, the nanoseconds the pgbench session's backend
# ran (/proc/<pid>/schedstat, first field), over a window in the middle of a pgbench run, and
# the transactions in that window (the events id sequence: each transaction inserts one row):
#   ins    INSERT INTO events (one row, captured into the delta queue)
#   dk1    the same INSERT, then SELECT incview.refresh('by_tag_delta')   (separate statements)
#   dfloor the same INSERT, then the floor: UPDATE of that group in a copy of the stage
# refresh = dk1 - ins and floor = dfloor - ins (µs per call, server CPU only: no client, no
# network, no waiting). The latency at the client adds the same round trip and commit wait to
# both, so this ratio is an upper bound of the latency ratio on an idle machine.
#
#   bench/delta_cpu.sh [rows]        # default 1,000,000 rows in events, 10 tags
#   CPU_ROUNDS (5), CPU_SECONDS (10): alternating rounds per build and variant
#   PGBIN (after), PGBIN_BEFORE (optional: a second PostgreSQL copy with another build)
#   BENCH_PGPORT (54565; before: +1), BENCH_PGDATA (/tmp/pg_incview_delta_cpu)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
ROWS=${1:-1000000}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PGBIN_BEFORE=${PGBIN_BEFORE:-}
PORT=${BENCH_PGPORT:-54565}
DATA=${BENCH_PGDATA:-/tmp/pg_incview_delta_cpu}
ROUNDS=${CPU_ROUNDS:-5}
SECS=${CPU_SECONDS:-10}
OUT=${BENCH_OUT:-$HERE/out/delta_cpu}
mkdir -p "$OUT"
RAW=$OUT/raw.csv
echo "label,variant,round,tx,cpu_us_per_tx" > "$RAW"
log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }

# shellcheck source=bench/builds.sh
source "$HERE/builds.sh"
# shellcheck source=bench/workloads.sh
source "$HERE/workloads.sh"
builds_init "$PORT" "$DATA"
cluster() { builds_cluster "$@" >/dev/null; }
sql() { builds_psql "$1" -At -d dcpu -c "$2"; }
trap builds_remove EXIT

log "delta_cpu: $ROWS rows, $ROUNDS rounds of ${SECS} s, labels ${LABELS[*]}, load $(cut -d' ' -f1-3 /proc/loadavg)"
for l in "${LABELS[@]}"; do
  INCVIEW_FRESH=1 cluster "$l" start
  "${BIN[$l]}/psql" -X -q -h /tmp -p "${PRT[$l]}" -U postgres -d postgres -c "CREATE DATABASE dcpu"
  "${BIN[$l]}/psql" -X -q -h /tmp -p "${PRT[$l]}" -U postgres -d dcpu -v ON_ERROR_STOP=1 >/dev/null <<EOF
SET client_min_messages = warning;
CREATE EXTENSION pg_incview;
$(by_tag_sql "$ROWS")
VACUUM ANALYZE;
EOF
done

cat > "$OUT/ins.pgbench" <<'EOF'
\set v random(1, 1000)
INSERT INTO events (tag, v) VALUES ('tag3', :v);
EOF
cat > "$OUT/dk1.pgbench" <<'EOF'
\set v random(1, 1000)
INSERT INTO events (tag, v) VALUES ('tag3', :v);
SELECT incview.refresh('by_tag_delta');
EOF
cat > "$OUT/dfloor.pgbench" <<'EOF'
\set v random(1, 1000)
INSERT INTO events (tag, v) VALUES ('tag3', :v);
UPDATE by_tag_floor SET n = n + 1, s = s + :v WHERE tag = 'tag3';
EOF

# One pgbench run; prints "tx cpu_us_per_tx" over the window from 1 s after the start to
# 1 s before the end.
measure() {  # label variant
  local l=$1 v=$2 pid= c0 c1 s0 s1
  PGOPTIONS="-c synchronous_commit=off" "${BIN[$l]}/pgbench" -n -h /tmp -p "${PRT[$l]}" -U postgres \
    -T "$SECS" -f "$OUT/$v.pgbench" dcpu > "$OUT/pgbench-$l-$v.log" 2>&1 &
  local bench=$!
  sleep 1
  pid=$(sql "$l" "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgbench' AND datname = 'dcpu'")
  c0=$(cut -d' ' -f1 "/proc/$pid/schedstat"); s0=$(sql "$l" "SELECT last_value FROM events_id_seq")
  sleep $((SECS - 2))
  c1=$(cut -d' ' -f1 "/proc/$pid/schedstat"); s1=$(sql "$l" "SELECT last_value FROM events_id_seq")
  wait "$bench"
  awk -v c0="$c0" -v c1="$c1" -v s0="$s0" -v s1="$s1" 'BEGIN { printf "%d %.1f\n", s1 - s0, (c1 - c0) / 1000 / (s1 - s0) }'
}

for round in $(seq 1 "$ROUNDS"); do
  mapfile -t order < <(builds_order "$round")
  for l in "${order[@]}"; do
    for v in ins dk1 dfloor; do
      read -r tx us < <(measure "$l" "$v")
      echo "$l,$v,$round,$tx,$us" >> "$RAW"
      log "round $round $l $v: $tx transactions, $us µs CPU each"
    done
    # the deltas the ins and floor variants queued, then the dead rows: every round starts alike
    sql "$l" "SELECT incview.refresh('by_tag_delta')" >/dev/null
    q=$(sql "$l" "SELECT queue FROM incview.delta_stage d JOIN incview.stage s ON s.id = d.stage_id WHERE s.name = 'by_tag_delta'")
    sql "$l" "VACUUM events, by_tag_delta, by_tag_floor, $q" >/dev/null
  done
done
for l in "${LABELS[@]}"; do
  log "$l: verify(by_tag_delta) (missing,extra) = ($(sql "$l" "SELECT missing || ',' || extra FROM incview.verify('by_tag_delta')"))"
done
log "load at the end $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$RAW" <<'PY'
import csv, sys, statistics
rows = list(csv.DictReader(open(sys.argv[1])))
labels = sorted({r['label'] for r in rows}, key=lambda l: l != 'before')
def v(l, var): return [float(r['cpu_us_per_tx']) for r in rows if r['label'] == l and r['variant'] == var]
print("| build | ins (µs) | dk1 (µs) | dfloor (µs) | refresh = dk1 - ins (µs) | floor = dfloor - ins (µs) | refresh / floor (medians) | per round |")
print("|---|---|---|---|---|---|---|---|")
for l in labels:
    i, k, f = v(l, 'ins'), v(l, 'dk1'), v(l, 'dfloor')
    ref = [b - a for a, b in zip(i, k)]; fl = [b - a for a, b in zip(i, f)]
    per = ", ".join(f"{a / b:.2f}" for a, b in zip(ref, fl))
    print(f"| {l} | {statistics.median(i):.1f} | {statistics.median(k):.1f} | {statistics.median(f):.1f} | "
          f"{statistics.median(ref):.1f} | {statistics.median(fl):.1f} | {statistics.median(ref) / statistics.median(fl):.2f}x | {per} |")
# The least disturbed round: interference only adds CPU time (cache and core sharing), so
# the minimum over many rounds estimates what a call costs by itself.
print("\nminimum over rounds (µs): " + "; ".join(
    f"{l}: ins {min(v(l, 'ins')):.1f}, dk1 {min(v(l, 'dk1')):.1f}, dfloor {min(v(l, 'dfloor')):.1f}, "
    f"refresh {min(v(l, 'dk1')) - min(v(l, 'ins')):.1f}, floor {min(v(l, 'dfloor')) - min(v(l, 'ins')):.1f}, "
    f"ratio {(min(v(l, 'dk1')) - min(v(l, 'ins'))) / (min(v(l, 'dfloor')) - min(v(l, 'ins'))):.2f}x"
    for l in labels))
if len(labels) == 2:
    rb = [b - a for a, b in zip(v('before', 'ins'), v('before', 'dk1'))]
    ra = [b - a for a, b in zip(v('after', 'ins'), v('after', 'dk1'))]
    print(f"\nrefresh after / before per round: {', '.join(f'{a / b:.2f}' for a, b in zip(ra, rb))}; "
          f"medians {statistics.median(ra) / statistics.median(rb):.2f}")
PY
