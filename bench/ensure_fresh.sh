#!/usr/bin/env bash
# What incview.ensure_fresh costs when the asked scopes are clean (issue 16, item 5: cheap
# enough to call before every read of one scope), beside a plain indexed read of the stage,
# in the same run: pgbench, one client, alternating rounds.
#
#   bench/ensure_fresh.sh [rounds]        # default 3 rounds of 3 x 8 s
#
# - read:        SELECT ... FROM the stage WHERE patient = :p        (the read itself)
# - fast:        ensure_fresh(stage, '[:p]')    (one int scope column, keys as integers:
#                answered from the queue as jsonb, no stage load, no role switch)
# - full path:   ensure_fresh(stage, '[{"patient": :p}]')  (an object key takes the general
#                path: load the stage, parse the keys as its owner, look them up)
# Writes bench/ensure_fresh.md (bench/results.sh includes it); logs in bench/out/ensure_fresh/.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
ROUNDS=${1:-3}
SECS=${BENCH_PGBENCH_SECONDS:-8}
PGBIN=${PGBIN:-$("${PG_CONFIG:-/usr/bin/pg_config}" --bindir)}
PORT=${BENCH_PGPORT:-54338}
DATADIR=${BENCH_PGDATA:-/tmp/pg_incview_ensurefresh}
DB=ensurefresh
OUT=$HERE/out/ensure_fresh
mkdir -p "$OUT"
LOG=$OUT/run.log
: > "$LOG"
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" | tee -a "$LOG"; }
PSQL=("$PGBIN/psql" -X -q -h /tmp -p "$PORT" -U postgres -v ON_ERROR_STOP=1)
cluster() {
  INCVIEW_PGPORT=$PORT INCVIEW_PGDATA=$DATADIR INCVIEW_FAST=0 INCVIEW_PGCONF_EXTRA="shared_buffers = '256MB'" \
    bash "$ROOT/scripts/cluster.sh" "$@" >>"$LOG" 2>&1
}
trap 'cluster stop || true' EXIT
INCVIEW_FRESH=1 cluster start
"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >>"$LOG" 2>&1
"${PSQL[@]}" -d "$DB" >>"$LOG" 2>&1 <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION pg_incview;
CREATE TABLE visits (id bigserial PRIMARY KEY, patient int NOT NULL, minutes int NOT NULL);
INSERT INTO visits (patient, minutes) SELECT g % 10000, g % 97 FROM generate_series(1, 200000) g;
SELECT incview.create_stage('per_patient', 'SELECT patient, count(*) AS n, sum(minutes) AS total FROM visits GROUP BY patient',
                            ARRAY['patient'], ARRAY['patient']);
SELECT incview.set_policy('per_patient', 'manual');
-- Another patient stays dirty throughout: the queue is not empty, as on a busy system.
INSERT INTO visits (patient, minutes) VALUES (123456, 1);
VACUUM ANALYZE;
SQL
printf '\\set p random(0, 9999)\nSELECT n, total FROM per_patient WHERE patient = :p;\n' > "$OUT/read.sql"
printf "\\\\set p random(0, 9999)\nSELECT incview.ensure_fresh('per_patient', ('[' || :p || ']')::jsonb);\n" > "$OUT/fast.sql"
printf "\\\\set p random(0, 9999)\nSELECT incview.ensure_fresh('per_patient', ('[{\"patient\": ' || :p || '}]')::jsonb);\n" > "$OUT/full.sql"
declare -A SUM
for r in $(seq 1 "$ROUNDS"); do
  for kind in read fast full; do
    lat=$("$PGBIN/pgbench" -n -h /tmp -p "$PORT" -U postgres -c 1 -T "$SECS" -f "$OUT/$kind.sql" "$DB" 2>>"$LOG" |
          awk '/latency average/ { print $4 }')
    log "round $r $kind: $lat ms"
    SUM[$kind]="${SUM[$kind]:-} $lat"
  done
done
med() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
read_ms=$(med "${SUM[read]}"); fast_ms=$(med "${SUM[fast]}"); full_ms=$(med "${SUM[full]}")
{
  echo "## Read-your-writes: ensure_fresh on a clean scope (bench/ensure_fresh.sh)"
  echo
  echo "$(date -u '+%Y-%m-%d'), $(nproc) cores, load average at the end $(cut -d' ' -f1-3 /proc/loadavg); one pgbench client,"
  echo "$ROUNDS rounds x ${SECS} s per kind, medians of the rounds' average latency (includes the client round trip)."
  echo "A stage of 10,000 patients; another patient's key stays queued (the queue is not empty)."
  echo
  echo "| call | latency (ms) | vs the read |"
  echo "|---|---|---|"
  echo "| the read: \`SELECT n, total FROM per_patient WHERE patient = \$1\` | $read_ms | 1.00 |"
  echo "| \`ensure_fresh('per_patient', '[\$1]')\` (clean, integer keys: at a glance) | $fast_ms | $(awk -v a="$fast_ms" -v b="$read_ms" 'BEGIN { printf "%.2f", a / b }') |"
  echo "| \`ensure_fresh('per_patient', '[{\"patient\": \$1}]')\` (clean, object keys: the full path) | $full_ms | $(awk -v a="$full_ms" -v b="$read_ms" 'BEGIN { printf "%.2f", a / b }') |"
} > "$HERE/ensure_fresh.md"
log "wrote bench/ensure_fresh.md"
