#!/usr/bin/env bash
# Soak: pg_incview under continuous writes for a long time (issue #11 item 6; not run by CI).
#
#   bench/soak.sh                 # 30 minutes
#   SOAK_SECONDS=600 bench/soak.sh
#
# Its own cluster (SOAK_PGPORT, SOAK_PGDATA; fsync on). pgbench writes to three sources
# (transfers, accounts, events) at SOAK_RATE transactions/s from SOAK_CLIENTS clients, in
# rounds of SOAK_ROUND seconds; the background scheduler refreshes five stages, all
# continuous: one per source kind, a stage on a stage, a hash-partitioned stage (diff engine)
# and a retention stage range-partitioned by day (bench/soak/setup.sql). Every SOAK_SAMPLE
# seconds: the dirty queue's size and the RSS (ps) of the scheduler and refresh workers.
# After each round, writes pause, the scheduler drains the queue and every stage is
# verified (incview.verify must say 0 missing, 0 extra). Writes soak.md and samples.csv to
# SOAK_OUT (default bench/out/soak); exits 1 when a verify fails or the queue never drains.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PORT=${SOAK_PGPORT:-54431}
DATADIR=${SOAK_PGDATA:-/tmp/pg_incview_soak}
DURATION=${SOAK_SECONDS:-1800}
ROUND=${SOAK_ROUND:-60}
RATE=${SOAK_RATE:-200}
CLIENTS=${SOAK_CLIENTS:-2}
SAMPLE=${SOAK_SAMPLE:-10}
ACCOUNTS=${SOAK_ACCOUNTS:-10000}
DEVICES=${SOAK_DEVICES:-2000}
OUT=${SOAK_OUT:-$HERE/out/soak}
DB=incview_soak
STAGES=(account_balance region_totals account_extremes device_hourly)

mkdir -p "$OUT"
LOG=$OUT/soak.log; : >"$LOG"
CSV=$OUT/samples.csv
echo "elapsed_s,dirty_rows,dirty_keys,scheduler_rss_kb,scheduler_private_kb,refresh_rss_kb,refresh_private_kb,refresh_workers,change_records,queue_kb" >"$CSV"
log() { printf '[%s %5ds] %s\n' "$(date +%H:%M:%S)" "$SECONDS" "$*" | tee -a "$LOG"; }
PSQL=("$PGBIN/psql" -X -q -At -h /tmp -p "$PORT" -U postgres -v ON_ERROR_STOP=1)
sql() { "${PSQL[@]}" -d "$DB" -c "$1" 2>>"$LOG"; }
cluster() {
  INCVIEW_PGPORT=$PORT INCVIEW_PGDATA=$DATADIR INCVIEW_FAST=0 PGBIN=$PGBIN \
    INCVIEW_PGCONF_EXTRA="incview.naptime = '200ms'
incview.max_workers = 2" bash "$ROOT/scripts/cluster.sh" "$@"
}
SAMPLER=
cleanup() {
  local rc=$?
  [[ -n $SAMPLER ]] && kill "$SAMPLER" 2>/dev/null || true
  [[ ${SOAK_KEEP:-0} == 1 ]] || cluster stop >>"$LOG" 2>&1 || true
  [[ $rc -ne 0 ]] && log "FAILED (exit $rc); see $LOG and $DATADIR/server.log"
  exit $rc
}
trap cleanup EXIT

# Memory in kB of the scheduler and of the live refresh workers (summed), and their count:
# RSS (ps; counts the shared buffers a process has touched, so it grows as it reads more
# pages) and private memory (Anonymous of /proc/PID/smaps_rollup: heap and stack, not
# shared memory; what a leak would grow).
private_kb() { awk '/^Anonymous:/ { s += $2 } END { print s + 0 }' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }
memory() {
  local pids srss=0 spriv=0 rrss=0 rpriv=0 n=0 pid kb type
  pids=$(sql "SELECT pid || ' ' || backend_type FROM pg_stat_activity
              WHERE datname = '$DB' AND backend_type IN ('pg_incview scheduler', 'pg_incview refresh')" || true)
  while read -r pid type _; do
    [[ -z $pid ]] && continue
    kb=$(ps -o rss= -p "$pid" 2>/dev/null | tr -d ' ' || true)
    [[ -z $kb ]] && continue
    if [[ $type == scheduler ]]; then
      srss=$((srss + kb)); spriv=$((spriv + $(private_kb "$pid")))
    else
      rrss=$((rrss + kb)); rpriv=$((rpriv + $(private_kb "$pid"))); n=$((n + 1))
    fi
  done < <(sed 's/pg_incview //' <<<"$pids")
  echo "$srss,$spriv,$rrss,$rpriv,$n"
}
sample_loop() {
  while true; do
    local q
    local q c
    q=$(sql "SELECT count(*) || ',' || count(DISTINCT (stage_id, key)) FROM incview.dirty_scope" || echo ",")
    # The queue is two tables since capture writes one change record per statement (issue 18):
    # records not yet collected or not yet dropped, and the stages' own keys; their size on disk.
    c=$(sql "SELECT (SELECT count(*) FROM incview.source_change) || ',' ||
                    (pg_total_relation_size('incview.source_change') + pg_total_relation_size('incview.dirty_scope')) / 1024" || echo ",")
    echo "$SECONDS,$q,$(memory),$c" >>"$CSV"
    sleep "$SAMPLE"
  done
}
# Waits until no stage has a queued key, in its own keys or in change records it has not
# collected yet (incview.queued_keys): the scheduler caught up. Fails after 300 s.
drain() {
  local deadline=$((SECONDS + 300))
  until [[ $(sql "SELECT NOT EXISTS (SELECT 1 FROM incview.queued_keys)") == t ]]; do
    (( SECONDS > deadline )) && { log "the queue did not drain in 300 s: $(sql "SELECT string_agg(name || '=' || dirty_scopes || '/' || status, ' ') FROM incview.stages")"; return 1; }
    sleep 0.5
  done
}
VERIFY_FAILS=0 VERIFY_RUNS=0
verify_all() {
  local s r
  sql "SELECT incview.apply_retention('device_hourly')" >/dev/null  # rows that aged past the window
  for s in "${STAGES[@]}"; do
    r=$(sql "SELECT missing || '/' || extra FROM incview.verify('$s')")
    VERIFY_RUNS=$((VERIFY_RUNS + 1))
    if [[ $r != 0/0 ]]; then VERIFY_FAILS=$((VERIFY_FAILS + 1)); log "verify $s: $r (missing/extra) FAILED"; fi
  done
}

log "cluster on port $PORT ($DATADIR), ${DURATION}s of writes at $RATE tps, $CLIENTS clients"
INCVIEW_FRESH=1 cluster start >>"$LOG" 2>&1
"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >>"$LOG" 2>&1
"${PSQL[@]}" -d "$DB" -v accounts="$ACCOUNTS" -v devices="$DEVICES" -f "$HERE/soak/setup.sql" >>"$LOG" 2>&1
drain
verify_all
START_MEM=$(memory)
log "set up; memory at start (scheduler RSS, private kB; refresh workers RSS, private kB; workers): $START_MEM"

sample_loop & SAMPLER=$!
START=$SECONDS ROUNDS=0 TX=0
while (( SECONDS - START < DURATION )); do
  left=$((DURATION - (SECONDS - START)))
  t=$(( left < ROUND ? left : ROUND ))
  (( t < 1 )) && break
  out=$("$PGBIN/pgbench" -n -h /tmp -p "$PORT" -U postgres -c "$CLIENTS" -j "$CLIENTS" -T "$t" -R "$RATE" \
        -D accounts="$ACCOUNTS" -D devices="$DEVICES" -f "$HERE/soak/writes.sql" "$DB" 2>>"$LOG")
  n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
  TX=$((TX + ${n:-0})); ROUNDS=$((ROUNDS + 1))
  drain
  verify_all
  log "round $ROUNDS: $n transactions; queue drained; verify failures so far: $VERIFY_FAILS"
done
WRITE_SECONDS=$((SECONDS - START))
sleep "$SAMPLE"
END_MEM=$(memory)
kill "$SAMPLER" 2>/dev/null || true; SAMPLER=

# ---------------------------------------------------------------- summary
read -r QMAX QEND < <(awk -F, 'NR > 1 && $2 != "" { if ($2 > m) m = $2; last = $2 } END { print m + 0, last + 0 }' "$CSV")
read -r KMAX < <(awk -F, 'NR > 1 && $3 != "" { if ($3 > m) m = $3 } END { print m + 0 }' "$CSV")
read -r CMAX CEND BMAX BEND < <(awk -F, 'NR > 1 && $9 != "" { if ($9 > c) c = $9; lc = $9; if ($10 > b) b = $10; lb = $10 }
                                         END { print c + 0, lc + 0, b + 0, lb + 0 }' "$CSV")
# Refresh workers come and go: their first, last and largest sample with one alive.
read -r RFIRST RLAST RMAX < <(awk -F, 'NR > 1 && $8 > 0 { if (f == "") f = $6 "/" $7; l = $6 "/" $7; if ($6 > m) m = $6 }
                                       END { print (f == "" ? "-" : f), (l == "" ? "-" : l), m + 0 }' "$CSV")
LOG_ROWS=$(sql "SELECT count(*) || ' refreshes, ' || count(*) FILTER (WHERE error IS NOT NULL) || ' with an error, '
                       || count(*) FILTER (WHERE scopes IS NULL) || ' full rebuilds' FROM incview.refresh_log")
SIZES=$(sql "SELECT string_agg(name || ' ' || (SELECT count(*) FROM pg_inherits WHERE inhparent = target) || ' partitions', ', ' ORDER BY name) FROM incview.stages WHERE name IN ('account_extremes', 'device_hourly')")
IFS=, read -r S0 P0 _ <<<"$START_MEM"
IFS=, read -r S1 P1 _ <<<"$END_MEM"
{
  echo "## Soak (bench/soak.sh)"
  echo
  echo "$(date -u '+%Y-%m-%d') on $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end."
  echo "${WRITE_SECONDS} s of pgbench writes (${ROUNDS} rounds of up to ${ROUND} s, $CLIENTS clients, rate limit $RATE tps):"
  echo "$TX transactions, each a transfer and an event, 5 % also moving an account between regions, 20 % deleting the oldest event."
  echo "Four continuous stages (a stage on a stage, a hash-partitioned diff stage, a day-partitioned retention stage)."
  echo
  echo "| measure | value |"
  echo "|---|---|"
  echo "| verify after each round (queue drained first) | $((VERIFY_RUNS - VERIFY_FAILS)) of $VERIFY_RUNS runs 0 missing / 0 extra |"
  echo "| dirty_scope rows: max / at the end | $QMAX / $QEND (distinct keys max $KMAX) |"
  echo "| change records (source_change): max / at the end | $CMAX / $CEND |"
  echo "| queue on disk (source_change + dirty_scope, with indexes and TOAST): max / at the end | $BMAX kB / $BEND kB |"
  echo "| scheduler RSS: start / end | ${S0} kB / ${S1} kB |"
  echo "| scheduler private memory: start / end | ${P0} kB / ${P1} kB |"
  echo "| refresh workers (short-lived) RSS/private kB: first sample / last sample / max RSS | $RFIRST / $RLAST / ${RMAX} |"
  echo "| refresh_log | $LOG_ROWS |"
  echo "| partitions at the end | $SIZES |"
  echo
  echo "Samples every ${SAMPLE} s: \`$CSV\`."
} >"$OUT/soak.md"
cat "$OUT/soak.md" | tee -a "$LOG"
(( VERIFY_FAILS == 0 ))
