#!/usr/bin/env bash
# The fixed cost of one refresh call and the freshness lag (issue 12, item 4), before and
# after, in the same run. See bench/fixed_cost.md for what it measures and the results.
#
#   bench/fixed_cost.sh [scale]        # default 5: 10,000 patients of examples/vet
#
# Two throwaway clusters side by side, on the same data: "after" runs the pg_incview
# installed under PGBIN, "before" the one installed under PGBIN_BEFORE (a second copy of
# PostgreSQL with another build of the extension, e.g. main's). Without PGBIN_BEFORE only
# "after" is measured. Rounds alternate between the clusters, so load on the machine hits
# both alike.
#
# 1. Per call, in one long-lived session (pgbench, one client, per-statement latencies):
#    k = 0: incview.refresh() with nothing queued;
#    k = 1: one INSERT into medications (captured), then incview.refresh();
#    floor: the same INSERT, then by hand in one transaction sent as one message: DELETE
#    that patient's rows from a copy of the stage (same two indexes) and INSERT them from
#    the stage's query.
#    k = 1 and floor are timed from after the INSERT to the end of the commit.
#    The same for a delta stage (FC_DELTA_ROWS rows, default 1,000,000; 0: none):
#    `SELECT tag, count(*) AS n, sum(v) AS s FROM events GROUP BY tag` with engine delta;
#    dk0, dk1 (one INSERT into events, then incview.refresh) and dfloor (the same INSERT,
#    then the algebraic floor: one UPDATE of that group of a copy of the stage, by hand),
#    in sessions with synchronous_commit = off as in bench/delta.sh (a WAL flush per commit
#    would otherwise be most of both).
# 2. Freshness lag, scheduler on, policy continuous: pgbench inserts medications of random
#    patients at LAG_RATES inserts/s (its own sessions with synchronous_commit = off, so the
#    rate is reachable on a small machine; the probes commit with it on) while probes
#    commit a medication and poll the stage every millisecond until it shows (at most
#    LAG_TIMEOUT s; LAG_SECONDS per rate); p50/p95/p99 of commit -> visible, and the keys
#    still queued at the end (a backlog that grows means the refresh cannot keep up).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
SCALE=${1:-5}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PGBIN_BEFORE=${PGBIN_BEFORE:-}
PORT=${BENCH_PGPORT:-${INCVIEW_PGPORT:-54332}}
DATA=${BENCH_PGDATA:-${INCVIEW_PGDATA:-/tmp/pg_incview_fixed_cost}}
SECONDS_PER=${FC_SECONDS:-10}
ROUNDS=${FC_ROUNDS:-3}
DELTA_ROWS=${FC_DELTA_ROWS:-1000000}
LAG_RATES=${LAG_RATES-"100 1000 2000"}  # "" skips the lag part
LAG_PROBES=${LAG_PROBES:-300}          # at most, per rate and build
LAG_SECONDS=${LAG_SECONDS:-40}         # per rate and build
LAG_TIMEOUT=${LAG_TIMEOUT:-5}          # seconds a probe waits
# FC_PGCONF_EXTRA: more postgresql.conf lines for both clusters (profiling: pg_stat_statements,
# log_min_messages = debug1 for the scheduler's per-pass line); BENCH_KEEP=1 leaves them running.
OUT=${BENCH_OUT:-$HERE/out/fixed_cost}
DB=fc
STAGE=patient_product_due
mkdir -p "$OUT"
LOG=$OUT/run.log
: > "$LOG"
RAW=$OUT/raw.csv
echo "label,experiment,variant,round,value" > "$RAW"
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" | tee -a "$LOG"; }

# shellcheck source=bench/builds.sh
source "$HERE/builds.sh"
# shellcheck source=bench/workloads.sh
source "$HERE/workloads.sh"
builds_init "$PORT" "$DATA"
BUILDS_PGCONF="work_mem = '64MB'
${FC_PGCONF_EXTRA:-}"
psql_() { builds_psql "$@"; }
sql() { psql_ "$1" -d "$DB" -At -c "$2" 2>>"$LOG"; }
cluster() { builds_cluster "$@"; }
cleanup() {
  local rc=$?
  [[ -n ${LOAD_PID:-} ]] && kill "$LOAD_PID" 2>/dev/null
  if [[ ${BENCH_KEEP:-0} != 1 ]]; then for l in "${LABELS[@]}"; do cluster "$l" stop >>"$LOG" 2>&1 || true; done; fi
  exit $rc
}
trap cleanup EXIT

QUERY=$(vet_stage_query)
log "fixed cost bench, scale $SCALE, labels: ${LABELS[*]}, load $(cut -d' ' -f1-3 /proc/loadavg)"
for l in "${LABELS[@]}"; do
  log "$l: fresh cluster ${DIR[$l]} on port ${PRT[$l]} (${BIN[$l]})"
  INCVIEW_FRESH=1 cluster "$l" start >>"$LOG" 2>&1
  psql_ "$l" -d postgres -c "CREATE DATABASE $DB" 2>>"$LOG"
  sql "$l" "CREATE EXTENSION pg_incview" >/dev/null
  psql_ "$l" -d "$DB" -f "$ROOT/examples/vet/schema.sql" >/dev/null 2>>"$LOG"
  psql_ "$l" -d "$DB" -v scale="$SCALE" -f "$ROOT/examples/vet/data.sql" >/dev/null 2>>"$LOG"
  psql_ "$l" -d "$DB" -f "$HERE/setup.sql" >/dev/null 2>>"$LOG"
  psql_ "$l" -d "$DB" -f "$ROOT/examples/vet/stage.sql" >/dev/null 2>>"$LOG"
  sql "$l" "SELECT incview.set_policy('$STAGE', 'manual')" >/dev/null
  sql "$l" "CREATE TABLE ppd_floor AS SELECT * FROM $STAGE" >/dev/null
  sql "$l" "CREATE INDEX ON ppd_floor (patient_id)" >/dev/null
  sql "$l" "CREATE UNIQUE INDEX ON ppd_floor (patient_id, product_id) NULLS NOT DISTINCT" >/dev/null
  if (( DELTA_ROWS > 0 )); then
    psql_ "$l" -d "$DB" >/dev/null 2>>"$LOG" <<EOF
SET client_min_messages = warning;
$(by_tag_sql "$DELTA_ROWS")
EOF
  fi
  sql "$l" "VACUUM ANALYZE" >/dev/null
done
N_PATIENTS=$(sql after "SELECT n_patients FROM bench.meta")
N_PRODUCTS=$(sql after "SELECT n_products FROM bench.meta")
BASE_MED=$(sql after "SELECT base_med_id FROM bench.meta")
log "data: $N_PATIENTS patients, $(sql after "SELECT count(*) FROM $STAGE") stage rows"

cat > "$OUT/k0.pgbench" <<EOF
SELECT incview.refresh('$STAGE');
EOF
vet_pgbench_scripts "$OUT" "$N_PATIENTS" "$N_PRODUCTS" "$STAGE" "$QUERY"

VARIANTS=(k0 k1 floor)
if (( DELTA_ROWS > 0 )); then
  VARIANTS+=(dk0 dk1 dfloor)
  cat > "$OUT/dk0.pgbench" <<EOF
SELECT incview.refresh('by_tag_delta');
EOF
  cat > "$OUT/dk1.pgbench" <<EOF
\\set v random(1, 1000)
INSERT INTO events (tag, v) VALUES ('tag3', :v);
SELECT incview.refresh('by_tag_delta');
EOF
  cat > "$OUT/dfloor.pgbench" <<EOF
\\set v random(1, 1000)
INSERT INTO events (tag, v) VALUES ('tag3', :v);
UPDATE by_tag_floor SET n = n + 1, s = s + :v WHERE tag = 'tag3';
EOF
fi

# Per-statement latencies (ms) of a pgbench -r run: "k0" the refresh line, "k1" the refresh
# line, "floor" the sum of the lines after the INSERT into medications.
per_call() {  # label variant
  local l=$1 v=$2 f=$OUT/pgbench-$1-$2.log opts=
  [[ $v == d* ]] && opts="-c synchronous_commit=off"
  PGOPTIONS=$opts "${BIN[$l]}/pgbench" -n -h /tmp -p "${PRT[$l]}" -U postgres -T "$SECONDS_PER" -r -f "$OUT/$v.pgbench" "$DB" > "$f" 2>&1
  awk -v v="$v" '
    /statement latencies/ { s = 1; next }
    s && $3 ~ /^\\set$/ { next }
    s && /INSERT INTO (medications|events)/ { next }
    s && NF >= 3 { t += $1 }
    END { printf "%.3f\n", t }' "$f"
}

# 1. per call -------------------------------------------------------------------------
for round in $(seq 1 "$ROUNDS"); do
  mapfile -t order < <(builds_order "$round")
  for l in "${order[@]}"; do
    for v in "${VARIANTS[@]}"; do
      ms=$(per_call "$l" "$v")
      echo "$l,per_call,$v,$round,$ms" >> "$RAW"
      log "round $round $l $v: $ms ms"
      if [[ $v == floor ]]; then
        # The floor's keys (its change records), before the delta stage's variants: a
        # record left uncollected is scanned by every stage's look for records naming it.
        sql "$l" "SELECT incview.refresh('$STAGE')" >/dev/null
        sql "$l" "VACUUM medications, incview.dirty_scope, incview.source_change, $STAGE, ppd_floor" >/dev/null
      fi
    done
    if (( DELTA_ROWS > 0 )); then
      # the floor's deltas (queued, never folded by it), then the queue's dead rows: each
      # round starts from an empty queue, as the scoped stage's rounds do
      sql "$l" "SELECT incview.refresh('by_tag_delta')" >/dev/null
      q=$(sql "$l" "SELECT queue FROM incview.delta_stage d JOIN incview.stage s ON s.id = d.stage_id WHERE s.name = 'by_tag_delta'")
      sql "$l" "VACUUM events, by_tag_delta, by_tag_floor, $q" >/dev/null
    fi
  done
done
for l in "${LABELS[@]}"; do
  v=$(sql "$l" "SELECT missing || ',' || extra FROM incview.verify('$STAGE')")
  log "$l: verify after the per-call rounds (missing,extra) = ($v)"
  echo "$l,verify,per_call,0,\"$v\"" >> "$RAW"
  if (( DELTA_ROWS > 0 )); then
    v=$(sql "$l" "SELECT missing || ',' || extra FROM incview.verify('by_tag_delta')")
    log "$l: verify(by_tag_delta) after the per-call rounds (missing,extra) = ($v)"
    echo "$l,verify,delta,0,\"$v\"" >> "$RAW"
  fi
done

# 2. freshness lag ----------------------------------------------------------------------
cat > "$OUT/insert.pgbench" <<EOF
\\set p random(1, $N_PATIENTS)
\\set pr random(1, $N_PRODUCTS)
INSERT INTO medications (patient_id, product_id, given_at) VALUES (:p, :pr, now());
EOF
scheduler() {  # label on|off
  psql_ "$1" -d "$DB" -c "ALTER SYSTEM SET incview.enabled = $2" -c "SELECT pg_reload_conf()" >/dev/null 2>>"$LOG"
  if [[ $2 == on ]]; then
    # A scheduler starts when a commit queues keys of a continuous stage (or at the
    # launcher's next naptime): queue one.
    sql "$1" "INSERT INTO medications (patient_id, product_id, given_at) VALUES (1, 1, now())" >/dev/null
    for _ in $(seq 1 200); do
      [[ $(sql "$1" "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_incview scheduler' AND datname = current_database()") -ge 1 ]] && return 0
      sleep 0.1
    done
    return 1
  fi
  sleep 0.5
}
# bench.lag_probe with a shorter wait: a probe not visible after LAG_TIMEOUT seconds counts
# as that long (so p95/p99 then read "at least"), and each rate runs LAG_SECONDS.
for l in "${LABELS[@]}"; do
  psql_ "$l" -d "$DB" >/dev/null 2>>"$LOG" <<EOF
CREATE PROCEDURE bench.lag_probe_t(p bigint, pr bigint, i int, timeout_s float8, INOUT lag_ms float8 DEFAULT NULL)
LANGUAGE plpgsql AS \$\$
DECLARE
  ts timestamptz := timestamptz '2031-01-01 00:00:00+00' + i * interval '1 second';
  t0 timestamptz;
BEGIN
  INSERT INTO medications (patient_id, product_id, given_at) VALUES (p, pr, ts);
  COMMIT;
  t0 := clock_timestamp();
  WHILE NOT EXISTS (SELECT 1 FROM $STAGE d WHERE d.patient_id = p AND d.product_id = pr AND d.last_at = ts) LOOP
    IF clock_timestamp() > t0 + timeout_s * interval '1 second' THEN
      lag_ms := timeout_s * 1000;
      RETURN;
    END IF;
    PERFORM pg_sleep(0.001);
  END LOOP;
  lag_ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
END
\$\$;
EOF
done
probe_no=0
cell=0
: > "$OUT/passes.csv"
# A rate may be listed more than once (LAG_RATES="1000 1000 1000 1000"): its cells' probes
# are pooled in the summary. The builds' order alternates from cell to cell, so a load that
# drifts during the run does not always fall on the same build.
for rate in $LAG_RATES; do
  mapfile -t order < <(builds_order $((cell + 1)))
  cell=$((cell + 1))
  for l in "${order[@]}"; do
    sql "$l" "DELETE FROM medications WHERE id > $BASE_MED" >/dev/null
    sql "$l" "SELECT incview.refresh('$STAGE')" >/dev/null
    sql "$l" "VACUUM medications, incview.dirty_scope" >/dev/null
    sql "$l" "SELECT incview.set_policy('$STAGE', 'continuous')" >/dev/null
    scheduler "$l" on || { log "$l: no scheduler"; continue; }
    PGOPTIONS="-c synchronous_commit=off" "${BIN[$l]}/pgbench" -n -h /tmp -p "${PRT[$l]}" -U postgres -c 2 -j 2 \
      -T 3600 -R "$rate" -f "$OUT/insert.pgbench" "$DB" > "$OUT/pgbench-lag-$l-$rate.log" 2>&1 &
    LOAD_PID=$!
    t_start=$(date +%s.%N)
    sleep 2
    timeouts=0 probe=0
    t_end=$(( $(date +%s) + LAG_SECONDS ))
    while (( $(date +%s) < t_end && probe < LAG_PROBES )); do
      probe=$((probe + 1)) probe_no=$((probe_no + 1))
      p=$(( (RANDOM * 32768 + RANDOM) % N_PATIENTS + 1 ))
      ms=$(sql "$l" "CALL bench.lag_probe_t($p, 1 + $p % $N_PRODUCTS, $probe_no, $LAG_TIMEOUT)")
      awk -v m="$ms" -v t="$LAG_TIMEOUT" 'BEGIN { exit !(m >= t * 1000) }' && timeouts=$((timeouts + 1))
      echo "$l,lag,rate=$rate,$probe,$ms" >> "$RAW"
      sleep 0.05
    done
    backlog=$(sql "$l" "SELECT count(DISTINCT key) FROM incview.queued_keys")
    echo "$l,lag_backlog,rate=$rate,0,$backlog" >> "$RAW"
    kill "$LOAD_PID" 2>/dev/null; wait "$LOAD_PID" 2>/dev/null || true
    LOAD_PID=
    # The scheduler's passes of this cell, when it logs them (FC_PGCONF_EXTRA with
    # log_min_messages = debug1): fitted per build and rate in the summary.
    python3 "$HERE/pass_points.py" "${DIR[$l]}/server.log" "$t_start" "$(date +%s.%N)" "$l" "$rate" >> "$OUT/passes.csv" || true
    elapsed=$(awk -v a="$t_start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
    inserted=$(sql "$l" "SELECT count(*) FROM medications WHERE id > $BASE_MED")
    achieved=$(awk -v n="$inserted" -v t="$elapsed" 'BEGIN { printf "%.0f", n / t }')
    echo "$l,lag_rate,rate=$rate,0,$achieved" >> "$RAW"
    log "$l lag at rate=$rate: achieved $achieved inserts/s (incl. probes), $probe probes, $timeouts at the ${LAG_TIMEOUT} s timeout, $backlog keys queued at the end, load $(cut -d" " -f1-3 /proc/loadavg)"
    scheduler "$l" off
    sql "$l" "SELECT incview.set_policy('$STAGE', 'manual')" >/dev/null
    sql "$l" "SELECT incview.refresh('$STAGE')" >/dev/null
    v=$(sql "$l" "SELECT missing || ',' || extra FROM incview.verify('$STAGE')")
    log "$l: verify after lag rate=$rate (missing,extra) = ($v)"
  done
done

# Summary: medians of the per-call rounds, percentiles of the lag probes.
log "load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$RAW" <<'EOF' | tee "$OUT/summary.md" | tee -a "$LOG"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
labels = sorted({r['label'] for r in rows}, key=lambda l: l != 'before')
def vals(l, e, v): return [float(r['value']) for r in rows if r['label'] == l and r['experiment'] == e and r['variant'] == v]
def pct(xs, p):
    xs = sorted(xs); k = (len(xs) - 1) * p; f = int(k); c = min(f + 1, len(xs) - 1)
    return xs[f] + (xs[c] - xs[f]) * (k - f)
if vals(labels[0], 'per_call', 'k0'):  # FC_ROUNDS=0: the lag alone
  print("| build | k = 0 refresh (ms) | k = 1 refresh (ms) | floor (ms) | k = 1 / floor (medians) | k = 1 / floor per round | fixed cost k = 1 - floor (ms) |")
  print("|---|---|---|---|---|---|---|")
for l in (labels if vals(labels[0], 'per_call', 'k0') else []):
    k0, k1, fl = (statistics.median(vals(l, 'per_call', v)) for v in ('k0', 'k1', 'floor'))
    per_round = [a / b for a, b in zip(vals(l, 'per_call', 'k1'), vals(l, 'per_call', 'floor'))]
    rounds = ", ".join(f"{x:.2f}" for x in per_round)
    print(f"| {l} | {k0:.2f} | {k1:.2f} | {fl:.2f} | {k1 / fl:.2f}x | {rounds} | {k1 - fl:.2f} |")
if vals(labels[0], 'per_call', 'dk0'):
    print()
    print("Delta stage (`SELECT tag, count(*), sum(v) FROM events GROUP BY tag`, synchronous_commit off):")
    print()
    print("| build | k = 0 refresh (ms) | k = 1 refresh (ms) | floor (ms) | k = 1 / floor (medians) | k = 1 / floor per round |")
    print("|---|---|---|---|---|---|")
    for l in labels:
        k0, k1, fl = (statistics.median(vals(l, 'per_call', v)) for v in ('dk0', 'dk1', 'dfloor'))
        per_round = [a / b for a, b in zip(vals(l, 'per_call', 'dk1'), vals(l, 'per_call', 'dfloor'))]
        rounds = ", ".join(f"{x:.2f}" for x in per_round)
        print(f"| {l} | {k0:.2f} | {k1:.2f} | {fl:.2f} | {k1 / fl:.2f}x | {rounds} |")
print()
print("| build | target rate (inserts/s) | achieved | probes | p50 (ms) | p95 (ms) | p99 (ms) | max (ms) | keys queued at the end |")
print("|---|---|---|---|---|---|---|---|---|")
for v in sorted({r['variant'] for r in rows if r['experiment'] == 'lag'}, key=lambda s: int(s.split('=')[1])):
    for l in labels:
        xs = vals(l, 'lag', v)
        if not xs: continue
        ach = vals(l, 'lag_rate', v)
        bl = vals(l, 'lag_backlog', v)
        print(f"| {l} | {v.split('=')[1]} | {ach[0]:.0f} | {len(xs)} | {pct(xs, .5):.1f} | {pct(xs, .95):.1f} | {pct(xs, .99):.1f} | {max(xs):.1f} | {bl[0]:.0f} |")
# The scheduler's passes (only with log_min_messages = debug1): least squares
# total = a + b * keys per build and rate, keys = those queued at the pass's start.
import os
passes = os.path.join(os.path.dirname(sys.argv[1]), 'passes.csv')
pts = [r.strip().split(',') for r in open(passes)] if os.path.exists(passes) else []
if pts:
    print()
    print("| build | rate | passes | keys per pass (mean) | pass (ms, mean) | prelude (ms, mean) | fit: a (ms) | b (ms per key) |")
    print("|---|---|---|---|---|---|---|---|")
    for rate in sorted({p[1] for p in pts}, key=int):
        for l in labels:
            sel = [(int(p[2]), int(p[3]) / 1000, int(p[4]) / 1000) for p in pts if p[0] == l and p[1] == rate]
            if len(sel) < 3: continue
            k = [s[0] for s in sel]; t = [s[2] for s in sel]
            mk, mt = statistics.mean(k), statistics.mean(t)
            sxx = sum((x - mk) ** 2 for x in k)
            b = sum((x - mk) * (y - mt) for x, y in zip(k, t)) / sxx if sxx else float('nan')
            a = mt - b * mk
            print(f"| {l} | {rate} | {len(sel)} | {mk:.1f} | {mt:.2f} | {statistics.mean(s[1] for s in sel):.2f} | {a:.2f} | {b:.3f} |")
EOF
