#!/usr/bin/env bash
# Rebuilds at REFRESH speed without blocking readers (issue 12, items 1-3): on the vet
# dataset (examples/vet) at a given scale, in alternating rounds and on up to two servers
# (this build and, optionally, a "before" build of pg_incview) measures
#   - incview.rebuild() vs REFRESH MATERIALIZED VIEW (CONCURRENTLY once), each with a reader
#     loop (pgbench, one client, one-patient reads of the table being rebuilt) whose worst
#     latency is what a reader waited;
#   - create_stage vs CREATE MATERIALIZED VIEW + its unique index;
#   - alter_stage with the same columns and with a new column, vs REFRESH;
#   - refresh after changes to 1, 100 patients and 5/10/50/90 % of them: batches (engine
#     replace), rebuild (engine full) and auto;
#   - (section downstream) a stage reading the rebuilt stage, refreshed after the rebuild.
# Results: bench/out/rebuild.csv (one row per measurement) and a summary on stdout; the
# write-up is bench/rebuild.md.
#
#   PGBIN=/opt/pgX/usr/lib/postgresql/15/bin bench/rebuild.sh 10
#   ... BEFORE_PGBIN=/opt/pgY/usr/lib/postgresql/15/bin bench/rebuild.sh 10   # + a before build
#
# Environment: BENCH_PGPORT (54335) and BENCH_PGPORT_BEFORE (port + 1), BENCH_PGDATA
# (/tmp/pg_incview_rebuild; "-before" appended for the other), BENCH_REPS (3),
# BENCH_SECTIONS ("rebuild build alter sweep" by default; also "downstream": a stage
# reading the rebuilt one, refreshed after a rebuild with 1 % of the patients changed), BENCH_SWEEP_SERVERS (the servers the
# share sweep runs on; default both), BENCH_SWEEP_REPS (BENCH_REPS), BENCH_SWEEP_SHARES
# (percent of the patients changed; default "1 100 5 10 50 90", where 1 and 100 are the
# patient counts 1 and 100 of the issue's table, e.g. "20 30 40" to find the crossover), BENCH_REUSE=1 (the
# clusters of an earlier run with BENCH_KEEP=1 are reused as they are: no reload),
# BENCH_KEEP=1 (leave the clusters running).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
SCALE=${1:-10}
[[ "$SCALE" =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "usage: $0 [scale]" >&2; exit 2; }
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
BEFORE_PGBIN=${BEFORE_PGBIN:-}
PORT=${BENCH_PGPORT:-54335}
PORT_BEFORE=${BENCH_PGPORT_BEFORE:-$((PORT + 1))}
DATADIR=${BENCH_PGDATA:-/tmp/pg_incview_rebuild}
REPS=${BENCH_REPS:-3}
SECTIONS=${BENCH_SECTIONS:-rebuild build alter sweep}
SWEEP_REPS=${BENCH_SWEEP_REPS:-$REPS}
REUSE=${BENCH_REUSE:-0}
KEEP=${BENCH_KEEP:-0}
want() { [[ " $SECTIONS " == *" $1 "* ]]; }
OUT=$HERE/out
DB=incview_bench
STAGE=patient_product_due
PGCONF="shared_buffers = '512MB'
work_mem = '64MB'
maintenance_work_mem = '256MB'
max_wal_size = '8GB'
checkpoint_timeout = '15min'
incview.enabled = off"
mkdir -p "$OUT"
CSV=$OUT/rebuild.csv
LOG=$OUT/rebuild.log
[[ $REUSE == 1 && -f "$CSV" ]] || echo "server,experiment,method,k,rep,ms,reader_max_ms,reader_reads,lock_hold_ms" > "$CSV"
[[ $REUSE == 1 ]] || : > "$LOG"
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" | tee -a "$LOG" >&2; }

SERVERS=(after)
[[ -n "$BEFORE_PGBIN" ]] && SERVERS=(after before)
read -r -a SWEEP_SERVERS <<<"${BENCH_SWEEP_SERVERS:-${SERVERS[*]}}"
bin_of() { [[ $1 == after ]] && echo "$PGBIN" || echo "$BEFORE_PGBIN"; }
port_of() { [[ $1 == after ]] && echo "$PORT" || echo "$PORT_BEFORE"; }
data_of() { [[ $1 == after ]] && echo "$DATADIR" || echo "$DATADIR-before"; }
cluster() {  # server cluster.sh-args...
  local s=$1; shift
  PGBIN=$(bin_of "$s") INCVIEW_PGPORT=$(port_of "$s") INCVIEW_PGDATA=$(data_of "$s") INCVIEW_FAST=0 \
    INCVIEW_PGCONF_EXTRA="$PGCONF" bash "$ROOT/scripts/cluster.sh" "$@"
}
psql_() { local s=$1; shift; "$(bin_of "$s")/psql" -X -q -h /tmp -p "$(port_of "$s")" -U postgres -v ON_ERROR_STOP=1 "$@"; }
sql() { psql_ "$1" -d "$DB" -At -c "$2" 2>>"$LOG"; }

# Milliseconds of `body` (autocommit statements) in one session, after untimed `pre`. The
# session's messages (DEBUG lines when `pre` asks for them) go to $OUT/rebuild-timed.err.
timed_ms() {  # server pre body
  local f=$OUT/rebuild-timed-$1.sql
  { echo "SET client_min_messages = warning;"; printf '%s\n' "$2"
    echo "SELECT extract(epoch FROM clock_timestamp()) AS t0 \\gset"; printf '%s\n' "$3"
    echo "SELECT round(((extract(epoch FROM clock_timestamp()) - :t0) * 1000)::numeric, 1);"; } > "$f"
  psql_ "$1" -d "$DB" -At -f "$f" 2>"$OUT/rebuild-timed.err" | tail -n 1
  cat "$OUT/rebuild-timed.err" >> "$LOG"
}
# The swap's lock hold, from the DEBUG1 line of the last timed_ms (empty: no swap logged).
lock_hold_ms() { sed -n 's/.*held ACCESS EXCLUSIVE for \([0-9.]*\) ms.*/\1/p' "$OUT/rebuild-timed.err" | tail -n 1 || true; }
record() { echo "$1,$2,$3,$4,$5,$6,${7:-},${8:-},${9:-}" >> "$CSV"; }

# `body` while one pgbench client reads one patient's rows of `table` in a loop; prints
# "ms reader_max_ms reads". The reader starts 1 s before and runs `seconds` in total.
with_reader() {  # server table seconds pre body
  local s=$1 table=$2 seconds=$3 pre=$4 body=$5 n
  n=$(sql "$s" "SELECT n_patients FROM bench.meta")
  printf '\\set p random(1, %s)\nSELECT count(*) FROM %s WHERE patient_id = :p;\n' "$n" "$table" > "$OUT/reader.sql"
  rm -f "$OUT"/reader_log*
  (cd "$OUT" && "$(bin_of "$s")/pgbench" -n -c 1 -T "$seconds" -f reader.sql -l --log-prefix=reader_log \
     -h /tmp -p "$(port_of "$s")" -U postgres "$DB" >>"$LOG" 2>&1) &
  local reader=$!
  sleep 1
  local ms; ms=$(timed_ms "$s" "$pre" "$body")
  wait "$reader"
  # pgbench -l: client, transaction, latency in microseconds, ...
  awk -v ms="$ms" '{ if ($3 > m) m = $3; n++ } END { printf "%s %.1f %d\n", ms, m / 1000, n }' "$OUT"/reader_log*
}

for s in "${SERVERS[@]}"; do
  if [[ $REUSE == 1 ]]; then cluster "$s" start >>"$LOG" 2>&1; continue; fi
  log "server $s: $(bin_of "$s"), port $(port_of "$s"), fresh cluster, vet data at scale $SCALE"
  INCVIEW_FRESH=1 cluster "$s" start >>"$LOG" 2>&1
  psql_ "$s" -d postgres -c "CREATE DATABASE $DB" >>"$LOG" 2>&1
  sql "$s" "CREATE EXTENSION pg_incview" >/dev/null
  psql_ "$s" -d "$DB" -f "$ROOT/examples/vet/schema.sql" >/dev/null 2>>"$LOG"
  psql_ "$s" -d "$DB" -v scale="$SCALE" -f "$ROOT/examples/vet/data.sql" >/dev/null 2>>"$LOG"
  psql_ "$s" -d "$DB" -f "$HERE/setup.sql" >/dev/null 2>>"$LOG"
  psql_ "$s" -d "$DB" -f "$ROOT/examples/vet/stage.sql" >/dev/null 2>>"$LOG"
  sql "$s" "SELECT incview.set_policy('$STAGE', 'manual')" >/dev/null 2>&1 || true
  sql "$s" "SELECT regexp_replace(query, ';\s*$', '') FROM incview.stage WHERE name = '$STAGE'" > "$OUT/query.sql"
  sql "$s" "CREATE MATERIALIZED VIEW ppd_mv AS $(cat "$OUT/query.sql")" >/dev/null
  sql "$s" "CREATE UNIQUE INDEX ppd_mv_key ON ppd_mv (patient_id, product_id)" >/dev/null
  sql "$s" "VACUUM ANALYZE" >/dev/null
done
N_PATIENTS=$(sql after "SELECT n_patients FROM bench.meta")
ROWS=$(sql after "SELECT count(*) FROM $STAGE")
log "data: $N_PATIENTS patients, stage of $ROWS rows; load average $(cut -d' ' -f1-3 /proc/loadavg)"

sql after "SELECT regexp_replace(query, ';\s*$', '') FROM incview.stage WHERE name = '$STAGE'" > "$OUT/query.sql"

ROUND=$(( $(date +%s) % 100000 ))  # minutes of change rounds not used before, also when reused
want rebuild || want build || want alter && for rep in $(seq 1 "$REPS"); do
  if [[ $rep == 1 ]]; then
    # How long a reader loop must run: twice a REFRESH, plus margin.
    D=$(timed_ms after "" "REFRESH MATERIALIZED VIEW ppd_mv;")
    READ_SECONDS=$(awk -v d="$D" 'BEGIN { printf "%d", 2 * d / 1000 + 4 }')
    log "REFRESH (warm-up) $D ms: reader loops of $READ_SECONDS s"
  fi
  # Servers in turn, and within a server the compared operations in alternating order.
  for s in "${SERVERS[@]}"; do
    # 1. Full rebuild vs REFRESH [CONCURRENTLY], readers reading meanwhile; the rebuild's lock
    #    hold from its DEBUG1 line (this build; none from a build without it).
    if want rebuild; then
      ops=(rebuild refresh_mv refresh_mv_concurrently)
      (( rep % 2 == 0 )) && ops=(refresh_mv_concurrently refresh_mv rebuild)
      for op in "${ops[@]}"; do
        case $op in
          rebuild) t=$STAGE; pre="SET client_min_messages = debug1;"; body="SELECT incview.rebuild('$STAGE');"; secs=$READ_SECONDS ;;
          refresh_mv) t=ppd_mv; pre=""; body="REFRESH MATERIALIZED VIEW ppd_mv;"; secs=$READ_SECONDS ;;
          refresh_mv_concurrently) t=ppd_mv; pre=""; body="REFRESH MATERIALIZED VIEW CONCURRENTLY ppd_mv;"; secs=$((READ_SECONDS * 3)) ;;
        esac
        read -r ms mx n <<<"$(with_reader "$s" "$t" "$secs" "$pre" "$body")"
        hold=""; [[ $op == rebuild ]] && hold=$(lock_hold_ms)
        record "$s" rebuild "$op" "" "$rep" "$ms" "$mx" "$n" "$hold"
        log "$s #$rep $op $ms ms, reader max $mx ms ($n reads)${hold:+, lock held $hold ms}"
      done
    fi
    # 2. First build: create_stage (its step times at DEBUG1 into the log) vs the matview +
    #    its unique index, in alternating order.
    if want build; then
      ops=(create_stage matview)
      (( rep % 2 == 0 )) && ops=(matview create_stage)
      for op in "${ops[@]}"; do
        if [[ $op == create_stage ]]; then
          ms=$(timed_ms "$s" "SELECT incview.drop_stage('$STAGE'); CHECKPOINT; SET client_min_messages = debug1;" "\\i $ROOT/examples/vet/stage.sql")
          steps=$(grep -o 'create_stage "[^"]*": .*' "$OUT/rebuild-timed.err" | tail -n 1 || true)
          sql "$s" "SELECT incview.set_policy('$STAGE', 'manual')" >/dev/null 2>&1 || true
          record "$s" build create_stage "" "$rep" "$ms"; log "$s #$rep create_stage $ms ms; $steps"
        else
          ms=$(timed_ms "$s" "DROP MATERIALIZED VIEW ppd_mv; CHECKPOINT;" "CREATE MATERIALIZED VIEW ppd_mv AS $(cat "$OUT/query.sql");
CREATE UNIQUE INDEX ppd_mv_key ON ppd_mv (patient_id, product_id);")
          record "$s" build matview_and_unique_index "" "$rep" "$ms"; log "$s #$rep CREATE MATERIALIZED VIEW + unique index $ms ms"
        fi
      done
    fi
    # 3. alter_stage: same columns (the query re-indented), then a new column and back.
    if want alter; then
      q=$(cat "$OUT/query.sql")
      ms=$(timed_ms "$s" "" "SELECT incview.alter_stage('$STAGE', \$q\$ $q \$q\$);")
      record "$s" alter same_columns "" "$rep" "$ms"; log "$s #$rep alter_stage (same columns) $ms ms"
      ms=$(timed_ms "$s" "" "SELECT incview.alter_stage('$STAGE', \$q\$ SELECT s.*, 1 AS extra FROM ($q) s \$q\$);")
      record "$s" alter new_column "" "$rep" "$ms"; log "$s #$rep alter_stage (new column) $ms ms"
      sql "$s" "SELECT incview.alter_stage('$STAGE', \$q\$$q\$q\$)" >/dev/null
    fi
    sql "$s" "VACUUM ANALYZE $STAGE, ppd_mv" >/dev/null
  done
done

# 5 (section "downstream"). A stage reading the rebuilt stage: after a full rebuild of
# patient_product_due with 1 % of the patients changed, the downstream stage's refresh.
# Before: the swap queued an every-scope marker (a rebuild downstream); after: the scopes
# whose rows changed (the diff of old and new rows, timed inside the rebuild).
DOWN=patient_due_summary
want downstream && for s in "${SERVERS[@]}"; do
  sql "$s" "SELECT incview.drop_stage('$DOWN')" >/dev/null 2>&1 || true
  sql "$s" "SELECT incview.create_stage('$DOWN', 'SELECT patient_id, count(*) AS products, min(next_due_at) AS next_due
    FROM $STAGE GROUP BY patient_id', ARRAY['patient_id'], unique_key => ARRAY['patient_id'])" >/dev/null
  sql "$s" "SELECT incview.set_policy('$DOWN', 'manual')" >/dev/null
  sql "$s" "SELECT incview.set_engine('$STAGE', 'full')" >/dev/null
done
K_DOWN=$(awk -v n="$N_PATIENTS" 'BEGIN { printf "%d", n * 0.01 }')
want downstream && for rep in $(seq 1 "$REPS"); do
  for s in "${SERVERS[@]}"; do
    ROUND=$((ROUND + 1))
    ms=$(timed_ms "$s" "VACUUM medications, incview.dirty_scope; SELECT incview.refresh('$DOWN'); SELECT bench.apply_change($K_DOWN, $ROUND);" \
      "SELECT incview.refresh('$STAGE');")
    record "$s" downstream upstream_rebuild "$K_DOWN" "$rep" "$ms"
    q=$(sql "$s" "SELECT count(DISTINCT key) || CASE WHEN bool_or(key IS NULL) THEN ' + every scope' ELSE '' END FROM incview.queued_keys q JOIN incview.stage st ON st.id = q.stage_id WHERE st.name = '$DOWN'")
    ms2=$(timed_ms "$s" "" "SELECT incview.refresh('$DOWN');")
    record "$s" downstream downstream_refresh "$K_DOWN" "$rep" "$ms2"
    log "$s #$rep downstream: upstream rebuild $ms ms, queued for $DOWN: $q, its refresh $ms2 ms; verify $(sql "$s" "SELECT missing || '/' || extra FROM incview.verify('$DOWN')")"
  done
done
want downstream && for s in "${SERVERS[@]}"; do
  sql "$s" "SELECT incview.drop_stage('$DOWN')" >/dev/null
  sql "$s" "SELECT incview.set_engine('$STAGE', 'auto')" >/dev/null
done

# 4. Refresh after changes to k patients: batches, rebuild, auto.
# k per share: "1" and "100" are patient counts (the issue's first two columns), the rest percent.
KS=$(awk -v n="$N_PATIENTS" -v shares="${BENCH_SWEEP_SHARES:-1 100 5 10 50 90}" 'BEGIN {
  m = split(shares, s, " "); for (i = 1; i <= m; i++) printf "%s%d", (i > 1 ? " " : ""), (s[i] == 1 || s[i] == 100) ? s[i] : n * s[i] / 100 }')
want sweep && log "share sweep: k in { $KS } of $N_PATIENTS on ${SWEEP_SERVERS[*]}"
want sweep && for k in $KS; do
  for rep in $(seq 1 "$SWEEP_REPS"); do
    # Alternating order: the operation after a rebuild shares the machine with the rebuild's
    # write-back, so a fixed order would charge that to whichever method always comes third.
    methods=(replace full auto)
    (( rep % 2 == 0 )) && methods=(auto full replace)
    for method in "${methods[@]}"; do
      for s in "${SWEEP_SERVERS[@]}"; do
        ROUND=$((ROUND + 1))
        ms=$(timed_ms "$s" "VACUUM medications, incview.dirty_scope, $STAGE;
SELECT incview.set_engine('$STAGE', '$method');
SELECT bench.apply_change($k, $ROUND);" "SELECT incview.refresh('$STAGE');")
        record "$s" sweep "$method" "$k" "$rep" "$ms"; log "$s k=$k $method #$rep $ms ms"
      done
    done
  done
done
for s in "${SERVERS[@]}"; do
  log "$s verify: $(sql "$s" "SELECT missing || '/' || extra FROM incview.verify('$STAGE')")"
  [[ $KEEP == 1 ]] || cluster "$s" stop >>"$LOG" 2>&1 || true
done
log "done; load average $(cut -d' ' -f1-3 /proc/loadavg)"

# Medians per server, experiment, method, k.
awk -F, 'function sorted(s, a,   n, i, j, t) { n = split(s, a, " ");   # insertion sort (mawk has no asort)
    for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return n }
  NR > 1 { key = $1 "," $2 "," $3 "," $4; v[key] = v[key] " " $6; r[key] = r[key] " " $7; h[key] = h[key] " " $9 }
  END { for (key in v) { n = sorted(v[key], a); m = sorted(r[key], b); l = sorted(h[key], c);
        printf "%s,%s,%s,%s\n", key, (n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2), (m ? b[m] : ""), (l ? c[l] : "") } }' "$CSV" |
  sort | sed 's/^/median,/' | tee "$OUT/rebuild-medians.csv"
