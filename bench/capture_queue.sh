#!/usr/bin/env bash
# Is the key queue bounded under a sustained write load, and how fresh are the stages?
# (issue 18: capture once per source). Runs the same load against two builds, one after the
# other (QUEUE_ORDER, default "before after"), each on its own fresh cluster:
#   source src(id, k, v), 100k rows, 1,000 values of k; QUEUE_STAGES continuous stages
#   SELECT k, sum(v), count(*) FROM src GROUP BY k (scope k); scheduler running (naptime 200ms);
#   pgbench single-row INSERTs at QUEUE_RATE/s (2 clients) for QUEUE_SECONDS s;
#   a probe inserts one row with a new key (k = 100000 + i) every second and notes its commit
#   time; a watcher (every 0.5 s) notes when the probe's key is visible in ALL stages' tables
#   (commit -> visible lag; probes commit in order, so "visible up to i" is a prefix).
# Every 10 s: uncollected change records (incview.source_change, "after" only), incview.dirty_scope
# rows, max(lag) of incview.stages. After the load: seconds until nothing is queued (max QUEUE_DRAIN s).
# Raw output in bench/out/capture_queue/; summary printed (the caller writes it into the .md).
#
#   AFTER_PGBIN=/opt/pgA/usr/lib/postgresql/15/bin BEFORE_PGBIN=/opt/pgA2/usr/lib/postgresql/15/bin \
#     BENCH_PGPORT=54411 bench/capture_queue.sh
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
AFTER_PGBIN=${AFTER_PGBIN:?AFTER_PGBIN}
BEFORE_PGBIN=${BEFORE_PGBIN:?BEFORE_PGBIN}
PORT=${BENCH_PGPORT:-54411}
DATA=${BENCH_PGDATA:-/tmp/pg_incview_queue}
N=${QUEUE_STAGES:-50}
RATE=${QUEUE_RATE:-300}
SECS=${QUEUE_SECONDS:-180}
DRAIN=${QUEUE_DRAIN:-180}
ORDER=${QUEUE_ORDER:-"before after"}
OUT=${BENCH_OUT:-$HERE/out/capture_queue}
mkdir -p "$OUT"
bin_of() { if [[ $1 == after ]]; then echo "$AFTER_PGBIN"; else echo "$BEFORE_PGBIN"; fi; }
cluster() {  # lib, action
  INCVIEW_PGPORT=$PORT INCVIEW_PGDATA="${DATA}_$1" INCVIEW_FAST=0 PGBIN=$(bin_of "$1") \
    INCVIEW_PGCONF_EXTRA="shared_buffers = 256MB
max_wal_size = 4GB
checkpoint_timeout = 30min
incview.naptime = '200ms'" bash "$ROOT/scripts/cluster.sh" "$2" >/dev/null
}
CUR=""
KIDS=""
cleanup() {
  for p in $KIDS; do kill "$p" 2>/dev/null || true; done
  [[ -n $CUR ]] && { cluster "$CUR" stop || true; rm -rf "${DATA}_$CUR"; }
}
trap cleanup EXIT
q() { "$AFTER_PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h /tmp -p "$PORT" -U postgres -d queue "$@"; }
printf '\\set k random(1, 1000)\nINSERT INTO src (k, v) VALUES (:k, 1);\n' >"$OUT/insert.sql"

for lib in $ORDER; do
  CUR=$lib
  INCVIEW_FRESH=1 cluster "$lib" start
  "$AFTER_PGBIN/psql" -X -q -h /tmp -p "$PORT" -U postgres -d postgres -c "CREATE DATABASE queue"
  q <<SQL
SET client_min_messages = warning;
CREATE EXTENSION pg_incview;
CREATE TABLE src (id bigserial PRIMARY KEY, k int NOT NULL, v int NOT NULL);
INSERT INTO src (k, v) SELECT 1 + g % 1000, g FROM generate_series(1, 100000) g;
CREATE INDEX ON src (k);
VACUUM ANALYZE src;
CREATE TABLE probe (i int PRIMARY KEY, committed timestamptz NOT NULL, seen timestamptz);
SET incview.default_policy = continuous;
SELECT count(incview.create_stage('s' || i, 'SELECT k, sum(v) AS total, count(*) AS n FROM src GROUP BY k',
                                  ARRAY['k'])) FROM generate_series(1, $N) i;
-- the highest probe visible in every stage's table
CREATE FUNCTION probe_visible() RETURNS int LANGUAGE plpgsql AS \$\$
DECLARE t regclass; m int; lo int := NULL;
BEGIN
  FOR t IN SELECT target FROM incview.stage LOOP
    EXECUTE format('SELECT max(k) FROM %s WHERE k > 100000', t) INTO m;
    lo := least(coalesce(lo, m), coalesce(m, 100000));
  END LOOP;
  RETURN lo - 100000;
END \$\$;
SQL
  q -c "SELECT incview.refresh_all()" >/dev/null 2>&1 || q -c "CALL incview.refresh_all()" >/dev/null
  sleep 5
  has_records=$(q -c "SELECT to_regclass('incview.source_change') IS NOT NULL")
  echo "$(date -u +%H:%M:%S) $lib: setup done, load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/run.log"
  "$AFTER_PGBIN/pgbench" -n -h /tmp -p "$PORT" -U postgres -c 2 -j 2 -R "$RATE" -T "$SECS" \
    -f "$OUT/insert.sql" queue >"$OUT/pgbench_$lib.log" 2>&1 &
  pgb=$!
  (for ((i = 1; i <= SECS; i++)); do
     q -c "INSERT INTO src (k, v) VALUES (100000 + $i, 1)" -c "INSERT INTO probe VALUES ($i, clock_timestamp())"
     sleep 1
   done) &
  prb=$!
  (while :; do
     q -c "UPDATE probe SET seen = clock_timestamp() WHERE seen IS NULL AND i <= probe_visible()" 2>/dev/null || true
     sleep 0.5
   done) &
  wat=$!
  KIDS="$pgb $prb $wat"
  : >"$OUT/samples_$lib.txt"
  sample() {
    local rec="NULL" size="0"
    if [[ $has_records == t ]]; then
      rec="(SELECT count(*) FROM incview.source_change)"
      size="pg_total_relation_size('incview.source_change')"
    fi
    q -F ' ' -c "SELECT $1, $rec, (SELECT count(*) FROM incview.dirty_scope),
                 extract(epoch FROM (SELECT max(lag) FROM incview.stages))::numeric(10,1),
                 pg_total_relation_size('incview.dirty_scope') + $size" >>"$OUT/samples_$lib.txt" || true
  }
  for ((t = 10; t <= SECS; t += 10)); do sleep 10; sample "$t"; done
  wait "$pgb" || true
  wait "$prb" || true
  t0=$(date +%s)
  queued="SELECT EXISTS (SELECT 1 FROM incview.dirty_scope)"
  [[ $has_records == t ]] && queued="SELECT EXISTS (SELECT 1 FROM incview.queued_keys)"
  drained=$DRAIN
  for ((w = 0; w < DRAIN; w++)); do
    if [[ $(q -c "$queued") == f && $(q -c "SELECT count(*) FROM probe WHERE seen IS NULL") == 0 ]]; then
      drained=$(($(date +%s) - t0)); break
    fi
    ((w % 10 == 0)) && sample "$((SECS + w))"
    sleep 1
  done
  sleep 1
  kill "$wat" 2>/dev/null || true
  wait "$wat" 2>/dev/null || true
  tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$OUT/pgbench_$lib.log" | head -1)
  verify=$(q -c "SELECT count(*) FILTER (WHERE v.missing + v.extra > 0) FROM incview.stage s, incview.verify(s.name) v")
  q -F ' ' -c "SELECT '$lib', count(*), count(seen),
      percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM seen - committed))::numeric(10,2),
      percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM seen - committed))::numeric(10,2),
      max(extract(epoch FROM seen - committed))::numeric(10,2) FROM probe" >"$OUT/lag_$lib.txt"
  q -c "COPY probe TO STDOUT" >"$OUT/probe_$lib.tsv"
  {
    echo "== $lib: pgbench $RATE/s x $SECS s, achieved $tps TPS; drained ${drained} s after the load ($DRAIN = not drained); stages failing verify: $verify; load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "probes: lib count seen p50 p95 max (s)"
    cat "$OUT/lag_$lib.txt"
    echo "samples: t records dirty_scope_rows max_lag_s bytes"
    cat "$OUT/samples_$lib.txt"
  } | tee -a "$OUT/run.log"
  cluster "$lib" stop
  rm -rf "${DATA}_$lib"
  CUR=""
done
