#!/usr/bin/env bash
# Peak memory of a refresh and of a captured write, at two stage sizes (issue 12, item 6).
# See bench/fixed_cost.md ("Memory") for the results.
#
#   bench/memory.sh [scale_small] [scale_large]     # default 5 and 20 (examples/vet scales)
#
# On a throwaway cluster, for each scale: the private memory (RssAnon of /proc/<pid>/status,
# sampled every 10 ms: shared buffers are not in it) of
#  - a backend running incview.refresh() after a change to 10 % of the patients, and after a
#    change to the same 1,000 patients at both scales;
#  - the scheduler refreshing the same change in the background (policy continuous; with
#    one stage the scheduler refreshes it in its own process);
#  - a backend running a captured 500,000-row INSERT ... SELECT into medications.
# Each as the peak during the operation minus the process's RssAnon just before it.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
SCALES=("${1:-5}" "${2:-20}")
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PORT=${BENCH_PGPORT:-${INCVIEW_PGPORT:-54332}}
DATADIR=${BENCH_PGDATA:-${INCVIEW_PGDATA:-/tmp/pg_incview_memory}}
OUT=${BENCH_OUT:-$HERE/out/memory}
BULK_ROWS=${BULK_ROWS:-500000}
STAGE=patient_product_due
mkdir -p "$OUT"
LOG=$OUT/run.log
: > "$LOG"
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" | tee -a "$LOG"; }
PSQL=("$PGBIN/psql" -X -q -h /tmp -p "$PORT" -U postgres -v ON_ERROR_STOP=1)
cluster() {
  PGBIN=$PGBIN INCVIEW_PGPORT=$PORT INCVIEW_PGDATA=$DATADIR INCVIEW_FAST=0 INCVIEW_PGCONF_EXTRA="shared_buffers = '256MB'
work_mem = '64MB'
max_wal_size = '4GB'
incview.enabled = off" bash "$ROOT/scripts/cluster.sh" "$@"
}
trap 'cluster stop >>"$LOG" 2>&1 || true' EXIT

rss_anon() { awk '/^RssAnon/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
# Samples RssAnon of pid every 10 ms until $2 exists; writes the peak (kB) into $3.
sampler() {
  local pid=$1 stop=$2 out=$3 max=0 v
  while [[ ! -e $stop ]] && [[ -e /proc/$pid ]]; do
    v=$(rss_anon "$pid"); [[ -n $v ]] && (( v > max )) && max=$v
    sleep 0.01
  done
  echo "$max" > "$out"
}

# Runs SQL in one session, sampling the session's backend around `op`.
measure_backend() {  # db label prep op
  local db=$1 label=$2 prep=$3 op=$4 stop=$OUT/stop.$$ peak=$OUT/peak.$$
  rm -f "$stop" "$peak"
  "${PSQL[@]}" -d "$db" -At > "$OUT/$label.out" 2>>"$LOG" <<EOF
$prep
SELECT pg_backend_pid() AS pid \gset
\setenv BPID :pid
\! awk '/^RssAnon/ { print \$2 }' /proc/\$BPID/status > $OUT/base.$$
\! bash -c 'source $OUT/sampler.sh; sampler \$BPID $stop $peak' &
SELECT pg_sleep(0.05);
$op
\! touch $stop
EOF
  for _ in $(seq 1 100); do [[ -s $peak ]] && break; sleep 0.05; done
  echo "$(cat "$OUT/base.$$") $(cat "$peak")"
}
declare -f rss_anon sampler > "$OUT/sampler.sh"

RESULTS=$OUT/results.csv
echo "scale,patients,stage_rows,what,keys_or_rows,base_kb,peak_kb,growth_kb" > "$RESULTS"
log "memory bench, scales ${SCALES[*]}, load $(cut -d' ' -f1-3 /proc/loadavg)"
INCVIEW_FRESH=1 cluster start >>"$LOG" 2>&1
for scale in "${SCALES[@]}"; do
  db=mem_${scale//./_}
  "${PSQL[@]}" -d postgres -c "CREATE DATABASE $db" 2>>"$LOG"
  sql() { "${PSQL[@]}" -d "$db" -At -c "$1" 2>>"$LOG"; }
  sql "CREATE EXTENSION pg_incview" >/dev/null
  "${PSQL[@]}" -d "$db" -f "$ROOT/examples/vet/schema.sql" >/dev/null 2>>"$LOG"
  "${PSQL[@]}" -d "$db" -v scale="$scale" -f "$ROOT/examples/vet/data.sql" >/dev/null 2>>"$LOG"
  "${PSQL[@]}" -d "$db" -f "$HERE/setup.sql" >/dev/null 2>>"$LOG"
  "${PSQL[@]}" -d "$db" -f "$ROOT/examples/vet/stage.sql" >/dev/null 2>>"$LOG"
  sql "SELECT incview.set_policy('$STAGE', 'manual')" >/dev/null
  sql "VACUUM ANALYZE" >/dev/null
  n=$(sql "SELECT n_patients FROM bench.meta")
  rows=$(sql "SELECT count(*) FROM $STAGE")
  k=$((n / 10))
  log "scale $scale: $n patients, $rows stage rows; 10 % = $k patients"

  # 1. incview.refresh() in a backend: 10 % of the patients, and the same 1,000 patients at
  #    every scale (what the stage's size alone does)
  read -r base peak < <(measure_backend "$db" "refresh-$scale" "SELECT bench.apply_change($k, 1);" \
    "SELECT incview.refresh('$STAGE');")
  echo "$scale,$n,$rows,backend incview.refresh (10 %),$k,$base,$peak,$((peak - base))" >> "$RESULTS"
  log "scale $scale refresh backend: base $base kB, peak $peak kB"
  read -r base peak < <(measure_backend "$db" "refresh1000-$scale" "SELECT bench.apply_change(1000, 3);" \
    "SELECT incview.refresh('$STAGE');")
  echo "$scale,$n,$rows,backend incview.refresh (1000 patients),1000,$base,$peak,$((peak - base))" >> "$RESULTS"
  log "scale $scale refresh backend, 1000 patients: base $base kB, peak $peak kB"

  # 2. the scheduler refreshing the same change
  sql "SELECT bench.apply_change($k, 2)" >/dev/null
  "${PSQL[@]}" -d "$db" -c "ALTER SYSTEM SET incview.enabled = on" -c "SELECT pg_reload_conf()" >/dev/null 2>>"$LOG"
  pid=""
  for _ in $(seq 1 200); do
    pid=$(sql "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_incview scheduler' AND datname = current_database()")
    [[ -n $pid ]] && break
    sleep 0.05
  done
  if [[ -n $pid ]]; then
    base=$(rss_anon "$pid")
    stop=$OUT/stop.w; peak=$OUT/peak.w; rm -f "$stop" "$peak"
    sampler "$pid" "$stop" "$peak" &
    sql "SELECT incview.set_policy('$STAGE', 'continuous')" >/dev/null  # its commit wakes the scheduler
    for _ in $(seq 1 1200); do
      [[ $(sql "SELECT count(*) FROM incview.queued_keys") == 0 ]] && break
      sleep 0.05
    done
    sleep 0.2; touch "$stop"; wait
    peak=$(cat "$peak")
    echo "$scale,$n,$rows,scheduler refresh (10 %),$k,$base,$peak,$((peak - base))" >> "$RESULTS"
    log "scale $scale scheduler: base $base kB, peak $peak kB"
  else
    log "scale $scale: no scheduler started"
  fi
  "${PSQL[@]}" -d "$db" -c "ALTER SYSTEM SET incview.enabled = off" -c "SELECT pg_reload_conf()" >/dev/null 2>>"$LOG"
  sql "SELECT incview.set_policy('$STAGE', 'manual')" >/dev/null
  sql "SELECT incview.refresh('$STAGE')" >/dev/null

  # 3. a captured bulk INSERT in a writer backend
  read -r base peak < <(measure_backend "$db" "bulk-$scale" "" \
    "INSERT INTO medications (patient_id, product_id, given_at)
     SELECT 1 + g % $n, 1 + g % (SELECT n_products FROM bench.meta), now() FROM generate_series(1, $BULK_ROWS) g;")
  echo "$scale,$n,$rows,writer captured INSERT,$BULK_ROWS,$base,$peak,$((peak - base))" >> "$RESULTS"
  log "scale $scale bulk insert: base $base kB, peak $peak kB"
  v=$(sql "SELECT incview.refresh('$STAGE')")
  log "scale $scale: refreshed $v scopes after the bulk insert; verify (missing,extra) = ($(sql "SELECT missing || ',' || extra FROM incview.verify('$STAGE')"))"
done
log "load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
column -s, -t "$RESULTS" | tee -a "$LOG"
