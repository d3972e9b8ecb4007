#!/usr/bin/env bash
# What the security model costs (docs/security.md): this tree's library against an earlier
# commit's (default 232d651, the last one before stage SQL ran as its owner, restricted),
# on one cluster, in alternating rounds (the .so is swapped and the server restarted, so
# both see the same data, the same cache state and the same machine noise).
#
#   bench/security_cost.sh [baseline-commit] [rounds]      # ~7 minutes with 5 rounds
#
# Measures, per library: single-row INSERT TPS on a source with a "same" mapping (keys
# derived as the extension owner: the built-in type path) and on one with a lookup mapping
# (the mapping runs as the stage owner, restricted, in the writer's transaction); the
# latency of INSERT one row + incview.refresh (k = 1, where fixed per-call costs show); and
# incview.refresh of 1,000 dirty scopes (median of 5). Writes bench/security_cost.md
# (bench/results.sh includes it in RESULTS.md). Logs in bench/out/security_cost/.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
BASE=${1:-232d651}
ROUNDS=${2:-5}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PORT=${BENCH_PGPORT:-54336}
DATADIR=${BENCH_PGDATA:-/tmp/pg_incview_seccost}
SECONDS_PER_RUN=${BENCH_PGBENCH_SECONDS:-8}
DB=seccost
OUT=$HERE/out/security_cost
LIBDIR=$(pg_config --pkglibdir)
mkdir -p "$OUT"
LOG=$OUT/run.log
: > "$LOG"
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" | tee -a "$LOG"; }

PSQL=("$PGBIN/psql" -X -q -h /tmp -p "$PORT" -U postgres -v ON_ERROR_STOP=1)
sql() { "${PSQL[@]}" -d "$DB" -At -c "$1" 2>>"$LOG"; }
cluster() {
  INCVIEW_PGPORT=$PORT INCVIEW_PGDATA=$DATADIR INCVIEW_FAST=0 \
    INCVIEW_PGCONF_EXTRA="shared_buffers = '512MB'
synchronous_commit = off
incview.enabled = off" bash "$ROOT/scripts/cluster.sh" "$@" >>"$LOG" 2>&1
}

WORK=$(mktemp -d)
cleanup() {
  cluster stop || true
  git -C "$ROOT" worktree remove --force "$WORK/base" >/dev/null 2>&1 || true
  rm -rf "$WORK"
  # Leave this tree's library installed.
  [[ -f "$ROOT/pg_incview.so" ]] && cp "$ROOT/pg_incview.so" "$LIBDIR/pg_incview.so" || true
}
trap cleanup EXIT

log "building $BASE and this tree"
git -C "$ROOT" worktree add --detach "$WORK/base" "$BASE" >>"$LOG" 2>&1
make -C "$WORK/base" -j2 pg_incview.so >>"$LOG" 2>&1
cp "$WORK/base/pg_incview.so" "$WORK/base.so"
make -C "$ROOT" -j2 >>"$LOG" 2>&1
make -C "$ROOT" install >>"$LOG" 2>&1   # this tree's SQL scripts (both libraries serve them)
cp "$ROOT/pg_incview.so" "$WORK/new.so"

use() {  # use base|new: install that library and restart the server
  cluster stop || true
  cp "$WORK/$1.so" "$LIBDIR/pg_incview.so"
  cluster start
}

cluster stop || true
rm -rf "$DATADIR"
use new
"${PSQL[@]}" -d postgres -c "CREATE DATABASE $DB" >>"$LOG" 2>&1
"${PSQL[@]}" -d "$DB" >>"$LOG" 2>&1 <<'SQL'
CREATE EXTENSION pg_incview;
SET incview.default_policy = manual;
CREATE TABLE events (id bigserial PRIMARY KEY, patient_id int NOT NULL, amount int NOT NULL);
INSERT INTO events (patient_id, amount) SELECT p % 20000, p % 97 FROM generate_series(1, 400000) p;
CREATE INDEX ON events (patient_id);
CREATE TABLE patients (id int PRIMARY KEY, clinic_id int NOT NULL);
INSERT INTO patients SELECT p, p % 200 FROM generate_series(0, 19999) p;
CREATE TABLE visits (id bigserial PRIMARY KEY, patient_id int NOT NULL, minutes int NOT NULL);
INSERT INTO visits (patient_id, minutes) SELECT p % 20000, p % 60 FROM generate_series(1, 200000) p;
CREATE INDEX ON visits (patient_id);
ANALYZE;
SELECT incview.create_stage('totals',
  'SELECT patient_id, count(*) AS n, sum(amount) AS total FROM events GROUP BY patient_id',
  ARRAY['patient_id'], ARRAY['patient_id']);
SELECT incview.create_stage('clinic_minutes',
  'SELECT p.clinic_id, sum(v.minutes) AS minutes FROM visits v JOIN patients p ON p.id = v.patient_id GROUP BY p.clinic_id',
  ARRAY['clinic_id']);
SELECT incview.map_source('clinic_minutes', 'visits', 'SELECT p.clinic_id FROM patients p WHERE p.id = changed.patient_id');
SQL

cat > "$OUT/ins_same.sql" <<'EOF'
\set p random(0, 19999)
INSERT INTO events (patient_id, amount) VALUES (:p, 1);
EOF
cat > "$OUT/ins_lookup.sql" <<'EOF'
\set p random(0, 19999)
INSERT INTO visits (patient_id, minutes) VALUES (:p, 1);
EOF
cat > "$OUT/refresh_k1.sql" <<'EOF'
\set p random(0, 19999)
INSERT INTO events (patient_id, amount) VALUES (:p, 1);
SELECT incview.refresh('totals');
EOF

# Back to the same state before every measurement: nothing queued, no dead queue entries.
drain() {
  sql "SELECT incview.refresh('totals'), incview.refresh('clinic_minutes')" >/dev/null
  sql "VACUUM ANALYZE incview.dirty_scope, events, visits" >/dev/null
}
pgb() {  # pgb script clients -> "tps latency_ms"
  "$PGBIN/pgbench" -n -h /tmp -p "$PORT" -U postgres -c "$2" -j "$2" -T "$SECONDS_PER_RUN" -f "$OUT/$1" "$DB" \
    2>>"$LOG" | tee -a "$LOG" | awk '/latency average/ { lat = $4 } /^tps/ { tps = $3 } END { print tps, lat }'
}
refresh_1000() {  # median of 5: ms for incview.refresh of 1,000 dirty patients
  local i t times=()
  for i in 1 2 3 4 5; do
    sql "INSERT INTO events (patient_id, amount) SELECT (g * 13 + $i) % 20000, 1 FROM generate_series(1, 1000) g" >/dev/null
    t=$("${PSQL[@]}" -d "$DB" -At -c '\timing on' -c "SELECT incview.refresh('totals')" 2>>"$LOG" |
        awk '/^Time:/ { print $2 }')
    times+=("$t")
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n 3p
}

declare -A R
for round in $(seq 1 "$ROUNDS"); do
  # The data grows a little with every run: alternate which library goes first.
  order="base new"; (( round % 2 == 0 )) && order="new base"
  for lib in $order; do
    use "$lib"
    drain
    log "round $round, $lib"
    R[$lib,same,$round]=$(pgb ins_same.sql 2 | cut -d' ' -f1); drain
    R[$lib,lookup,$round]=$(pgb ins_lookup.sql 2 | cut -d' ' -f1); drain
    R[$lib,k1,$round]=$(pgb refresh_k1.sql 1 | cut -d' ' -f2); drain
    R[$lib,k1000,$round]=$(refresh_1000)
    log "  same ${R[$lib,same,$round]} tps, lookup ${R[$lib,lookup,$round]} tps, k=1 ${R[$lib,k1,$round]} ms, k=1000 ${R[$lib,k1000,$round]} ms"
  done
done
fresh=$(sql "SELECT (SELECT missing + extra FROM incview.verify('totals')) + (SELECT missing + extra FROM incview.verify('clinic_minutes'))")

median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
row() {  # row label key unit: medians, and the median of the per-round ratios (this tree / base)
  local b=() n=() q=() r
  for r in $(seq 1 "$ROUNDS"); do
    b+=("${R[base,$2,$r]}"); n+=("${R[new,$2,$r]}")
    q+=("$(awk -v a="${R[new,$2,$r]}" -v b="${R[base,$2,$r]}" 'BEGIN { printf "%.3f", a / b }')")
  done
  printf '| %s | %.1f %s | %.1f %s | %.3f |\n' "$1" "$(median "${b[@]}")" "$3" "$(median "${n[@]}")" "$3" "$(median "${q[@]}")"
}
{
  echo "## Cost of the security model (bench/security_cost.sh)"
  echo
  echo "$(date -u '+%Y-%m-%d') on $(nproc) cores: this tree against $BASE (before stage SQL ran as its owner),"
  echo "$ROUNDS rounds on one cluster (which library goes first alternates), medians; ratio = median of the"
  echo "per-round ratios (this tree / base: above 1 is more TPS or more time). pgbench ${SECONDS_PER_RUN} s per run,"
  echo "synchronous_commit = off (the role switches cost CPU; fsync waits would only add noise)."
  echo "20,000 patients, 400k events (\"same\" mapping, int scope), 200k visits mapped to 200 clinics by a lookup."
  echo
  echo "| measurement | $BASE | this tree | ratio (this tree / base) |"
  echo "|---|---|---|---|"
  row "single-row INSERT, same mapping (2 clients)" same tps higher
  row "single-row INSERT, lookup mapping run as the owner (2 clients)" lookup tps higher
  row "INSERT + incview.refresh, k = 1 (latency)" k1 ms lower
  row "incview.refresh of 1,000 dirty scopes" k1000 ms lower
  echo
  echo "Per round (base / this tree):"
  echo
  for r in $(seq 1 "$ROUNDS"); do
    echo "- round $r: same ${R[base,same,$r]} / ${R[new,same,$r]} tps; lookup ${R[base,lookup,$r]} / ${R[new,lookup,$r]} tps; k=1 ${R[base,k1,$r]} / ${R[new,k1,$r]} ms; k=1000 ${R[base,k1000,$r]} / ${R[new,k1000,$r]} ms"
  done
  echo
  echo "Both stages equal to their queries at the end (verify missing + extra = $fresh)."
} > "$HERE/security_cost.md"
cat "$HERE/security_cost.md"
[[ "$fresh" == 0 ]] || { log "verify found differences: $fresh"; exit 1; }
