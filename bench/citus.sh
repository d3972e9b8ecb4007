#!/usr/bin/env bash
# pg_incview on Citus beside single-node PostgreSQL, on the same data, in the same run
# (docs/citus.md). One machine runs the coordinator and both workers, so this shows where
# the work runs and what capture costs, not a speed-up.
#
#   bench/citus.sh [PATIENTS]      # default 4000 patients x 25 visits
#
# Starts a fresh Citus cluster (scripts/citus.sh start: CITUS_PORTS, CITUS_PGDATA, PG_CONFIG).
# In its coordinator's database: visit_local (a plain table on the coordinator) and
# visit_dist (distributed by patient_id), the same rows; one stage over each. Measures
#   1. refresh of k dirty patients (k = 1, 100, 1000; median of 3): incview.refresh, which on
#      Citus includes collecting the keys from the shards;
#   2. the write path: pgbench single-row INSERT transactions into each table without and
#      with its stage's capture (TPS; the ratio is what capture costs);
#   3. where the refresh work runs: the refresh statement's EXPLAIN on Citus.
# Writes the report to stdout (and BENCH_OUT, default build/bench-citus.md).
set -euo pipefail
cd "$(dirname "$0")/.."
PATIENTS=${1:-4000}
OUT=${BENCH_OUT:-build/bench-citus.md}
export PG_CONFIG=${PG_CONFIG:-/usr/bin/pg_config}
PGBIN=$("$PG_CONFIG" --bindir)
read -r -a PORTS <<<"${CITUS_PORTS:-54351 54352 54353}"
DB=${CITUS_DB:-incview_citus}
psqlc() { "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h /tmp -p "${PORTS[0]}" -U postgres -d "$DB" "$@"; }

mkdir -p build
bash scripts/citus.sh start >/dev/null
trap 'bash scripts/citus.sh stop >/dev/null 2>&1 || true' EXIT

psqlc >/dev/null <<SQL
CREATE EXTENSION pg_incview;
CREATE TABLE visit_local (id bigserial, patient_id int NOT NULL, cost numeric NOT NULL, kind int NOT NULL,
                          PRIMARY KEY (patient_id, id));
INSERT INTO visit_local (patient_id, cost, kind)
  SELECT g % $PATIENTS, (g % 97) + 0.5, g % 7 FROM generate_series(1, $PATIENTS * 25) g;
CREATE TABLE visit_dist (LIKE visit_local INCLUDING ALL);
SELECT create_distributed_table('visit_dist', 'patient_id');
INSERT INTO visit_dist SELECT * FROM visit_local;
ANALYZE visit_local; ANALYZE visit_dist;
SQL

tps() {  # tps <table>: single-row INSERT transactions per second
  printf '\\set p random(0, %d)\nINSERT INTO %s (patient_id, cost, kind) VALUES (:p, 1, 1);\n' \
    "$((PATIENTS - 1))" "$1" > "build/bench-citus-$1.sql"
  "$PGBIN/pgbench" -n -h /tmp -p "${PORTS[0]}" -U postgres -c 1 -t 2000 -f "build/bench-citus-$1.sql" "$DB" 2>/dev/null |
    sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -n1
}
# Write path without capture first, before any stage exists.
off_local=$(tps visit_local)
off_dist=$(tps visit_dist)

psqlc >/dev/null <<SQL
SELECT incview.create_stage('s_local', 'SELECT patient_id, count(*) AS n, sum(cost) AS total, count(DISTINCT kind) AS kinds FROM visit_local GROUP BY patient_id', ARRAY['patient_id']);
SELECT incview.create_stage('s_dist', 'SELECT patient_id, count(*) AS n, sum(cost) AS total, count(DISTINCT kind) AS kinds FROM visit_dist GROUP BY patient_id', ARRAY['patient_id']);
SELECT incview.set_policy('s_local', 'manual');
SELECT incview.set_policy('s_dist', 'manual');
SQL

median3() { printf '%s\n' "$@" | sort -n | sed -n 2p; }

{
echo "# pg_incview on Citus vs single node ($(date -u +%Y-%m-%d), $PATIENTS patients x 25 visits)"
echo
echo "One machine ($(nproc) cores): coordinator + 2 workers of Citus 13.2 (4 shards per table)"
echo "beside a plain table on the coordinator. Same rows, same stage query. Load average at the"
echo "start: $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared: compare within a run, not across runs)."
echo
echo "## Refresh of k dirty patients (median of 3, ms)"
echo
echo "| k | single node | Citus | Citus / single node |"
echo "|---|---|---|---|"
# One session for all of them (a new backend first loads Citus' metadata cache, which
# would be measured too); each refresh's time is the "Time:" line after its marker.
script=build/bench-citus-refresh.sql
{
  echo "SELECT incview.refresh('s_local'); SELECT incview.refresh('s_dist');"   # warm-up
  echo '\timing on'
  for k in 1 100 1000; do
    for r in 1 2 3; do
      ids="SELECT (g * 7919 + $r) % $PATIENTS FROM generate_series(1, $k) g"
      echo "UPDATE visit_local SET cost = cost + 1 WHERE patient_id IN ($ids);"
      echo "UPDATE visit_dist SET cost = cost + 1 WHERE patient_id IN (SELECT * FROM ($ids) x);"
      echo "\\echo local $k"
      echo "SELECT incview.refresh('s_local');"
      echo "\\echo dist $k"
      echo "SELECT incview.refresh('s_dist');"
    done
  done
} > "$script"
timings=$(psqlc -f "$script" | awk '/^(local|dist) [0-9]+$/ { m = $0; next } /^Time: / && m != "" { print m, $2; m = "" }')
for k in 1 100 1000; do
  l=$(median3 $(awk -v k="$k" '$1 == "local" && $2 == k { print $3 }' <<<"$timings"))
  d=$(median3 $(awk -v k="$k" '$1 == "dist" && $2 == k { print $3 }' <<<"$timings"))
  echo "| $k | $l | $d | $(awk -v a="$d" -v b="$l" 'BEGIN { printf "%.1fx", a / b }') |"
done
check=$(psqlc -c "SELECT (SELECT missing + extra FROM incview.verify('s_local')) + (SELECT missing + extra FROM incview.verify('s_dist'))")
echo
echo "Both stages equal to their queries afterwards (verify): $([[ $check == 0 ]] && echo yes || echo "NO ($check rows differ)")"

echo
echo "## Write path: single-row INSERT transactions (pgbench, 1 client, 2000 transactions, TPS)"
echo
echo "Without capture: measured before the stages existed; with capture: after."
echo
echo "| table | without capture | with capture | with / without |"
echo "|---|---|---|---|"
on_local=$(tps visit_local)
on_dist=$(tps visit_dist)
echo "| visit_local | $off_local | $on_local | $(awk -v a="$on_local" -v b="$off_local" 'BEGIN { printf "%.0f%%", 100 * a / b }') |"
echo "| visit_dist | $off_dist | $on_dist | $(awk -v a="$on_dist" -v b="$off_dist" 'BEGIN { printf "%.0f%%", 100 * a / b }') |"
psqlc -c "SELECT incview.refresh('s_local')" -c "SELECT incview.refresh('s_dist')" >/dev/null
check=$(psqlc -c "SELECT (SELECT missing + extra FROM incview.verify('s_local')) + (SELECT missing + extra FROM incview.verify('s_dist'))")
echo
echo "After the writes and one refresh, both stages equal to their queries: $([[ $check == 0 ]] && echo yes || echo "NO ($check rows differ)")"

echo
echo "## Where a scoped refresh runs on Citus"
echo
echo '```'
psqlc -c "EXPLAIN (COSTS OFF) INSERT INTO s_dist SELECT * FROM (SELECT patient_id, count(*) AS n, sum(cost) AS total, count(DISTINCT kind) AS kinds FROM visit_dist GROUP BY patient_id) s WHERE s.patient_id = ANY('{1,2,3,4,5,6,7,8}')"
echo '```'
} | tee "$OUT"
