#!/usr/bin/env bash
# pg_incview benchmark on the veterinary dataset (examples/vet). See bench/README.md.
#
#   bench/run.sh            # scale 100: 200k patients, 2M medications ... (10-30 minutes)
#   bench/run.sh 0.01       # smoke mode: tiny data, short rounds (< 1 minute)
#
# Starts its own cluster (fsync on), measures initial build, refresh after changes to k
# patients (every engine vs REFRESH MATERIALIZED VIEW [CONCURRENTLY] vs a hand-written
# scoped DELETE + INSERT), WAL of diff vs replace, and the write-path cost of capture;
# writes RESULTS.md and refresh.png. Raw data and logs go to bench/out/.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
SCALE=${1:-100}
[[ "$SCALE" =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "usage: $0 [scale]  (a positive number, default 100)" >&2; exit 2; }

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PORT=${BENCH_PGPORT:-${INCVIEW_PGPORT:-54332}}
DATADIR=${BENCH_PGDATA:-${INCVIEW_PGDATA:-/tmp/pg_incview_bench}}
DB=incview_bench
STAGE=patient_product_due
SMOKE=$(awk -v s="$SCALE" 'BEGIN { print (s < 1) ? 1 : 0 }')
REPS=${BENCH_REPS:-3}
BUILD_REPS=${BENCH_BUILD_REPS:-3}
PGB_SECONDS=${BENCH_PGBENCH_SECONDS:-$([[ $SMOKE == 1 ]] && echo 1 || echo 10)}
PGB_ROUNDS=${BENCH_PGBENCH_ROUNDS:-$([[ $SMOKE == 1 ]] && echo 2 || echo 3)}
BULK_ROUNDS=${BENCH_BULK_ROUNDS:-3}
KEEP=${BENCH_KEEP:-0}
PROFILE=${BENCH_PROFILE:-1}
# Smoke runs must not overwrite the committed results: they publish into bench/out/.
PUBLISH_DIR=${BENCH_PUBLISH_DIR:-$([[ $SMOKE == 1 ]] && echo "$HERE/out" || echo "$HERE")}
OUT=${BENCH_OUT:-$HERE/out}
# Server settings on top of scripts/cluster.sh's (fsync stays on: INCVIEW_FAST=0).
PGCONF=${BENCH_PGCONF:-"shared_buffers = '2GB'
work_mem = '64MB'
maintenance_work_mem = '512MB'
max_wal_size = '8GB'
checkpoint_timeout = '15min'
incview.enabled = off"}

mkdir -p "$OUT" "$PUBLISH_DIR"
rm -f "$OUT"/*.sql "$OUT"/*.log "$OUT"/profile-*.txt "$OUT"/*.dat "$OUT"/*.csv "$OUT"/*.pgbench 2>/dev/null || true
LOG=$OUT/run.log
: > "$LOG"
START_TS=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
SECONDS=0
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

log() { printf '[%s %4ds] %s\n' "$(date +%H:%M:%S)" "$SECONDS" "$*" | tee -a "$LOG"; }
die() { log "ERROR: $*"; exit 1; }

PSQL=("$PGBIN/psql" -X -q -h /tmp -p "$PORT" -U postgres -v ON_ERROR_STOP=1)
sql()  { "${PSQL[@]}" -d "$DB" -At -c "$1" 2>>"$LOG"; }              # one statement, tuples only
sqlf() { "${PSQL[@]}" -d "$DB" -At -f "$1" 2>>"$LOG"; }              # a file

cluster() {
  INCVIEW_PGPORT=$PORT INCVIEW_PGDATA=$DATADIR INCVIEW_FAST=0 INCVIEW_PGCONF_EXTRA="$PGCONF" \
    bash "$ROOT/scripts/cluster.sh" "$@"
}

cleanup() {
  local rc=$?
  if [[ $rc -ne 0 ]]; then
    log "FAILED (exit $rc) after ${SECONDS}s; see $LOG and $DATADIR/server.log"
  fi
  if [[ "$KEEP" == 1 ]]; then
    log "cluster kept running: psql -h /tmp -p $PORT -U postgres -d $DB   (stop: INCVIEW_PGPORT=$PORT INCVIEW_PGDATA=$DATADIR scripts/cluster.sh stop)"
  else
    cluster stop >>"$LOG" 2>&1 || true
  fi
  exit $rc
}

# ---------------------------------------------------------------------------------------
# Timed sessions. One psql session per measurement: untimed preparation ($pre), then
# clock_timestamp() and the WAL insert position, the timed statements ($body, autocommit:
# their commits are timed too), and both again. The row goes to bench.raw; prints the ms.
# ---------------------------------------------------------------------------------------
N_PATIENTS=0
timed() {  # experiment method variant k rep pre body [note]
  local exp=$1 method=$2 variant=$3 k=$4 rep=$5 pre=$6 body=$7 note=${8:-}
  local f=$OUT/timed.sql
  {
    echo "SET client_min_messages = warning;"
    printf '%s\n' "$pre"
    echo "SELECT coalesce(max(id), 0) AS bench_log0 FROM incview.refresh_log \\gset"
    echo "SELECT extract(epoch FROM clock_timestamp()) AS bench_t0, pg_current_wal_insert_lsn() AS bench_lsn0 \\gset"
    printf '%s\n' "$body"
    echo "SELECT (extract(epoch FROM clock_timestamp()) - :bench_t0) * 1000 AS bench_ms,"
    echo "       pg_wal_lsn_diff(pg_current_wal_insert_lsn(), :'bench_lsn0')::bigint AS bench_wal \\gset"
    echo "INSERT INTO bench.raw (experiment, method, variant, k, share, rep, ms, wal_bytes, rows_del, rows_ins, rows_upd, engines, note)"
    echo "SELECT :'b_exp', :'b_method', :'b_variant', nullif(:'b_k', '')::bigint, nullif(:'b_k', '')::float8 / $N_PATIENTS,"
    echo "       :b_rep, :bench_ms, :bench_wal, sum(l.rows_deleted), sum(l.rows_inserted), sum(l.rows_updated),"
    echo "       string_agg(DISTINCT l.engine, '+'), nullif(:'b_note', '')"
    echo "FROM (SELECT 1) one LEFT JOIN incview.refresh_log l ON l.id > :bench_log0 AND l.stage = '$STAGE';"
    echo "SELECT round(:bench_ms::numeric, 2);"
  } > "$f"
  "${PSQL[@]}" -d "$DB" -At -v b_exp="$exp" -v b_method="$method" -v b_variant="$variant" \
    -v b_k="$k" -v b_rep="$rep" -v b_note="$note" -f "$f" 2>>"$LOG" | tail -n 1
}

# auto_explain of everything a statement runs, nested SPI statements included, into a file.
profile() {  # label pre body
  local label=$1 pre=$2 body=$3 f=$OUT/profile.sql
  {
    printf '%s\n' "$pre"
    echo "LOAD 'auto_explain';"
    echo "SET auto_explain.log_min_duration = 0; SET auto_explain.log_analyze = on;"
    echo "SET auto_explain.log_buffers = on; SET auto_explain.log_nested_statements = on;"
    echo "SET auto_explain.log_level = notice; SET client_min_messages = notice;"
    printf '%s\n' "$body"
  } > "$f"
  "${PSQL[@]}" -d "$DB" -At -f "$f" > "$OUT/profile-$label.txt" 2>&1 || log "profile $label failed (see $OUT/profile-$label.txt)"
}

# ---------------------------------------------------------------------------------------
log "pg_incview benchmark, scale $SCALE (smoke=$SMOKE, reps=$REPS), cluster $DATADIR port $PORT"
log "results into $PUBLISH_DIR, raw data and logs into $OUT"
command -v "$PGBIN/pgbench" >/dev/null || die "pgbench not found in $PGBIN"
command -v gnuplot >/dev/null || log "gnuplot not found: no plot (apt-get install -y gnuplot-nox)"

trap cleanup EXIT
log "starting a fresh cluster"
INCVIEW_FRESH=1 cluster start >>"$LOG" 2>&1 || die "cluster start failed"
"${PSQL[@]}" -d postgres -c "CREATE DATABASE $DB" 2>>"$LOG"
sql "CREATE EXTENSION pg_incview" >/dev/null

log "loading examples/vet/schema.sql + data.sql (scale $SCALE)"
"${PSQL[@]}" -d "$DB" -f "$ROOT/examples/vet/schema.sql" 2>>"$LOG" >/dev/null
t0=$SECONDS
"${PSQL[@]}" -d "$DB" -v scale="$SCALE" -f "$ROOT/examples/vet/data.sql" 2>>"$LOG" >/dev/null
LOAD_SECONDS=$((SECONDS - t0))
"${PSQL[@]}" -d "$DB" -f "$HERE/setup.sql" 2>>"$LOG" >/dev/null
N_PATIENTS=$(sql "SELECT n_patients FROM bench.meta")
N_PRODUCTS=$(sql "SELECT n_products FROM bench.meta")
BASE_MED=$(sql "SELECT base_med_id FROM bench.meta")
COUNTS=$(sql "SELECT format('%s patients, %s products, %s medications, %s immunizations, %s order items',
  to_char((SELECT count(*) FROM patients), 'FM999G999G999'), to_char((SELECT count(*) FROM products), 'FM999G999G999'),
  to_char((SELECT count(*) FROM medications), 'FM999G999G999'), to_char((SELECT count(*) FROM immunizations), 'FM999G999G999'),
  to_char((SELECT count(*) FROM order_items), 'FM999G999G999'))")
log "data: $COUNTS (loaded in ${LOAD_SECONDS}s)"

# ---------------------------------------------------------------------------------------
# 1. Initial build: incview.create_stage vs CREATE MATERIALIZED VIEW (+ its unique index)
#    vs a hand-written CREATE TABLE AS + the same two indexes the stage gets.
# ---------------------------------------------------------------------------------------
QUERY_FILE=$OUT/query.sql
HAS_POLICY=$(sql "SELECT count(*) FROM pg_proc WHERE proname = 'set_policy' AND pronamespace = 'incview'::regnamespace")
for rep in $(seq 1 "$BUILD_REPS"); do
  pre=""
  [[ $rep -gt 1 ]] && pre="SELECT incview.drop_stage('$STAGE');"
  ms=$(timed build create_stage "" "" "$rep" "$pre" "\\i $ROOT/examples/vet/stage.sql")
  log "build #$rep: incview.create_stage: $ms ms"
  # Background refresh (if this build has the scheduler) must not race the measurements:
  # the stage is refreshed by hand only, until the freshness-lag section.
  [[ $HAS_POLICY == 1 ]] && sql "SELECT incview.set_policy('$STAGE', 'manual')" >/dev/null
  if [[ $rep == 1 ]]; then
    sql "SELECT regexp_replace(query, ';\s*$', '') FROM incview.stage WHERE name = '$STAGE'" > "$QUERY_FILE"
    [[ -s "$QUERY_FILE" ]] || die "stage $STAGE not found after examples/vet/stage.sql"
  fi
  ms=$(timed build matview "" "" "$rep" "DROP MATERIALIZED VIEW IF EXISTS ppd_mv;" \
       "CREATE MATERIALIZED VIEW ppd_mv AS $(cat "$QUERY_FILE");")
  ms2=$(timed build matview_unique_index "" "" "$rep" "" \
        "CREATE UNIQUE INDEX ppd_mv_key ON ppd_mv (patient_id, product_id);")
  log "build #$rep: CREATE MATERIALIZED VIEW: $ms ms, + unique index: $ms2 ms"
  ms=$(timed build table_as "" "" "$rep" "DROP TABLE IF EXISTS ppd_floor;" \
       "BEGIN; CREATE TABLE ppd_floor AS SELECT * FROM ($(cat "$QUERY_FILE")) s;
        CREATE INDEX ON ppd_floor (patient_id);
        CREATE UNIQUE INDEX ON ppd_floor (patient_id, product_id) NULLS NOT DISTINCT; COMMIT;")
  log "build #$rep: CREATE TABLE AS + 2 indexes (hand-written copy): $ms ms"
done
"${PSQL[@]}" -d "$DB" -c "VACUUM ANALYZE medications, immunizations, order_items, $STAGE, ppd_mv, ppd_floor" 2>>"$LOG"
STAGE_ROWS=$(sql "SELECT count(*) FROM $STAGE")
STAGE_SIZE=$(sql "SELECT pg_size_pretty(pg_total_relation_size('$STAGE'))")
log "stage: $STAGE_ROWS rows, $STAGE_SIZE with indexes"

# ---------------------------------------------------------------------------------------
# 2. Refresh after a change to k patients. The change of round r (bench.apply_change):
#    one new latest medication per patient, replacing the previous round's. Before every
#    timed refresh: VACUUM of the measured table and medications, then the change (both
#    untimed). Each method is measured REPS times per k; medians are reported.
# ---------------------------------------------------------------------------------------
KS=${BENCH_KS:-}
[[ -n "$KS" ]] || KS=$(awk -v n="$N_PATIENTS" 'BEGIN {
  split("1 100 10000", a, " "); a[4] = int(n * 0.1 + 0.5); a[5] = int(n * 0.5 + 0.5);
  for (i = 1; i <= 5; i++) if (a[i] >= 1 && a[i] <= n * 0.5 && !(a[i] in seen)) { seen[a[i]] = 1; print a[i] } }' | sort -n | tr '\n' ' ')
log "refresh: k in { $KS} of $N_PATIENTS patients; methods: replace diff auto full floor mvc mv"
ROUND=0
METHODS="replace diff auto full floor mvc mv"
CHECK_FAILS=0
for k in $KS; do
  for method in $METHODS; do
    case $method in
      replace|diff|auto|full)
        vac="VACUUM medications, incview.dirty_scope, $STAGE;"
        pre_m="SELECT incview.set_engine('$STAGE', '$method');"
        body="SELECT incview.refresh('$STAGE');" ;;
      floor)
        vac="VACUUM medications, incview.dirty_scope, ppd_floor;"
        pre_m="SELECT bench.ids($k) AS ids \\gset"
        body="BEGIN;
DELETE FROM ppd_floor WHERE patient_id = ANY (:'ids'::bigint[]);
INSERT INTO ppd_floor SELECT * FROM ($(cat "$QUERY_FILE")) s WHERE s.patient_id = ANY (:'ids'::bigint[]);
COMMIT;" ;;
      mvc)
        vac="VACUUM medications, incview.dirty_scope, ppd_mv;"
        pre_m=""
        body="REFRESH MATERIALIZED VIEW CONCURRENTLY ppd_mv;" ;;
      mv)
        vac="VACUUM medications, incview.dirty_scope;"
        pre_m=""
        body="REFRESH MATERIALIZED VIEW ppd_mv;" ;;
    esac
    times=""
    for rep in $(seq 1 "$REPS"); do
      ROUND=$((ROUND + 1))
      ms=$(timed refresh "$method" "" "$k" "$rep" "$vac
$pre_m
SELECT bench.apply_change($k, $ROUND);" "$body")
      times+="$ms "
    done
    log "refresh k=$k $method: $times ms"
    if [[ $method != mv && $method != mvc ]]; then
      tbl=$STAGE; [[ $method == floor ]] && tbl=ppd_floor
      bad=$(sql "SELECT bench.check_scoped('$tbl', $k)")
      sql "INSERT INTO bench.raw (experiment, method, k, note) VALUES ('check', '$method', $k, '$bad')"
      if [[ "$bad" != 0 ]]; then
        CHECK_FAILS=$((CHECK_FAILS + 1))
        log "CHECK FAILED: after refresh k=$k $method, $bad rows of $tbl differ from the query for those patients"
      fi
    fi
  done
done
sql "SELECT incview.set_engine('$STAGE', 'auto')" >/dev/null

# Profiles (auto_explain of every statement pg_incview runs) of representative refreshes.
if [[ "$PROFILE" == 1 ]]; then
  KP=$(awk -v n="$N_PATIENTS" 'BEGIN { x = 100; if (n < 1000) x = int(n * 0.1 + 0.5); if (x < 1) x = 1; print x }')
  KB=1
  for k in $KS; do
    if awk -v k="$k" -v n="$N_PATIENTS" 'BEGIN { exit !(k <= n * 0.1 + 0.5) }'; then KB=$k; fi
  done
  log "profiles: k=$KP (diff, replace, floor), k=$KB (diff), full rebuild"
  for eng in diff replace; do
    ROUND=$((ROUND + 1))
    profile "$eng-k$KP" "SELECT incview.refresh('$STAGE'); SELECT incview.set_engine('$STAGE', '$eng'); SELECT bench.apply_change($KP, $ROUND);" \
      "SELECT incview.refresh('$STAGE');"
  done
  ROUND=$((ROUND + 1))
  profile "floor-k$KP" "SELECT bench.apply_change($KP, $ROUND); SELECT bench.ids($KP) AS ids \\gset" \
    "BEGIN; DELETE FROM ppd_floor WHERE patient_id = ANY (:'ids'::bigint[]);
INSERT INTO ppd_floor SELECT * FROM ($(cat "$QUERY_FILE")) s WHERE s.patient_id = ANY (:'ids'::bigint[]); COMMIT;"
  ROUND=$((ROUND + 1))
  [[ $KB != "$KP" ]] && profile "diff-k$KB" "SELECT incview.refresh('$STAGE'); SELECT incview.set_engine('$STAGE', 'diff'); SELECT bench.apply_change($KB, $ROUND);" \
    "SELECT incview.refresh('$STAGE');"
  ROUND=$((ROUND + 1))
  profile "full" "SELECT incview.set_engine('$STAGE', 'full'); SELECT bench.apply_change(1, $ROUND);" \
    "SELECT incview.refresh('$STAGE');"
  sql "SELECT incview.set_engine('$STAGE', 'auto')" >/dev/null
  # The scoped query alone and the floor's INSERT, as EXPLAIN ANALYZE, for the same k.
  {
    echo "SELECT bench.ids($KP) AS ids \\gset"
    echo "EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) SELECT * FROM ($(cat "$QUERY_FILE")) s WHERE s.patient_id = ANY (:'ids'::bigint[]);"
  } > "$OUT/explain.sql"
  sqlf "$OUT/explain.sql" > "$OUT/explain-scoped-k$KP.txt" || true
fi

# ---------------------------------------------------------------------------------------
# 3. WAL written by a refresh where ~1% of the refreshed rows really change: diff vs
#    replace, right after a CHECKPOINT (full-page images included) and in steady state.
# ---------------------------------------------------------------------------------------
log "WAL: back to the loaded data, then diff vs replace"
sql "DELETE FROM medications WHERE id > $BASE_MED" >/dev/null
sql "SELECT incview.refresh('$STAGE')" >/dev/null
"${PSQL[@]}" -d "$DB" -c "DROP MATERIALIZED VIEW ppd_mv" -c "DROP TABLE ppd_floor" -c "VACUUM ANALYZE medications, $STAGE" 2>>"$LOG"
WAL_N=$(awk -v n="$N_PATIENTS" 'BEGIN { x = int(n * 0.05 + 0.5); if (x > 10000) x = 10000; if (x < 1) x = 1; print x }')
IFS='|' read -r WAL_PATIENTS WAL_ROWS WAL_CHANGED <<<"$(sql "SELECT * FROM bench.prepare_wal($WAL_N, '$STAGE')")"
log "WAL: $WAL_PATIENTS dirty patients, $WAL_ROWS rows refreshed, $WAL_CHANGED of them really change"
ROUND=$((ROUND + 1))
sql "SELECT incview.set_engine('$STAGE', 'diff'); SELECT bench.apply_wal_change($ROUND); SELECT incview.refresh('$STAGE')" >/dev/null
for rep in $(seq 1 "$REPS"); do
  for eng in diff replace; do
    ROUND=$((ROUND + 1))
    ms=$(timed wal "$eng" after_checkpoint "$WAL_PATIENTS" "$rep" \
      "VACUUM medications, incview.dirty_scope, $STAGE; SELECT incview.set_engine('$STAGE', '$eng');
SELECT bench.apply_wal_change($ROUND); CHECKPOINT;" "SELECT incview.refresh('$STAGE');")
    ROUND=$((ROUND + 1))
    ms2=$(timed wal "$eng" steady "$WAL_PATIENTS" "$rep" "SELECT bench.apply_wal_change($ROUND);" \
      "SELECT incview.refresh('$STAGE');")
    log "WAL #$rep $eng: $ms ms after checkpoint, $ms2 ms steady"
  done
done
sql "SELECT incview.set_engine('$STAGE', 'auto')" >/dev/null

# Back to the loaded data; everything is checked against the query once.
sql "DELETE FROM medications WHERE id > $BASE_MED" >/dev/null
sql "SELECT incview.refresh('$STAGE')" >/dev/null
log "incview.verify after all refresh experiments"
VERIFY=$(sql "SELECT missing || ',' || extra FROM incview.verify('$STAGE')")
sql "INSERT INTO bench.raw (experiment, method, note) VALUES ('check', 'verify', '$VERIFY')"
log "verify (missing,extra) = ($VERIFY)"
[[ "$VERIFY" == "0,0" ]] || { CHECK_FAILS=$((CHECK_FAILS + 1)); log "VERIFY FAILED"; }

# ---------------------------------------------------------------------------------------
# 4. Write path: single-row INSERTs (pgbench, 2 clients) and a bulk INSERT ... SELECT,
#    with capture (stage triggers enabled) vs without (DISABLE TRIGGER USER), alternating.
#    Between rounds (untimed): the inserted rows are deleted with triggers disabled and the
#    dirty queue emptied -- the data is back to what the stage holds -- then VACUUM and
#    CHECKPOINT, so every round starts from the same state.
# ---------------------------------------------------------------------------------------
# Background scheduler on/off (ALTER SYSTEM + reload). "on" waits until a scheduler runs in
# the benchmark database (fails after 20 s). Off for everything but pgbench's scheduler_on
# variant and the freshness lag: a wake-up pass must not run beside a timed statement.
scheduler() {
  if [[ $1 == on ]]; then
    "${PSQL[@]}" -d "$DB" -c "ALTER SYSTEM SET incview.enabled = on" -c "SELECT pg_reload_conf()" >/dev/null 2>>"$LOG"
    local i
    for i in $(seq 1 200); do
      [[ $(sql "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_incview scheduler' AND datname = current_database()") -ge 1 ]] && return 0
      sleep 0.1
    done
    return 1
  fi
  "${PSQL[@]}" -d "$DB" -c "ALTER SYSTEM SET incview.enabled = off" -c "SELECT pg_reload_conf()" >/dev/null 2>>"$LOG"
  sleep 0.5
}
reset_writes() {
  "${PSQL[@]}" -d "$DB" -c "ALTER TABLE medications DISABLE TRIGGER USER" \
    -c "DELETE FROM medications WHERE id > $BASE_MED" -c "ALTER TABLE medications ENABLE TRIGGER USER" \
    -c "DELETE FROM incview.dirty_scope" -c "VACUUM medications, incview.dirty_scope" -c "CHECKPOINT" 2>>"$LOG"
}
capture_mode() {  # capture|no_capture
  if [[ $1 == capture ]]; then sql "ALTER TABLE medications ENABLE TRIGGER USER"
  else sql "ALTER TABLE medications DISABLE TRIGGER USER"; fi
}
PGB_FILE=$OUT/insert.pgbench
cat > "$PGB_FILE" <<EOF
\\set p random(1, $N_PATIENTS)
\\set pr random(1, $N_PRODUCTS)
INSERT INTO medications (patient_id, product_id, given_at) VALUES (:p, :pr, now());
EOF
# Variants: the scheduler off (capture alone: the target), synchronous_commit off (CPU-bound),
# and the scheduler on with the stage's policy manual (commits do not wake it; it polls every naptime).
for variant in sync_commit_on sync_commit_off scheduler_on; do
  opts=""
  [[ $variant == sync_commit_off ]] && opts="-c synchronous_commit=off"
  if [[ $variant == scheduler_on ]]; then
    [[ $HAS_POLICY == 1 ]] || continue
    scheduler on || { log "pgbench: no scheduler started; skipping variant $variant"; scheduler off; continue; }
  fi
  for rep in $(seq 1 "$PGB_ROUNDS"); do
    order="capture no_capture"; [[ $((rep % 2)) == 0 ]] && order="no_capture capture"
    for mode in $order; do
      reset_writes
      capture_mode "$mode"
      PGOPTIONS="$opts" "$PGBIN/pgbench" -n -h /tmp -p "$PORT" -U postgres -c 2 -j 2 -T "$PGB_SECONDS" \
        -f "$PGB_FILE" "$DB" > "$OUT/pgbench-$variant-$mode-$rep.log" 2>&1 \
        || die "pgbench failed: $OUT/pgbench-$variant-$mode-$rep.log"
      tps=$(awk '/^tps = / { print $3; exit }' "$OUT/pgbench-$variant-$mode-$rep.log")
      sql "INSERT INTO bench.raw (experiment, method, variant, rep, tps) VALUES ('pgbench', '$mode', '$variant', $rep, $tps)"
      capture_mode capture
      log "pgbench $variant #$rep $mode: $tps tps"
    done
  done
  [[ $variant == scheduler_on ]] && scheduler off
done

BULK_ROWS=$(awk -v s="$SCALE" 'BEGIN { x = int(5000 * s + 0.5); if (x < 2000) x = 2000; print x }')
BULK_P10=$(awk -v n="$N_PATIENTS" 'BEGIN { x = int(n * 0.1 + 0.5); print (x < 1) ? 1 : x }')
for variant in all_patients p10_patients; do
  m=$N_PATIENTS; [[ $variant == p10_patients ]] && m=$BULK_P10
  for rep in $(seq 1 "$BULK_ROUNDS"); do
    order="capture no_capture"; [[ $((rep % 2)) == 0 ]] && order="no_capture capture"
    for mode in $order; do
      reset_writes
      capture_mode "$mode"
      ms=$(timed bulk "$mode" "$variant" "" "$rep" "" \
"INSERT INTO medications (patient_id, product_id, given_at)
SELECT 1 + (hashint8(i * 7 + $rep)::bigint + 2147483648) % $m,
       1 + (hashint8(i * 11 + $rep)::bigint + 2147483648) % $N_PRODUCTS,
       timestamptz '2025-06-01 00:00:00+00' + i * interval '1 second'
FROM generate_series(1, $BULK_ROWS) AS i;" "$BULK_ROWS rows")
      queued=$(sql "SELECT CASE WHEN count(*) = 0 THEN 'nothing'
                                WHEN bool_or(key IS NULL) THEN 'one \"every scope\" marker'
                                ELSE count(DISTINCT key) || ' keys' END FROM incview.dirty_scope")
      sql "UPDATE bench.raw SET note = note || '; queued: ' || \$q\$$queued\$q\$ WHERE id = (SELECT max(id) FROM bench.raw)"
      capture_mode capture
      log "bulk INSERT of $BULK_ROWS rows ($variant) #$rep $mode: $ms ms (capture queued: $queued)"
    done
  done
done
reset_writes

# ---------------------------------------------------------------------------------------
# 5. Freshness lag: with the background scheduler (policy continuous), the time from the
#    commit of a change to the commit of its refresh (the moment the dirty keys leave the
#    queue, in the refresh's transaction). Placeholder if this build has no scheduler.
# ---------------------------------------------------------------------------------------
LAG_REPS=${BENCH_LAG_REPS:-$([[ $SMOKE == 1 ]] && echo 3 || echo 10)}
LAG_STATUS="not measured yet: background scheduler"
LAG_PROBES=${BENCH_LAG_PROBES:-$([[ $SMOKE == 1 ]] && echo 5 || echo 60)}
LAG_RATES=${BENCH_LAG_RATES:-"100 1000 0"}  # pgbench -R (inserts/s) of the load; 0 = unthrottled
if [[ $HAS_POLICY == 1 ]]; then
  sql "SELECT incview.set_policy('$STAGE', 'continuous')" >/dev/null 2>&1 || true
  if scheduler on; then
    LAG_STATUS=measured
    STAGE_ID=$(sql "SELECT id FROM incview.stage WHERE name = '$STAGE'")
    for lk in 1 100; do
      [[ $lk -gt $N_PATIENTS ]] && continue
      for rep in $(seq 1 "$LAG_REPS"); do
        ROUND=$((ROUND + 1))
        cat > "$OUT/lag.sql" <<EOF
SET client_min_messages = warning;
SELECT bench.apply_change($lk, $ROUND);
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
DO \$\$
DECLARE deadline timestamptz := clock_timestamp() + interval '60 s';
BEGIN
  WHILE EXISTS (SELECT 1 FROM incview.dirty_scope WHERE stage_id = $STAGE_ID) LOOP
    IF clock_timestamp() > deadline THEN RAISE EXCEPTION 'not refreshed within 60 s'; END IF;
    PERFORM pg_sleep(0.0005);
  END LOOP;
END
\$\$;
SELECT (extract(epoch FROM clock_timestamp()) - :t0) * 1000 AS lag_ms \gset
INSERT INTO bench.raw (experiment, method, k, share, rep, ms) VALUES ('lag', 'continuous', $lk, $lk::float8 / $N_PATIENTS, $rep, :lag_ms);
SELECT round(:lag_ms::numeric, 2);
EOF
        if ms=$(sqlf "$OUT/lag.sql" | tail -n 1); then
          log "lag k=$lk #$rep: $ms ms"
        else
          LAG_STATUS="failed: a change was not refreshed by the scheduler within 60 s"
          log "lag: $LAG_STATUS"; break 2
        fi
        sleep 0.2
      done
    done
    # Under a sustained write load: pgbench inserts medications of random patients at a
    # fixed rate (each one a real change to refresh) while probes on random patients
    # measure commit -> visible in the stage. Throughput is counted from the inserted rows.
    for rate in $LAG_RATES; do
      # Back to the loaded data, through capture, so the stage follows.
      sql "DELETE FROM medications WHERE id > $BASE_MED" >/dev/null
      sql "SELECT incview.refresh('$STAGE')" >/dev/null
      sql "VACUUM medications, incview.dirty_scope" >/dev/null
      rate_opt=(); [[ $rate != 0 ]] && rate_opt=(-R "$rate")
      "$PGBIN/pgbench" -n -h /tmp -p "$PORT" -U postgres -c 2 -j 2 -T 3600 "${rate_opt[@]}" \
        -f "$PGB_FILE" "$DB" > "$OUT/pgbench-lag-$rate.log" 2>&1 &
      PGB_PID=$!
      t_start=$(date +%s.%N)
      sleep 2  # let the load and the scheduler settle
      for probe in $(seq 1 "$LAG_PROBES"); do
        ROUND=$((ROUND + 1))
        p=$(( (RANDOM * 32768 + RANDOM) % N_PATIENTS + 1 ))
        ms=$(sql "CALL bench.lag_probe($p, 1 + $p % $N_PRODUCTS, $ROUND)") || die "lag probe failed (see $LOG)"
        if [[ -n "$ms" ]]; then
          sql "INSERT INTO bench.raw (experiment, method, variant, k, rep, ms) VALUES ('lag_load', 'continuous', 'rate=$rate', 1, $probe, $ms)"
        else  # counted as 30 s, so p95/max say "at least"
          sql "INSERT INTO bench.raw (experiment, method, variant, k, rep, ms, note) VALUES ('lag_load', 'continuous', 'rate=$rate', 1, $probe, 30000, 'timeout')"
          log "lag probe $probe at rate=$rate: not refreshed within 30 s"
        fi
        sleep 0.2
      done
      kill "$PGB_PID" 2>/dev/null; wait "$PGB_PID" 2>/dev/null || true
      elapsed=$(awk -v a="$t_start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
      inserted=$(sql "SELECT count(*) FROM medications WHERE id > $BASE_MED")
      tps=$(awk -v n="$inserted" -v t="$elapsed" 'BEGIN { printf "%.1f", n / t }')
      backlog=$(sql "SELECT count(DISTINCT key) FROM incview.dirty_scope")
      sql "INSERT INTO bench.raw (experiment, method, variant, tps, note) VALUES ('lag_load_tps', 'continuous', 'rate=$rate', $tps, 'backlog at the end: $backlog keys')"
      log "lag under load rate=$rate: $(sql "SELECT round(ms::numeric, 1) || ' ms median, max ' || round(max_ms::numeric, 1) FROM bench.med WHERE experiment = 'lag_load' AND variant = 'rate=$rate'"), $tps inserts/s, backlog $backlog"
    done
  else
    LAG_STATUS="not measured: no pg_incview scheduler running in the benchmark database"
  fi
  scheduler off
  sql "SELECT incview.set_policy('$STAGE', 'manual')" >/dev/null 2>&1 || true
  sql "DELETE FROM medications WHERE id > $BASE_MED" >/dev/null
  sql "SELECT incview.refresh('$STAGE')" >/dev/null
  # The scheduler refreshed while writers wrote: the stage must still equal its query.
  VERIFY_LAG=$(sql "SELECT missing || ',' || extra FROM incview.verify('$STAGE')")
  sql "INSERT INTO bench.raw (experiment, method, note) VALUES ('check', 'verify_after_lag', '$VERIFY_LAG')"
  log "verify after the freshness-lag runs (missing,extra) = ($VERIFY_LAG)"
  [[ "$VERIFY_LAG" == "0,0" ]] || { CHECK_FAILS=$((CHECK_FAILS + 1)); log "VERIFY FAILED"; }
fi
log "freshness lag: $LAG_STATUS"

# ---------------------------------------------------------------------------------------
# 6. RESULTS.md and refresh.png
# ---------------------------------------------------------------------------------------
log "writing results"
"${PSQL[@]}" -d "$DB" -c "\\copy (SELECT * FROM bench.raw ORDER BY id) TO '$OUT/raw.csv' WITH (FORMAT csv, HEADER)" 2>>"$LOG"

# Plot data: one line per k, one column per method (median ms).
sql "SELECT k, share,
   coalesce(max(ms) FILTER (WHERE method = 'replace')::text, 'NaN'), coalesce(max(ms) FILTER (WHERE method = 'diff')::text, 'NaN'),
   coalesce(max(ms) FILTER (WHERE method = 'auto')::text, 'NaN'), coalesce(max(ms) FILTER (WHERE method = 'full')::text, 'NaN'),
   coalesce(max(ms) FILTER (WHERE method = 'floor')::text, 'NaN'), coalesce(max(ms) FILTER (WHERE method = 'mvc')::text, 'NaN'),
   coalesce(max(ms) FILTER (WHERE method = 'mv')::text, 'NaN')
 FROM bench.med WHERE experiment = 'refresh' GROUP BY k, share ORDER BY k" | tr '|' ' ' > "$OUT/refresh.dat"
if command -v gnuplot >/dev/null; then
  gnuplot -e "datafile='$OUT/refresh.dat'; outfile='$PUBLISH_DIR/refresh.png'; subtitle='scale $SCALE: $N_PATIENTS patients, $STAGE_ROWS stage rows; median of $REPS'" \
    "$HERE/refresh.gp" 2>>"$LOG" || log "gnuplot failed (see $LOG)"
fi

MACHINE_CPU=$(awk -F': ' '/^model name/ { m = $2 } /^processor/ { n++ } END { printf "%s, %d logical CPUs", m, n }' /proc/cpuinfo)
# /proc/meminfo rather than free(1): procps is not on every minimal machine.
MACHINE_MEM=$(awk '/^MemTotal:/ { t = $2 } /^MemAvailable:/ { a = $2 }
  END { printf "%.0fGi total, %.0fGi available at the end", t / 1048576, a / 1048576 }' /proc/meminfo)
PG_VERSION=$(sql "SELECT version()")
GIT_REV=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
RUNTIME=$SECONDS
KERNEL=$(uname -srm)
PGCONF_LINE=$(printf '%s' "$PGCONF" | tr '\n' ';' | sed 's/;/; /g')
{
  for v in DB PORT PGBIN SCALE SMOKE REPS BUILD_REPS START_TS RUNTIME MACHINE_CPU MACHINE_MEM KERNEL PG_VERSION \
           GIT_REV LOAD_START LOAD_END COUNTS LOAD_SECONDS STAGE_ROWS STAGE_SIZE N_PATIENTS PGB_SECONDS \
           PGB_ROUNDS BULK_ROWS BULK_P10 BULK_ROUNDS WAL_PATIENTS WAL_ROWS WAL_CHANGED CHECK_FAILS VERIFY \
           PROFILE KP KB OUT PGCONF_LINE KS LAG_STATUS LAG_REPS LAG_PROBES LAG_RATES VERIFY_LAG; do
    printf '%s=%q\n' "$v" "${!v:-}"
  done
} > "$OUT/run.env"
bash "$HERE/results.sh" "$OUT/run.env" > "$PUBLISH_DIR/RESULTS.md"
log "wrote $PUBLISH_DIR/RESULTS.md$([[ -f $PUBLISH_DIR/refresh.png ]] && echo " and $PUBLISH_DIR/refresh.png")"
if [[ $CHECK_FAILS -gt 0 ]]; then
  log "$CHECK_FAILS correctness check(s) FAILED: see RESULTS.md"
  exit 1
fi
log "done in ${SECONDS}s"
