#!/usr/bin/env bash
# Writer and reader latency on a stage's sources while stage DDL runs (issue 19, item 5),
# beside native CREATE / REFRESH MATERIALIZED VIEW in the same run.
#
#   bench/ddl_latency.sh [scale]      # default 100 (the bench's scale: 2M medications ...)
#
# One writer (single-row INSERT into medications) and one reader (a patient's medications by
# index) run as pgbench clients, logging every transaction, while each operation below runs
# once in autocommit; for each we report the operation's duration and the worst latency of a
# writer and a reader transaction that overlapped it (baseline: a window with no DDL).
# Writes bench/ddl_latency.md (bench/results.sh includes it); logs in bench/out/ddl_latency/.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
SCALE=${1:-100}
PGBIN=${PGBIN:-$("${PG_CONFIG:-/usr/bin/pg_config}" --bindir)}
PORT=${BENCH_PGPORT:-54337}
DATADIR=${BENCH_PGDATA:-/tmp/pg_incview_ddlbench}
DB=ddlbench
OUT=$HERE/out/ddl_latency
mkdir -p "$OUT"
rm -f "$OUT"/*.log.* "$OUT"/*.log 2>/dev/null || true
LOG=$OUT/run.log
: > "$LOG"
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" | tee -a "$LOG"; }
PSQL=("$PGBIN/psql" -X -q -h /tmp -p "$PORT" -U postgres -v ON_ERROR_STOP=1)
sql() { "${PSQL[@]}" -d "$DB" -At -c "$1" 2>>"$LOG"; }
cluster() {
  INCVIEW_PGPORT=$PORT INCVIEW_PGDATA=$DATADIR INCVIEW_FAST=0 INCVIEW_PGCONF_EXTRA="shared_buffers = '1GB'
maintenance_work_mem = '512MB'
max_wal_size = '8GB'" bash "$ROOT/scripts/cluster.sh" "$@" >>"$LOG" 2>&1
}
trap 'cluster stop || true' EXIT

log "cluster (port $PORT) and data (scale $SCALE)"
INCVIEW_FRESH=1 cluster start
"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >>"$LOG" 2>&1
"${PSQL[@]}" -d "$DB" -c "CREATE EXTENSION pg_incview" -f "$ROOT/examples/vet/schema.sql" >>"$LOG" 2>&1
"${PSQL[@]}" -d "$DB" -v scale="$SCALE" -f "$ROOT/examples/vet/data.sql" >>"$LOG" 2>&1
sql "VACUUM ANALYZE" >/dev/null
NPAT=$(sql "SELECT count(*) FROM patients")
log "  $(sql "SELECT count(*) FROM medications") medications, $NPAT patients"

QUERY=$(sed -n '/\$q\$/,/\$q\$/p' "$ROOT/examples/vet/stage.sql" | sed '1d;$d')
cat > "$OUT/writer.sql" <<SQL
\set p random(1, $NPAT)
INSERT INTO medications (patient_id, product_id, given_at) VALUES (:p, 1, now());
SQL
cat > "$OUT/reader.sql" <<SQL
\set p random(1, $NPAT)
SELECT count(*) FROM medications WHERE patient_id = :p;
SQL

now_us() { date +%s%6N; }
RESULTS=()
# measure <label> <sql...>: the operation in autocommit between two pgbench clients.
measure() {
  local label=$1; shift
  local tag=${label//[^a-zA-Z0-9]/_}
  rm -f "$OUT/$tag".*
  "$PGBIN/pgbench" -n -h /tmp -p "$PORT" -U postgres -c 1 -T 100000 -l --log-prefix="$OUT/$tag.w" \
    -f "$OUT/writer.sql" "$DB" >>"$LOG" 2>&1 &
  local wpid=$!
  "$PGBIN/pgbench" -n -h /tmp -p "$PORT" -U postgres -c 1 -T 100000 -l --log-prefix="$OUT/$tag.r" \
    -f "$OUT/reader.sql" "$DB" >>"$LOG" 2>&1 &
  local rpid=$!
  sleep 2
  local t0 t1
  t0=$(now_us)
  if [[ $# -gt 0 ]]; then "${PSQL[@]}" -d "$DB" -c "SET client_min_messages = warning" "$@" >>"$LOG" 2>&1
  else sleep 3; fi
  t1=$(now_us)
  sleep 2
  # pgbench writes its log as it goes; SIGTERM ends it (background jobs ignore SIGINT). Its
  # last buffered lines may be lost: those of the 2 s after the operation, not the ones measured.
  kill -TERM $wpid $rpid 2>/dev/null || true
  wait $wpid $rpid 2>/dev/null || true
  local w r
  worst() {  # the worst latency (ms) of transactions overlapping [t0, t1]
    cat "$OUT/$tag.$1".* 2>/dev/null | awk -v a="$t0" -v b="$t1" '
      { end = $5 * 1000000 + $6; start = end - $3; if (end >= a && start <= b && $3 > m) m = $3 }
      END { printf "%.1f", m / 1000 }'
  }
  w=$(worst w); r=$(worst r)
  local secs
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1000000 }')
  log "  $label: ${secs} s; worst writer ${w} ms, worst reader ${r} ms"
  RESULTS+=("| $label | $secs | $w | $r |")
}

log "measurements"
measure "baseline (no DDL, 3 s)"
measure "CREATE MATERIALIZED VIEW" -c "CREATE MATERIALIZED VIEW mv AS $QUERY"
sql "CREATE UNIQUE INDEX ON mv (patient_id, product_id)" >/dev/null
measure "REFRESH MATERIALIZED VIEW" -c "REFRESH MATERIALIZED VIEW mv"
measure "REFRESH MATERIALIZED VIEW CONCURRENTLY" -c "REFRESH MATERIALIZED VIEW CONCURRENTLY mv"
sql "DROP MATERIALIZED VIEW mv" >/dev/null
measure "incview.create_stage (first stage on the sources)" \
  -c "SELECT incview.create_stage('due', \$q\$$QUERY\$q\$, ARRAY['patient_id'], ARRAY['patient_id','product_id'])"
measure "incview.alter_stage (rebuild, sources kept)" \
  -c "SELECT incview.alter_stage('due', \$q\$$QUERY\$q\$)"
measure "incview.drop_stage (last stage on the sources)" -c "SELECT incview.drop_stage('due')"
sql "SELECT incview.drop_idle_capture()" >/dev/null
measure "CALL incview.create_stage_concurrently (first stage)" \
  -c "CALL incview.create_stage_concurrently('due', \$q\$$QUERY\$q\$, ARRAY['patient_id'], ARRAY['patient_id','product_id'])"
log "  verify after the concurrent build: $(sql "SELECT incview.refresh('due') >= 0, (SELECT missing + extra FROM incview.verify('due'))")"

{
  echo "## Stage DDL: writer and reader latency on the sources"
  echo
  echo "bench/ddl_latency.sh, scale $SCALE ($(sql "SELECT count(*) FROM medications") medications), $(date -u '+%Y-%m-%d'),"
  echo "$(nproc) cores, load average at the end $(cut -d' ' -f1-3 /proc/loadavg). One pgbench writer (single-row"
  echo "INSERT into \`medications\`) and one reader (a patient's medications by index) run throughout;"
  echo "\"worst\" is the longest transaction of each that overlapped the operation (autocommit)."
  echo
  echo "A writer or reader held by a lock shows the wait as its worst latency; everything else in a row"
  echo "is the machine's noise (compare with the baseline and the native rows, measured in the same run)."
  echo "The first \`create_stage\` on a table holds writers for its whole build (its \`CREATE TRIGGER\` lock; the"
  echo "transactional variant for migrations), \`create_stage_concurrently\` only for its first, brief"
  echo "transaction, which waits for the open writers; \`alter_stage\` on the same sources and \`drop_stage\`"
  echo "hold neither."
  echo
  echo "| operation | duration (s) | worst writer (ms) | worst reader (ms) |"
  echo "|---|---|---|---|"
  printf '%s\n' "${RESULTS[@]}"
} > "$HERE/ddl_latency.md"
log "wrote bench/ddl_latency.md"
