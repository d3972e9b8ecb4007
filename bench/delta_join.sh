#!/usr/bin/env bash
# Engine delta over a join (issue 13): refresh after a one-row fact insert and after a
# dimension update, delta vs replace (with a lookup mapping, so it re-derives only the
# touched group) vs REFRESH MATERIALIZED VIEW, and what the writer's statement costs with
# each stage's capture. Prints every median; bench/delta_join.md holds a run's results.
#
#   bench/delta_join.sh [facts] [rounds]     # defaults: 1,000,000 facts, 7 rounds
#
# Stage: SELECT t.tag, count(*), sum(e.v) FROM events e JOIN tags t ON t.id = e.tag_id
# GROUP BY t.tag: 100 tag rows named tag0..tag9 (10 groups), facts spread evenly over them.
# Its own throwaway cluster (scripts/cluster.sh, fsync on, synchronous_commit off, the
# scheduler off), port BENCH_PGPORT (54443), data BENCH_PGDATA (/tmp/pg_incview_delta_join_bench).
# Times are psql's \timing of one statement in one warm session; medians of `rounds`, the
# methods alternating within each round.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
ROWS=${1:-1000000}
ROUNDS=${2:-7}
PGBIN=${PGBIN:-$("${PG_CONFIG:-/usr/bin/pg_config}" --bindir)}
PORT=${BENCH_PGPORT:-54443}
DATADIR=${BENCH_PGDATA:-/tmp/pg_incview_delta_join_bench}
cluster() {
  INCVIEW_PGPORT=$PORT INCVIEW_PGDATA=$DATADIR INCVIEW_FAST=0 PGBIN=$PGBIN \
    INCVIEW_PGCONF_EXTRA="synchronous_commit = off
incview.enabled = off
max_wal_size = 4GB" bash "$ROOT/scripts/cluster.sh" "$@" >/dev/null
}
trap 'cluster stop || true; rm -rf "$DATADIR"' EXIT
INCVIEW_FRESH=1 cluster start
psql() { "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h /tmp -p "$PORT" -U postgres -d djoin "$@"; }
"$PGBIN/psql" -X -q -h /tmp -p "$PORT" -U postgres -d postgres -c "CREATE DATABASE djoin"
timed_session() {  # timed_session <script> -> lines "name ms"
  psql -c '\timing on' -f "$1" | awk '/^@/ { cur = substr($0, 2); next }
    /^Time: / { if (cur != "" && cur != "-") print cur, $2; cur = ""; next }'
}
median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "-"; else if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

echo "# bench/delta_join.sh: $ROWS facts, $ROUNDS rounds, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
Q='SELECT t.tag, count(*) AS n, sum(e.v) AS s FROM events e JOIN tags t ON t.id = e.tag_id GROUP BY t.tag'
t0=$SECONDS
psql <<SQL
SET client_min_messages = warning;
CREATE EXTENSION pg_incview;
CREATE TABLE tags (id int PRIMARY KEY, tag text NOT NULL);
INSERT INTO tags SELECT i, 'tag' || (i % 10) FROM generate_series(0, 99) i;
CREATE INDEX ON tags (tag);
CREATE TABLE events (id bigserial PRIMARY KEY, tag_id int NOT NULL, v int NOT NULL);
INSERT INTO events (tag_id, v) SELECT i % 100, i % 1000 FROM generate_series(1, $ROWS) i;
CREATE INDEX ON events (tag_id);
VACUUM ANALYZE tags, events;
SELECT incview.create_stage('j_delta', '$Q', ARRAY['tag'], engine => 'delta');
SELECT incview.create_stage('j_replace', '$Q', ARRAY['tag'], engine => 'replace');
SELECT incview.map_source('j_replace', 'events', 'SELECT t.tag FROM public.tags t WHERE t.id = changed.tag_id');
SELECT incview.set_policy(s, 'manual') FROM unnest(ARRAY['j_delta', 'j_replace']) s;
CREATE MATERIALIZED VIEW j_mv AS $Q;
SQL
echo "setup: $((SECONDS - t0)) s"

# Refresh after one change; each round: the change, then the three methods (order rotating).
work=$(mktemp -d)
for kind in fact dimension; do
  script="$work/$kind.sql"
  : >"$script"
  for r in $(seq 1 "$ROUNDS"); do
    if [[ $kind == fact ]]; then
      echo "\\echo @-
INSERT INTO events (tag_id, v) VALUES ($((r % 100)), $r);" >>"$script"
    else  # one tag row renamed: its 1% of the facts move to another group
      echo "\\echo @-
UPDATE tags SET tag = 'tag' || (($r + id) % 10) WHERE id = $((r % 100));" >>"$script"
    fi
    methods=("delta:SELECT incview.refresh('j_delta');" "replace:SELECT incview.refresh('j_replace');"
             "mv:REFRESH MATERIALIZED VIEW j_mv;")
    for i in 0 1 2; do
      m=${methods[$(((i + r) % 3))]}
      echo "\\echo @${m%%:*}
${m#*:}" >>"$script"
    done
  done
  timed_session "$script" >"$work/$kind.out"
  echo
  echo "change: one $kind row; median ms of the refresh over $ROUNDS rounds (x delta)"
  d=$(awk '$1 == "delta" { print $2 }' "$work/$kind.out" | median)
  for m in delta replace mv; do
    all=$(awk -v m=$m '$1 == m { printf "%s ", $2 }' "$work/$kind.out")
    v=$(tr ' ' '\n' <<<"$all" | grep . | median)
    echo "  $m: $v ($(ratio "$v" "$d")x)   [all: $all]"
  done
done

# The writer's statement with each stage's capture alone (the other stage's triggers are the
# same for both: set_engine is not changed, the other stage is dropped and re-created).
echo
echo "writer: median ms of the statement with one stage capturing"
for stage in j_delta j_replace; do
  other=$([[ $stage == j_delta ]] && echo j_replace || echo j_delta)
  psql -c "SELECT incview.drop_stage('$other')" >/dev/null
  script="$work/w_$stage.sql"
  : >"$script"
  for r in $(seq 1 "$ROUNDS"); do
    echo "\\echo @fact
INSERT INTO events (tag_id, v) VALUES ($((r % 100)), $r);
\\echo @dimension
UPDATE tags SET tag = 'tag' || (($r + id) % 10) WHERE id = $((r % 100));
\\echo @-
SELECT incview.refresh('$stage');" >>"$script"
  done
  out=$(timed_session "$script")
  f=$(awk '$1 == "fact" { print $2 }' <<<"$out" | median); dd=$(awk '$1 == "dimension" { print $2 }' <<<"$out" | median)
  echo "  $stage capturing: one-row fact insert $f, one tag row renamed (1% of the facts move) $dd"
  if [[ $stage == j_delta ]]; then
    psql -c "SELECT incview.create_stage('j_replace', '$Q', ARRAY['tag'], engine => 'replace')" \
         -c "SELECT incview.map_source('j_replace', 'events', 'SELECT t.tag FROM public.tags t WHERE t.id = changed.tag_id')" \
         -c "SELECT incview.set_policy('j_replace', 'manual')" >/dev/null
  fi
done
rm -rf "$work"
psql -c "SELECT incview.create_stage('j_delta', '$Q', ARRAY['tag'], engine => 'delta')" >/dev/null
psql -c "INSERT INTO events (tag_id, v) VALUES (5, 5)" -c "UPDATE tags SET tag = 'tagX' WHERE id = 7" \
     -c "SELECT incview.refresh('j_delta')" >/dev/null
check=$(psql -c "SELECT row(missing, extra)::text FROM incview.verify('j_delta')")
echo "check: verify(j_delta) $check"
[[ $check == "(0,0)" ]] || { echo "WRONG RESULT"; exit 1; }
