#!/usr/bin/env bash
# Engine delta (issue 13): refresh after a small change, delta vs replace vs REFRESH
# MATERIALIZED VIEW vs the algebraic floor (a hand-written UPDATE of the changed groups),
# the crossover against replace by rows per scope, and what capture costs writers (delta
# vs key capture). Prints every median; bench/delta.md holds a run's results.
#
#   bench/delta.sh [rows] [rounds]     # defaults: 1,000,000 rows, 7 rounds
#   PGBENCH_SECONDS (10) and PGBENCH_ROUNDS (5): the writer-cost pgbench runs
#
# Its own throwaway cluster (scripts/cluster.sh, fsync on, synchronous_commit off, the
# scheduler off: every refresh is the one timed here), port BENCH_PGPORT (54442), data
# BENCH_PGDATA (/tmp/pg_incview_delta_bench). Times are psql's \timing of one statement
# (client round trip included, the same for every method); medians of `rounds`.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
ROWS=${1:-1000000}
ROUNDS=${2:-7}
PGBIN=${PGBIN:-$("${PG_CONFIG:-/usr/bin/pg_config}" --bindir)}
PORT=${BENCH_PGPORT:-54442}
DATADIR=${BENCH_PGDATA:-/tmp/pg_incview_delta_bench}
PGBENCH_SECONDS=${PGBENCH_SECONDS:-10}
PGBENCH_ROUNDS=${PGBENCH_ROUNDS:-5}
cluster() {
  INCVIEW_PGPORT=$PORT INCVIEW_PGDATA=$DATADIR INCVIEW_FAST=0 PGBIN=$PGBIN \
    INCVIEW_PGCONF_EXTRA="synchronous_commit = off
incview.enabled = off
max_wal_size = 4GB" bash "$ROOT/scripts/cluster.sh" "$@" >/dev/null
}
trap 'cluster stop || true; rm -rf "$DATADIR"' EXIT
INCVIEW_FRESH=1 cluster start
psql() { "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h /tmp -p "$PORT" -U postgres -d delta "$@"; }
"$PGBIN/psql" -X -q -h /tmp -p "$PORT" -U postgres -d postgres -c "CREATE DATABASE delta"

# ms <sql...>: the time of the last statement, in ms (psql \timing).
ms() {
  local args=(-c '\timing on') s
  for s in "$@"; do args+=(-c "$s"); done
  psql "${args[@]}" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -n1
}
timed_session() {  # timed_session <script> -> lines "name ms"
  psql -c '\timing on' -f "$1" | awk '/^@/ { cur = substr($0, 2); next }
    /^Time: / { if (cur != "" && cur != "-") print cur, $2; cur = ""; next }'
}
median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "-"; else if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

echo "# bench/delta.sh: $ROWS rows, $ROUNDS rounds, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
t0=$SECONDS
psql <<SQL
SET client_min_messages = warning;
CREATE EXTENSION pg_incview;
CREATE TABLE events (id bigserial PRIMARY KEY, tag text NOT NULL, v int NOT NULL);
INSERT INTO events (tag, v) SELECT 'tag' || (i % 10), i % 1000 FROM generate_series(1, $ROWS) i;
CREATE INDEX ON events (tag);
VACUUM ANALYZE events;
SELECT incview.create_stage('by_tag_delta', 'SELECT tag, count(*) AS n, sum(v) AS s FROM events GROUP BY tag',
                            ARRAY['tag'], engine => 'delta');
SELECT incview.create_stage('by_tag_replace', 'SELECT tag, count(*) AS n, sum(v) AS s FROM events GROUP BY tag',
                            ARRAY['tag'], engine => 'replace');
SELECT incview.set_policy(s, 'manual') FROM unnest(ARRAY['by_tag_delta', 'by_tag_replace']) s;
CREATE MATERIALIZED VIEW by_tag_mv AS SELECT tag, count(*) AS n, sum(v) AS s FROM events GROUP BY tag;
-- the algebraic floor: the same table, updated by hand with exactly the change
CREATE TABLE by_tag_floor AS SELECT tag, count(*) AS n, sum(v) AS s FROM events GROUP BY tag;
CREATE UNIQUE INDEX ON by_tag_floor (tag);
CREATE TABLE batch (tag text, v int);
SQL
echo "setup: $((SECONDS - t0)) s"

# ---------------------------------------------------------------- one row, 1,000 rows
# One warm session per kind (a refresh in a new connection would also time the backend's
# first use of the catalog): "\echo @name" before each timed statement, "@-" untimed.
work=$(mktemp -d)
for kind in one thousand; do
  script="$work/$kind.sql"
  : >"$script"
  for r in $(seq 1 "$ROUNDS"); do
    if [[ $kind == one ]]; then
      echo "\\echo @-
INSERT INTO events (tag, v) VALUES ('tag3', $r);
\\echo @floor
UPDATE by_tag_floor SET n = n + 1, s = s + $r WHERE tag = 'tag3';" >>"$script"
    else
      echo "\\echo @-
TRUNCATE batch;
\\echo @-
INSERT INTO batch SELECT 'tag' || (i % 10), i + $r FROM generate_series(1, 1000) i;
\\echo @-
INSERT INTO events (tag, v) SELECT tag, v FROM batch;
\\echo @floor
UPDATE by_tag_floor f SET n = f.n + d.n, s = f.s + d.s FROM (SELECT tag, count(*) AS n, sum(v) AS s FROM batch GROUP BY tag) d WHERE f.tag = d.tag;" >>"$script"
    fi
    echo "\\echo @delta
SELECT incview.refresh('by_tag_delta');
\\echo @replace
SELECT incview.refresh('by_tag_replace');
\\echo @mv
REFRESH MATERIALIZED VIEW by_tag_mv;" >>"$script"
  done
  timed_session "$script" >"$work/$kind.out"
  floor=$(awk '$1 == "floor" { print $2 }' "$work/$kind.out" | median)
  echo
  echo "change: $kind row(s); median ms over $ROUNDS rounds (x floor)"
  for m in floor delta replace mv; do
    all=$(awk -v m=$m '$1 == m { printf "%s ", $2 }' "$work/$kind.out")
    v=$(tr ' ' '\n' <<<"$all" | grep . | median)
    echo "  $m: $v ($(ratio "$v" "$floor")x)   [all: $all]"
  done
done
rm -rf "$work"
check=$(psql -c "SELECT (SELECT row(missing, extra)::text FROM incview.verify('by_tag_delta')) || ' ' ||
                        (SELECT count(*) FROM (SELECT tag, n, s FROM by_tag_delta EXCEPT SELECT * FROM by_tag_mv) x)")
echo "check: verify(by_tag_delta) and rows differing from the view: $check"
[[ $check == "(0,0) 0" ]] || { echo "WRONG RESULT"; exit 1; }

# ---------------------------------------------------------------- crossover by rows per scope
echo
echo "crossover: one-row change, 200,000 rows, median ms of incview.refresh (delta / replace)"
psql -c "CREATE TABLE cx (id bigserial PRIMARY KEY, k int NOT NULL, v int NOT NULL)" \
     -c "INSERT INTO cx (k, v) SELECT i, i % 1000 FROM generate_series(1, 200000) i" \
     -c "CREATE INDEX ON cx (k)"
for per in 10 100 1000 10000; do
  groups=$((200000 / per))
  psql -c "UPDATE cx SET k = id % $groups" -c "VACUUM ANALYZE cx" \
       -c "SELECT incview.create_stage('cx_d', 'SELECT k, count(*) AS n, sum(v) AS s FROM cx GROUP BY k', ARRAY['k'], engine => 'delta')" \
       -c "SELECT incview.create_stage('cx_r', 'SELECT k, count(*) AS n, sum(v) AS s FROM cx GROUP BY k', ARRAY['k'], engine => 'replace')" >/dev/null
  script=$(mktemp)
  for r in $(seq 1 "$ROUNDS"); do
    echo "\\echo @-
INSERT INTO cx (k, v) VALUES ($r % $groups, $r);
\\echo @d
SELECT incview.refresh('cx_d');
\\echo @r
SELECT incview.refresh('cx_r');" >>"$script"
  done
  out=$(timed_session "$script")
  rm -f "$script"
  md=$(awk '$1 == "d" { print $2 }' <<<"$out" | median); mr=$(awk '$1 == "r" { print $2 }' <<<"$out" | median)
  echo "  $per rows/scope ($groups scopes): delta $md, replace $mr (replace/delta $(ratio "$mr" "$md"))"
  psql -c "SELECT incview.drop_stage('cx_d')" -c "SELECT incview.drop_stage('cx_r')" >/dev/null
done

# ---------------------------------------------------------------- writer cost
echo
echo "writer cost: pgbench single-row INSERT, 2 clients, ${PGBENCH_SECONDS}s, $PGBENCH_ROUNDS alternating rounds; 10,000-row INSERT ... SELECT, $ROUNDS alternating rounds"
psql <<'SQL'
SET client_min_messages = warning;
CREATE TABLE w_none (id bigserial PRIMARY KEY, tag int NOT NULL, v int NOT NULL);
CREATE TABLE w_key (LIKE w_none INCLUDING ALL);
CREATE TABLE w_delta (LIKE w_none INCLUDING ALL);
INSERT INTO w_none (tag, v) SELECT i % 1000, i FROM generate_series(1, 100000) i;
INSERT INTO w_key SELECT * FROM w_none;
INSERT INTO w_delta SELECT * FROM w_none;
SELECT incview.create_stage('w_key_stage', 'SELECT tag, count(*) AS n, sum(v) AS s FROM w_key GROUP BY tag', ARRAY['tag'], engine => 'replace');
SELECT incview.create_stage('w_delta_stage', 'SELECT tag, count(*) AS n, sum(v) AS s FROM w_delta GROUP BY tag', ARRAY['tag'], engine => 'delta');
SELECT incview.set_policy(s, 'manual') FROM unnest(ARRAY['w_key_stage', 'w_delta_stage']) s;
SQL
work=$(mktemp -d)
declare -A tps bulk
for r in $(seq 1 "$PGBENCH_ROUNDS"); do
  for tbl in w_none w_key w_delta; do
    echo "\\set t random(0, 999)
INSERT INTO $tbl (tag, v) VALUES (:t, :t);" >"$work/$tbl.sql"
    out=$("$PGBIN/pgbench" -n -h /tmp -p "$PORT" -U postgres -c 2 -j 2 -T "$PGBENCH_SECONDS" -f "$work/$tbl.sql" delta 2>&1)
    tps[$tbl]+="$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out") "
  done
done
for r in $(seq 1 "$ROUNDS"); do
  for tbl in w_none w_key w_delta; do
    bulk[$tbl]+="$(ms "INSERT INTO $tbl (tag, v) SELECT i % 1000, i FROM generate_series(1, 10000) i") "
  done
done
rm -rf "$work"
tn=$(tr ' ' '\n' <<<"${tps[w_none]}" | grep . | median)
tk=$(tr ' ' '\n' <<<"${tps[w_key]}" | grep . | median)
bk=$(tr ' ' '\n' <<<"${bulk[w_key]}" | grep . | median)
for tbl in w_none w_key w_delta; do
  tv=$(tr ' ' '\n' <<<"${tps[$tbl]}" | grep . | median)
  bv=$(tr ' ' '\n' <<<"${bulk[$tbl]}" | grep . | median)
  echo "  $tbl: single-row TPS $tv ($(ratio "$tv" "$tk")x key capture) [${tps[$tbl]}]; bulk ms $bv ($(ratio "$bv" "$bk")x key capture) [${bulk[$tbl]}]"
done
psql -c "SELECT incview.refresh('w_delta_stage')" >/dev/null
check=$(psql -c "SELECT row(missing, extra)::text FROM incview.verify('w_delta_stage')")
echo "check: verify(w_delta_stage) after the writes: $check"
[[ $check == "(0,0)" ]] || { echo "WRONG RESULT"; exit 1; }
echo "total: $((SECONDS - t0)) s; load average $(cut -d' ' -f1-3 /proc/loadavg)"
