#!/usr/bin/env bash
# Where engine `delta` starts to pay against `replace` (issue 13 item 3: the crossover `auto`
# uses, src/core/delta_crossover.hpp; kDeltaCrossoverRows before), by source rows per scope, in SERVER
# CPU TIME of the backend that runs the statement (bench/call_cpu.c: /proc/<pid>/schedstat
# and /proc/<pid>/stat of that backend only, before and after many calls; waiting for a core
# is not counted, so the number survives a shared, loaded 2-core machine far better than the
# wall clock, which is printed beside it).
#
# For every size S in SIZES (source rows per scope) and every shape, two identical tables of
# ROWS rows (S rows per scope, scope = the GROUP BY key k), one read by a `delta` stage, one by
# a `replace` stage (unique_key k, so replace writes only changed rows), policy manual,
# scheduler off. Shapes:
#   plain   SELECT k, count(*) AS n, sum(v) AS s FROM t GROUP BY k
#   minmax  SELECT k, count(*) AS n, min(v) AS lo, max(v) AS hi FROM t GROUP BY k
#   join    SELECT f.k, count(*) AS n, sum(d.w) AS s FROM t f JOIN xo_dim d ON d.id = f.dim_id GROUP BY f.k
#           (xo_dim: 100 rows; delta capture runs the join in the writer's transaction)
#   where   SELECT k, count(*) AS n, sum(v) AS s FROM t WHERE v >= 0 GROUP BY k
#           (a WHERE: capture runs its statement even for one row, without a join)
#   having  SELECT k, count(*) AS n, sum(v) AS s FROM t GROUP BY k HAVING count(*) > 0
#           (the fold re-derives every touched group from the source)
# Cells (W = the writer's statement per call, committed; M = the measured backend):
#   k1    refresh after a one-row INSERT               W: insert one row,        M: incview.refresh
#   kpct  refresh after ~1 % of the scopes changed     W: insert one row into each of max(1, scopes/100)
#                                                         random scopes (one statement), M: incview.refresh
#   kdel  (minmax) refresh after the group's max is deleted (and a smaller row inserted, same
#         transaction, so groups keep their size): delta re-derives that group
#   w1    writer: M runs the one-row INSERT itself (capture CPU: delta vs key capture)
#   wpct  writer: M runs kpct's INSERT itself
# Within each round the two engines of a cell run back to back, their order alternating by round.
#
#   bench/crossover.sh                 # ROWS=200000, SIZES="1 3 10 30 100 1000 10000"
#   XO_ROWS, XO_SIZES, XO_SHAPES ("plain minmax join"; also "where", "having"), XO_WSIZES (writer cells' sizes: "1 100 10000"),
#   XO_ROUNDS (5), XO_CALLS (300: one-row refresh cells; fewer for large scopes, see calls()),
#   PGBIN, BENCH_PGPORT (54565), BENCH_PGDATA (/tmp/pg_incview_crossover), BENCH_OUT
# Results: $OUT/raw.csv and the tables on stdout (per-round values, medians, replace ÷ delta).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
ROWS=${XO_ROWS:-200000}
SIZES=${XO_SIZES:-"1 3 10 30 100 1000 10000"}
SHAPES=${XO_SHAPES:-"plain minmax join"}
WSIZES=${XO_WSIZES:-"1 100 10000"}
ROUNDS=${XO_ROUNDS:-5}
CALLS=${XO_CALLS:-300}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PORT=${BENCH_PGPORT:-54565}
DATA=${BENCH_PGDATA:-/tmp/pg_incview_crossover}
OUT=${BENCH_OUT:-$HERE/out/crossover}
mkdir -p "$OUT"
RAW=$OUT/raw.csv
echo "round,shape,size,cell,engine,calls,stat_us,sched_us,wall_us,load1" > "$RAW"
log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }

gcc -O2 -o "$OUT/call_cpu" "$HERE/call_cpu.c" -I"$("$PGBIN/pg_config" --includedir)" -lpq

cluster() {
  PGBIN=$PGBIN INCVIEW_PGPORT=$PORT INCVIEW_PGDATA=$DATA INCVIEW_FAST=0 \
    INCVIEW_PGCONF_EXTRA="shared_buffers = '256MB'
max_wal_size = '4GB'
autovacuum = off
incview.enabled = off" bash "$ROOT/scripts/cluster.sh" "$@" >/dev/null
}
sql() { "$PGBIN/psql" -X -q -At -h /tmp -p "$PORT" -U postgres -v ON_ERROR_STOP=1 -d xover "$@"; }
trap 'cluster stop || true; rm -rf "$DATA"' EXIT

log "crossover: $ROWS rows per table, sizes $SIZES, shapes $SHAPES, $ROUNDS rounds, load $(cut -d' ' -f1-3 /proc/loadavg)"
INCVIEW_FRESH=1 cluster start
"$PGBIN/psql" -X -q -h /tmp -p "$PORT" -U postgres -d postgres -c "CREATE DATABASE xover"
sql -c "SET client_min_messages = warning" -c "CREATE EXTENSION pg_incview" \
  -c "CREATE TABLE xo_dim (id int PRIMARY KEY, w int NOT NULL)" \
  -c "INSERT INTO xo_dim SELECT i, i % 7 FROM generate_series(0, 99) i"

query() {  # shape table
  case $1 in
    plain) echo "SELECT k, count(*) AS n, sum(v) AS s FROM $2 GROUP BY k" ;;
    minmax) echo "SELECT k, count(*) AS n, min(v) AS lo, max(v) AS hi FROM $2 GROUP BY k" ;;
    join) echo "SELECT f.k, count(*) AS n, sum(d.w) AS s FROM $2 f JOIN xo_dim d ON d.id = f.dim_id GROUP BY f.k" ;;
    where) echo "SELECT k, count(*) AS n, sum(v) AS s FROM $2 WHERE v >= 0 GROUP BY k" ;;
    having) echo "SELECT k, count(*) AS n, sum(v) AS s FROM $2 GROUP BY k HAVING count(*) > 0" ;;
  esac
}
t0=$SECONDS
for shape in $SHAPES; do
  for size in $SIZES; do
    scopes=$((ROWS / size))
    for e in delta replace; do
      t=${shape}_${size}_$e
      sql >/dev/null <<SQL
SET client_min_messages = warning;
CREATE TABLE $t (id bigserial PRIMARY KEY, k int NOT NULL, dim_id int NOT NULL DEFAULT 0, v int NOT NULL);
INSERT INTO $t (k, dim_id, v) SELECT i % $scopes, i % 100, i % 1000 FROM generate_series(0, $ROWS - 1) i;
CREATE INDEX ON $t (k, v);
VACUUM ANALYZE $t;
SELECT incview.create_stage('s_$t', \$q\$$(query "$shape" "$t")\$q\$, ARRAY['k'], unique_key => ARRAY['k'],
                            engine => '$e');
SELECT incview.set_policy('s_$t', 'manual');
SQL
    done
  done
  log "setup $shape done ($((SECONDS - t0)) s)"
done
sql -c "VACUUM ANALYZE" >/dev/null
calls() {  # cell size -> calls per cell (about the same CPU per cell whatever the size)
  local c=$CALLS
  case $1 in kpct | wpct) c=$((CALLS / 10)) ;; esac
  (( $2 >= 1000 )) && c=$((c / 3))
  (( $2 >= 10000 )) && c=$((c / 3))
  (( c < 10 )) && c=10
  echo $c
}
statements() {  # shape size cell table -> writer SQL and measured SQL, one per line
  local shape=$1 size=$2 cell=$3 t=$4 scopes=$(($ROWS / $2)) keys one pct
  keys=$(( scopes / 100 > 0 ? scopes / 100 : 1 ))
  one="INSERT INTO $t (k, dim_id, v) VALUES (\$v % $scopes, \$v % 100, \$v)"
  pct="INSERT INTO $t (k, dim_id, v) SELECT (random() * ($scopes - 1))::int, \$v % 100, \$v FROM generate_series(1, $keys)"
  case $cell in
    k1) echo "$one"; echo "SELECT incview.refresh('s_$t')" ;;
    kpct) echo "$pct"; echo "SELECT incview.refresh('s_$t')" ;;
    kdel) echo "DELETE FROM $t WHERE id = (SELECT id FROM $t WHERE k = \$v % $scopes ORDER BY v DESC LIMIT 1); INSERT INTO $t (k, v) VALUES (\$v % $scopes, \$v % 500)"
          echo "SELECT incview.refresh('s_$t')" ;;
    w1) echo "-"; echo "$one" ;;
    wpct) echo "-"; echo "$pct" ;;
  esac
}
cells_of() {  # shape size
  local c="k1 kpct"
  [[ $1 == minmax ]] && c="k1 kdel"
  [[ " $WSIZES " == *" $2 "* ]] && c="$c w1 wpct"
  echo $c
}
conn="host=/tmp port=$PORT user=postgres dbname=xover options='-c synchronous_commit=off'"
for round in $(seq 1 "$ROUNDS"); do
  engines=(delta replace)
  (( round % 2 == 0 )) && engines=(replace delta)
  for shape in $SHAPES; do
    for size in $SIZES; do
      for cell in $(cells_of "$shape" "$size"); do
        n=$(calls "$cell" "$size")
        for e in "${engines[@]}"; do
          t=${shape}_${size}_$e
          { read -r w; read -r m; } < <(statements "$shape" "$size" "$cell" "$t")
          read -r _ got _ st _ sc _ wa < <("$OUT/call_cpu" "$conn" $(( n / 5 > 5 ? n / 5 : 5 )) "$n" "$w" "$m")
          load=$(cut -d' ' -f1 /proc/loadavg)
          echo "$round,$shape,$size,$cell,$e,$got,$st,$sc,$wa,$load" >> "$RAW"
          # the writer cells leave queued changes: fold them before the next cell
          [[ $cell == w* ]] && sql -c "SELECT incview.refresh('s_$t')" >/dev/null
          q=$(sql -c "SELECT coalesce(string_agg(d.queue::text, ', '), '') FROM incview.delta_stage d JOIN incview.stage s ON s.id = d.stage_id WHERE s.name = 's_$t'")
          sql -c "VACUUM $t, s_$t, incview.refresh_log, incview.stage_state, incview.source_change, incview.dirty_scope${q:+, $q}" >/dev/null
        done
      done
    done
    log "round $round $shape done, load $(cut -d' ' -f1 /proc/loadavg)"
  done
done
for shape in $SHAPES; do
  for size in $SIZES; do
    for e in delta replace; do
      c=$(sql -c "SELECT missing || ',' || extra FROM incview.verify('s_${shape}_${size}_$e')")
      [[ $c == 0,0 ]] || { log "WRONG: verify(s_${shape}_${size}_$e) = $c"; exit 1; }
    done
  done
done
log "verify: every stage (0,0); load at the end $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$RAW" <<'PY'
import csv, sys, statistics as st
rows = list(csv.DictReader(open(sys.argv[1])))
def vals(shape, size, cell, e, f):
    return [float(r[f]) for r in sorted(rows, key=lambda r: int(r['round']))
            if r['shape'] == shape and r['size'] == size and r['cell'] == cell and r['engine'] == e]
names = {'k1': 'refresh after a one-row INSERT', 'kpct': 'refresh after ~1 % of the scopes changed',
         'kdel': "refresh after the group's max deleted", 'w1': 'writer: one-row INSERT',
         'wpct': 'writer: INSERT into ~1 % of the scopes'}
seen = []
for r in rows:
    if (r['shape'], r['cell']) not in seen: seen.append((r['shape'], r['cell']))
for shape, cell in seen:
    sizes = sorted({r['size'] for r in rows if r['shape'] == shape and r['cell'] == cell}, key=int)
    print(f"\n{shape}, {names[cell]}: server CPU µs per call (schedstat), medians; replace ÷ delta per round (> 1: delta cheaper); wall medians")
    print("| rows per scope | delta | replace | replace ÷ delta, per round | median | wall: delta / replace (ratio) |")
    print("|---|---|---|---|---|---|")
    for s in sizes:
        d, r = vals(shape, s, cell, 'delta', 'sched_us'), vals(shape, s, cell, 'replace', 'sched_us')
        wd, wr = vals(shape, s, cell, 'delta', 'wall_us'), vals(shape, s, cell, 'replace', 'wall_us')
        ratios = [b / a for a, b in zip(d, r)]
        print(f"| {int(s):,} | {st.median(d):.0f} | {st.median(r):.0f} | {' '.join(f'{x:.2f}' for x in ratios)} | "
              f"**{st.median(ratios):.2f}** | {st.median(wd):.0f} / {st.median(wr):.0f} ({st.median(wr) / st.median(wd):.2f}) |")
print("\nload per cell (1 min): min %s, median %s, max %s" % (
    min(float(r['load1']) for r in rows), st.median(float(r['load1']) for r in rows), max(float(r['load1']) for r in rows)))
PY
