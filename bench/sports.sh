#!/usr/bin/env bash
# Seed 002's scenario (issue 12, item 7): events of many season-competitions, aggregated per
# game, team and parameter into a stage; the same stage partitioned by the context
# (partition_by => 'list (season_competition_id)') and unpartitioned, on the same data, in
# the same run. See bench/sports.md.
#
#   bench/sports.sh                 # 200 season-competitions x 40 games (defaults below)
#
# Measured, alternating the two layouts, REPS times each, median:
#  - read one context, the seed's query: a parameter's average value and minutes per team
#    over 10 games of one season-competition (IN list of games);
#  - read one context whole: per team and parameter over a whole season-competition;
#    (reads: planning + execution time from EXPLAIN ANALYZE, server side)
#  - refresh one game: a provider correction rewrites one game's events (UPDATE of its
#    rows), captured; then incview.refresh() of the stage.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PORT=${BENCH_PGPORT:-${INCVIEW_PGPORT:-54332}}
DATADIR=${BENCH_PGDATA:-${INCVIEW_PGDATA:-/tmp/pg_incview_sports}}
OUT=${BENCH_OUT:-$HERE/out/sports}
CONTEXTS=${SPORTS_CONTEXTS:-200}      # season-competitions
GAMES=${SPORTS_GAMES:-40}             # games per season-competition
PARAMS=${SPORTS_PARAMS:-20}           # parameters (goal, assist, pass, ...)
EVENTS=${SPORTS_EVENTS:-5}            # events per game, team and parameter
REPS=${SPORTS_REPS:-7}
DB=sports
mkdir -p "$OUT"
LOG=$OUT/run.log
: > "$LOG"
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" | tee -a "$LOG"; }
PSQL=("$PGBIN/psql" -X -q -h /tmp -p "$PORT" -U postgres -v ON_ERROR_STOP=1)
sql() { "${PSQL[@]}" -d "$DB" -At -c "$1" 2>>"$LOG"; }
cluster() {
  PGBIN=$PGBIN INCVIEW_PGPORT=$PORT INCVIEW_PGDATA=$DATADIR INCVIEW_FAST=0 INCVIEW_PGCONF_EXTRA="shared_buffers = '512MB'
work_mem = '64MB'
max_wal_size = '4GB'
incview.enabled = off" bash "$ROOT/scripts/cluster.sh" "$@"
}
trap 'cluster stop >>"$LOG" 2>&1 || true' EXIT

log "sports bench: $CONTEXTS season-competitions x $GAMES games x 2 teams x $PARAMS parameters x $EVENTS events; load $(cut -d' ' -f1-3 /proc/loadavg)"
INCVIEW_FRESH=1 cluster start >>"$LOG" 2>&1
"${PSQL[@]}" -d postgres -c "CREATE DATABASE $DB" 2>>"$LOG"
sql "CREATE EXTENSION pg_incview" >/dev/null
# Games are played day by day across all competitions at once, so the events of one
# season-competition are spread over the whole table, as in the seed (a provider's feed).
"${PSQL[@]}" -d "$DB" >/dev/null 2>>"$LOG" <<EOF
CREATE TABLE games (id int PRIMARY KEY, season_competition_id int NOT NULL, home int NOT NULL, away int NOT NULL);
INSERT INTO games
SELECT (c - 1) * $GAMES + g, c, (c * 100 + (g % 10)) , (c * 100 + ((g + 5) % 10))
FROM generate_series(1, $CONTEXTS) c, generate_series(1, $GAMES) g;
CREATE TABLE events (
  id bigserial PRIMARY KEY,
  season_competition_id int NOT NULL,
  game_id int NOT NULL,
  team_id int NOT NULL,
  parameter_id int NOT NULL,
  value numeric NOT NULL,
  minutes int NOT NULL);
INSERT INTO events (season_competition_id, game_id, team_id, parameter_id, value, minutes)
SELECT gm.season_competition_id, gm.id, CASE WHEN t = 0 THEN gm.home ELSE gm.away END, p,
       (hashint4(gm.id * 7919 + p * 31 + e + t) % 1000 + 1000) / 100.0, 1 + abs(hashint4(gm.id + e)) % 90
FROM generate_series(1, $GAMES) day, games gm, generate_series(0, 1) t, generate_series(1, $PARAMS) p,
     generate_series(1, $EVENTS) e
WHERE gm.id % $GAMES = day % $GAMES
ORDER BY day, gm.id, t, p, e;
CREATE INDEX ON events (game_id);
ANALYZE;
EOF
log "data: $(sql "SELECT count(*) FROM events") events, $(sql "SELECT count(*) FROM games") games"

STAGE_QUERY="SELECT season_competition_id, game_id, team_id, parameter_id, sum(value) AS value_sum, count(*) AS n, sum(minutes) AS minutes FROM events GROUP BY season_competition_id, game_id, team_id, parameter_id"
for layout in flat partitioned; do
  part=""
  [[ $layout == partitioned ]] && part=", partition_by => 'list (season_competition_id)'"
  t0=$(date +%s.%N)
  sql "SELECT incview.create_stage('game_stats_$layout', \$q\$$STAGE_QUERY\$q\$,
         ARRAY['season_competition_id', 'game_id'],
         unique_key => ARRAY['season_competition_id', 'game_id', 'team_id', 'parameter_id'] $part)" >/dev/null
  sql "SELECT incview.set_policy('game_stats_$layout', 'manual')" >/dev/null
  log "create_stage $layout: $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s, $(sql "SELECT count(*) FROM game_stats_$layout") rows"
done
sql "VACUUM ANALYZE" >/dev/null
log "partitions of the partitioned stage: $(sql "SELECT count(*) FROM pg_inherits WHERE inhparent = 'game_stats_partitioned'::regclass")"
log "indexes: $(sql "SELECT string_agg(indexrelid::regclass::text || ' (' || pg_get_indexdef(indexrelid) || ')', '; ') FROM pg_index WHERE indrelid = 'game_stats_flat'::regclass")"

RAW=$OUT/raw.csv
echo "layout,what,rep,ms" > "$RAW"
# One timed statement in its own session (server-side clock, commit included).
timed() {  # layout what body
  local ms
  ms=$("${PSQL[@]}" -d "$DB" -At 2>>"$LOG" <<EOF | tail -n 1
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
$3
SELECT round(((extract(epoch FROM clock_timestamp()) - :t0) * 1000)::numeric, 3);
EOF
)
  echo "$1,$2,$rep,$ms" >> "$RAW"
}
# A read: planning + execution time as EXPLAIN ANALYZE reports them (server side, without
# the client round trip, which is most of a millisecond-long read's time over a socket),
# the mean of two runs in one session.
timed_read() {  # layout what query
  local ms
  ms=$("${PSQL[@]}" -d "$DB" -At 2>>"$LOG" <<EOF | awk '/Planning Time|Execution Time/ { t += $3 } END { printf "%.3f", t }'
EXPLAIN (ANALYZE, TIMING OFF) $3;
EXPLAIN (ANALYZE, TIMING OFF) $3;
EOF
)
  # (both runs' lines summed above: halve for one)
  ms=$(awk -v m="$ms" 'BEGIN { printf "%.3f", m / 2 }')
  echo "$1,$2,$rep,$ms" >> "$RAW"
}
for rep in $(seq 1 "$REPS"); do
  ctx=$(( (rep * 37) % CONTEXTS + 1 ))
  first=$(( (ctx - 1) * GAMES + 1 ))
  games=$(seq -s, "$first" 3 $((first + 27)))   # 10 games of the context
  game=$(( first + rep % GAMES ))
  layouts=(flat partitioned); (( rep % 2 == 0 )) && layouts=(partitioned flat)
  for layout in "${layouts[@]}"; do
    s=game_stats_$layout
    timed_read "$layout" "read: 10 games of one context (one parameter)" \
      "SELECT team_id, sum(value_sum) / sum(n) AS value, sum(minutes) AS minutes FROM $s
       WHERE season_competition_id = $ctx AND parameter_id = 15 AND game_id IN ($games) GROUP BY team_id"
    timed_read "$layout" "read: one context whole (every parameter)" \
      "SELECT team_id, parameter_id, sum(value_sum) / sum(n) AS value, sum(minutes) AS minutes FROM $s
       WHERE season_competition_id = $ctx GROUP BY team_id, parameter_id"
    # A provider correction of one game: both stages read events, so one UPDATE dirties the
    # game in both queues; each refresh is timed on its own (the other stage's key waits).
    [[ $layout == "${layouts[0]}" ]] && sql "UPDATE events SET value = value + 0.01 WHERE game_id = $game" >/dev/null
    timed "$layout" "refresh one game" "SELECT incview.refresh('$s');"
  done
done
for layout in flat partitioned; do
  log "verify game_stats_$layout (missing,extra) = ($(sql "SELECT missing || ',' || extra FROM incview.verify('game_stats_$layout')"))"
done
log "plans (one context whole): flat: $(sql "EXPLAIN (COSTS OFF) SELECT team_id, parameter_id, sum(n) FROM game_stats_flat WHERE season_competition_id = 7 GROUP BY 1, 2" | tr '\n' ' ')"
log "plans (one context whole): partitioned: $(sql "EXPLAIN (COSTS OFF) SELECT team_id, parameter_id, sum(n) FROM game_stats_partitioned WHERE season_competition_id = 7 GROUP BY 1, 2" | tr '\n' ' ')"
log "refresh of one game, flat: $(sql "SELECT incview.explain('game_stats_flat')" | tr '\n' ' ' | cut -c1-1500)"
log "load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$RAW" <<'PY' | tee "$OUT/summary.md" | tee -a "$LOG"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))  # (labels carry no commas)
whats = list(dict.fromkeys(r['what'] for r in rows))
print("| measurement | unpartitioned (ms) | partitioned (ms) | unpartitioned / partitioned |")
print("|---|---|---|---|")
for w in whats:
    m = {l: statistics.median(float(r['ms']) for r in rows if r['what'] == w and r['layout'] == l) for l in ('flat', 'partitioned')}
    print(f"| {w} | {m['flat']:.2f} | {m['partitioned']:.2f} | {m['flat'] / m['partitioned']:.2f}x |")
PY
