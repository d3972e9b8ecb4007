#!/usr/bin/env bash
# Capture cost against the number of stages on one source (issue 18) and the write path's
# cost (issue 12 item 5), for two builds of pg_incview in the same run: "after" (this tree,
# installed under AFTER_PGBIN) and "before" (an older build, e.g. main, installed in a second
# copy of PostgreSQL under BEFORE_PGBIN; optional). Each build gets its own cluster, fsync and
# synchronous_commit on; rounds alternate between the two so both see the same machine load.
#
# On a 100k-row source src(id, k, v) (k: 1,000 values), N stages
#   SELECT k, sum(v) AS total, count(*) AS n FROM src GROUP BY k   (scope k, manual policy)
# 1. fan-out: for N in FANOUT_STAGES, pgbench single-row INSERTs (2 clients, FANOUT_SECONDS
#    per round, FANOUT_ROUNDS rounds per build, alternating), with synchronous_commit on and
#    off (on a shared machine the commit's fsync can hide the capture's CPU cost), each against
#    a reference table ref (same shape, one stage) in the same round, alternating: the report's
#    same-round ratios (phases run minutes apart on a shared machine: comparing them measures
#    the load); and a 100k-row INSERT ... SELECT (FANOUT_BULK_ROUNDS rounds);
# 2. refresh_all with 50 stages and one dirty key each (FANOUT_ROUNDS runs);
# 3. write path with 1 stage (builds FANOUT_WRITE_LIBS, default both): capture on vs off
#    (capture triggers disabled), alternating, FANOUT_ROUNDS rounds each: 2 and 8 clients with synchronous_commit on, 2 clients with
#    it off (CPU-bound), and a 500k-row INSERT ... SELECT; for each pgbench round also the CPU
#    time the cluster's processes (backends, WAL writer, autovacuum, ...; not pgbench) spent
#    per transaction, from /proc: a measure that other work on a shared machine disturbs far
#    less than TPS (it still inflates under contention: compare within a round);
# 4. (FANOUT_SOAK_SECONDS > 0, "after" only) the queue under a sustained write load
#    (pgbench -R FANOUT_SOAK_RATE) with the 50 stages continuous and the scheduler running:
#    sizes of incview.source_change and incview.dirty_scope every 30 s.
# The scheduler is idle in 1-3 (manual stages). Stages are created with engine FANOUT_ENGINE
# (default replace: key-group capture; 'delta' measures the delta engine's per-stage capture),
# each phase on the same 100,000-row source (re-made: rows added by earlier rounds grow it, and 'auto'
# would choose delta on a grown source) and each round on an empty queue. Writes bench/capture_fanout.md.
#
# Issue 18, default engine on a grown source: FANOUT_ENGINE=auto FANOUT_SOURCE_ROWS=1100000 FANOUT_WRITE=0.
#   AFTER_PGBIN=/opt/pgA/usr/lib/postgresql/15/bin BEFORE_PGBIN=/opt/pgA2/usr/lib/postgresql/15/bin \
#     BENCH_PGPORT=54411 bench/capture_fanout.sh
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
AFTER_PGBIN=${AFTER_PGBIN:-${PGBIN:-$("${PG_CONFIG:-/usr/bin/pg_config}" --bindir)}}
BEFORE_PGBIN=${BEFORE_PGBIN:-}
PORT=${BENCH_PGPORT:-54411}
DATA=${BENCH_PGDATA:-/tmp/pg_incview_fanout}
STAGES=${FANOUT_STAGES:-"0 1 5 10 50 200"}
ROUNDS=${FANOUT_ROUNDS:-5}
SECS=${FANOUT_SECONDS:-8}
BULK_ROUNDS=${FANOUT_BULK_ROUNDS:-3}
# The stages' engine. 'replace' captures through key groups (one record per statement for all
# of them); 'delta' stages run a capture statement each (engines.md); 'auto' picks delta when
# scopes average >= 1,000 source rows (this source: 100).
ENGINE=${FANOUT_ENGINE:-replace}
# Rows of src and ref at the start of every phase (1,000 scope values). With FANOUT_ENGINE=auto
# and 1,100,000 rows (1,100 a scope) auto has a reason to choose delta (issue 18: what the
# default engine costs writers on a large source).
SOURCE_ROWS=${FANOUT_SOURCE_ROWS:-100000}
# Part 3 (write path, one stage) runs unless FANOUT_WRITE=0.
WRITE=${FANOUT_WRITE:-1}
SOAK_SECONDS=${FANOUT_SOAK_SECONDS:-300}
SOAK_RATE=${FANOUT_SOAK_RATE:-500}
OUT=${BENCH_OUT:-$HERE/out/capture_fanout}
RESULT=${BENCH_RESULT:-$HERE/capture_fanout.md}
mkdir -p "$OUT"
RAW="$OUT/raw.csv"
: >"$RAW"
: >"$OUT/engines.txt"

LIBS="after"
[[ -n $BEFORE_PGBIN ]] && LIBS="before after"
WRITE_LIBS=${FANOUT_WRITE_LIBS:-$LIBS}  # the builds part 3 measures
WRITE_MODES=${FANOUT_WRITE_MODES:-"2,on 8,on 2,off"}  # part 3's pgbench runs: clients,synchronous_commit
bin_of() { if [[ $1 == after ]]; then echo "$AFTER_PGBIN"; else echo "$BEFORE_PGBIN"; fi; }
port_of() { if [[ $1 == after ]]; then echo "$PORT"; else echo $((PORT + 1)); fi; }
data_of() { echo "${DATA}_$1"; }

cluster() {  # lib, action
  INCVIEW_PGPORT=$(port_of "$1") INCVIEW_PGDATA=$(data_of "$1") INCVIEW_FAST=0 PGBIN=$(bin_of "$1") \
    INCVIEW_PGCONF_EXTRA="shared_buffers = 256MB
max_wal_size = 4GB
checkpoint_timeout = 30min
incview.naptime = '200ms'" bash "$ROOT/scripts/cluster.sh" "$2" >/dev/null
}
stop_all() { for l in $LIBS; do cluster "$l" stop || true; rm -rf "$(data_of "$l")"; done; }
trap stop_all EXIT
q() {  # lib, psql args...
  local lib=$1
  shift
  "$AFTER_PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h /tmp -p "$(port_of "$lib")" -U postgres -d fanout "$@"
}
ms_of() {  # lib, sql: server-side milliseconds of one statement (its own transaction)
  q "$1" -c "SELECT bench_time(\$q\$$2\$q\$)"
}
order() {  # round number -> the libs in alternating order
  if (($1 % 2)); then echo "$LIBS"; else echo "$LIBS" | tr ' ' '\n' | tac | tr '\n' ' '; fi
}
pgb() {  # lib, clients, extra PGOPTIONS[, script] -> tps
  local lib=$1 clients=$2 opts=${3:-} script=${4:-insert}
  PGOPTIONS="$opts" "$AFTER_PGBIN/pgbench" -n -h /tmp -p "$(port_of "$lib")" -U postgres -c "$clients" -j "$clients" \
    -T "$SECS" -f "$OUT/$script.sql" fanout 2>>"$OUT/pgbench.log" |
    sed -n 's/^tps = \([0-9.]*\) .*/\1/p' | head -1
}
record() { echo "$*" | tr ' ' ',' >>"$RAW"; }
cluster_ticks() {  # lib -> CPU clock ticks of the cluster: the postmaster (with its reaped children) + live children
  local pm t p
  pm=$(head -1 "$(data_of "$1")/postmaster.pid")
  read -r -a f < <(sed 's/^.*) //' "/proc/$pm/stat")
  t=$((f[11] + f[12] + f[13] + f[14]))
  for p in $(cat "/proc/$pm/task/$pm/children"); do
    read -r -a f < <(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null) || continue
    t=$((t + f[11] + f[12]))
  done
  echo "$t"
}
pgb_cpu() {  # lib, clients, extra PGOPTIONS[, script] -> "tps cpu_us_per_transaction"
  local lib=$1 clients=$2 opts=${3:-} script=${4:-insert} t0 t1 out tps tx
  t0=$(cluster_ticks "$lib")
  out=$(PGOPTIONS="$opts" "$AFTER_PGBIN/pgbench" -n -h /tmp -p "$(port_of "$lib")" -U postgres -c "$clients" \
    -j "$clients" -T "$SECS" -f "$OUT/$script.sql" fanout 2>>"$OUT/pgbench.log")
  sleep 0.5  # the backends' exit: their time moves to the postmaster's reaped children
  t1=$(cluster_ticks "$lib")
  tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<<"$out" | head -1)
  tx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
  awk -v tps="$tps" -v tx="$tx" -v d=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" \
    'BEGIN { if (tx > 0) printf "%s %.1f\n", tps, 1e6 * d / hz / tx; else print tps, "" }'
}
clear_queues() {  # lib
  q "$1" -c "DELETE FROM incview.dirty_scope" -c "DO \$\$ BEGIN IF to_regclass('incview.source_change') IS NOT NULL
    THEN DELETE FROM incview.source_change; DELETE FROM incview.capture_mark; END IF; END \$\$" \
    -c "VACUUM incview.dirty_scope" -c "VACUUM src" -c "VACUUM ref"
  # delta stages' own queues (one row per touched group and statement): empty too
  local dq
  for dq in $(q "$1" -c "SELECT d.queue FROM incview.delta_stage d" 2>/dev/null || true); do
    q "$1" -c "DELETE FROM $dq"
  done
  if q "$1" -c "SELECT to_regclass('incview.source_change') IS NOT NULL" | grep -q t; then
    q "$1" -c "VACUUM incview.source_change"
  fi
}
reset_source() {  # lib: src and ref as the setup made them (every phase starts from the same sources and indexes)
  local t
  for t in src ref; do
    q "$1" -c "TRUNCATE $t RESTART IDENTITY" \
      -c "INSERT INTO $t (k, v) SELECT 1 + g % 1000, g FROM generate_series(1, $SOURCE_ROWS) g" -c "VACUUM ANALYZE $t"
  done
}
set_stages() {  # lib, n: stages s1..sn exist (engine FANOUT_ENGINE), no others; source and queues as at the start
  local lib=$1 n=$2
  q "$lib" -c "SELECT incview.drop_stage(name) FROM incview.stage WHERE name LIKE 's%' AND substr(name, 2)::int > $n" >/dev/null
  # The source first: engine 'auto' chooses delta from the source's size (rows per scope, by
  # shape: core/delta_crossover; 1,000 when this was written),
  # and the rounds before this phase grew it (an earlier version of this bench measured 49
  # delta stages against one key-group stage that way).
  reset_source "$lib"
  q "$lib" -c "SET incview.default_policy = manual" -c "SELECT count(incview.create_stage('s' || i,
      'SELECT k, sum(v) AS total, count(*) AS n FROM src GROUP BY k', ARRAY['k'], engine => '$ENGINE'))
      FROM generate_series(1, $n) i WHERE NOT EXISTS (SELECT 1 FROM incview.stage WHERE name = 's' || i)" >/dev/null
  clear_queues "$lib"
  echo "$lib $n stages: $(q "$lib" -c "SELECT coalesce(string_agg(e || ' ' || c, ' + '), 'none')
      FROM (SELECT CASE WHEN EXISTS (SELECT 1 FROM incview.delta_stage d JOIN incview.stage t ON t.id = d.stage_id
                                     WHERE t.name = s.name) THEN 'delta' ELSE 'keys' END AS e, count(*) AS c
            FROM incview.stages s WHERE s.name LIKE 's%' GROUP BY 1 ORDER BY 1) x")" >>"$OUT/engines.txt"
}
capture() {  # lib, on|off: pg_incview's statement triggers on src
  local how="ENABLE ALWAYS"
  [[ $2 == off ]] && how="DISABLE"
  q "$1" -c "ALTER TABLE src $how TRIGGER incview_capture_ins, $how TRIGGER incview_capture_upd,
             $how TRIGGER incview_capture_del, $how TRIGGER incview_capture_trunc"
}

printf '\\set k random(1, 1000)\nINSERT INTO src (k, v) VALUES (:k, 1);\n' >"$OUT/insert.sql"
printf '\\set k random(1, 1000)\nINSERT INTO ref (k, v) VALUES (:k, 1);\n' >"$OUT/insert_ref.sql"
for lib in $LIBS; do
  INCVIEW_FRESH=1 cluster "$lib" start
  "$AFTER_PGBIN/psql" -X -q -h /tmp -p "$(port_of "$lib")" -U postgres -d postgres -c "CREATE DATABASE fanout"
  q "$lib" -v rows="$SOURCE_ROWS" <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION pg_incview;
CREATE TABLE src (id bigserial PRIMARY KEY, k int NOT NULL, v int NOT NULL);
INSERT INTO src (k, v) SELECT 1 + g % 1000, g FROM generate_series(1, :rows) g;
CREATE INDEX ON src (k);
VACUUM ANALYZE src;
-- The reference: the same table with one stage, measured in the same rounds as src's N stages.
CREATE TABLE ref (LIKE src INCLUDING ALL);
INSERT INTO ref (k, v) SELECT 1 + g % 1000, g FROM generate_series(1, :rows) g;
VACUUM ANALYZE ref;
CREATE FUNCTION bench_time(sql text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz := clock_timestamp();
BEGIN EXECUTE sql; RETURN extract(epoch FROM clock_timestamp() - t0) * 1000; END $$;
SQL
  q "$lib" -c "SET incview.default_policy = manual" -c "SELECT incview.create_stage('r1',
      'SELECT k, sum(v) AS total, count(*) AS n FROM ref GROUP BY k', ARRAY['k'], engine => '$ENGINE')" >/dev/null
done
echo "$(date -u +%H:%M:%S) setup done; load $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/run.log"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

# 1. fan-out
for n in $STAGES; do
  for lib in $LIBS; do set_stages "$lib" "$n"; done
  for ((r = 1; r <= ROUNDS; r++)); do
    for lib in $(order "$r"); do
      # src with its N stages and ref with one, in alternating order, each from an empty queue
      for sync in on off; do
        for tab in $( ((r % 2)) && echo "src ref" || echo "ref src"); do
          script=insert kind=fanout
          [[ $tab == ref ]] && script=insert_ref kind=fanout_ref
          read -r tps cpu <<<"$(pgb_cpu "$lib" 2 "-c synchronous_commit=$sync" "$script")"
          record "${kind}_tps_$sync" "$lib" "$n" "$r" "$tps"
          record "${kind}_cpu_$sync" "$lib" "$n" "$r" "$cpu"
          clear_queues "$lib"
        done
      done
    done
  done
  for ((r = 1; r <= BULK_ROUNDS; r++)); do
    for lib in $(order "$r"); do
      record fanout_bulk_ms "$lib" "$n" "$r" \
        "$(ms_of "$lib" 'INSERT INTO src (k, v) SELECT 1 + g % 1000, 1 FROM generate_series(1, 100000) g')"
      clear_queues "$lib"
    done
  done
  echo "$(date -u +%H:%M:%S) $n stages done; load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/run.log"
  # 2. refresh_all with 50 stages, one dirty key each
  if [[ $n == 50 ]]; then
    for ((r = 1; r <= ROUNDS; r++)); do
      for lib in $(order "$r"); do
        q "$lib" -c "INSERT INTO src (k, v) VALUES (1 + $r, 1)"
        t=$(q "$lib" -c '\timing on' -c 'CALL incview.refresh_all()' | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')
        record refresh_all_ms "$lib" 50 "$r" "$t"
      done
    done
  fi
done

# 3. write path, one stage: capture on vs off
LIBS_ALL=$LIBS
LIBS=$WRITE_LIBS
((WRITE)) || WRITE_MODES=""
WRITE_BULK_ROUNDS=$BULK_ROUNDS
((WRITE)) || WRITE_BULK_ROUNDS=0
((WRITE)) || WRITE_LIBS=""
((WRITE)) && for lib in $LIBS; do set_stages "$lib" 1; done
for mode in $WRITE_MODES; do
  IFS=, read -r clients sync <<<"$mode"
  for ((r = 1; r <= ROUNDS; r++)); do
    for lib in $(order "$r"); do
      for cap in $( ((r % 2)) && echo "off on" || echo "on off"); do
        capture "$lib" "$cap"
        read -r tps cpu <<<"$(pgb_cpu "$lib" "$clients" "-c synchronous_commit=$sync")"
        record "write_tps_c${clients}_sync_${sync}" "$lib" "$cap" "$r" "$tps"
        record "write_cpu_c${clients}_sync_${sync}" "$lib" "$cap" "$r" "$cpu"
      done
      capture "$lib" on
      clear_queues "$lib"
    done
  done
  echo "$(date -u +%H:%M:%S) write path c=$clients sync=$sync done; load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/run.log"
done
for ((r = 1; r <= WRITE_BULK_ROUNDS; r++)); do
  for lib in $(order "$r"); do
    for cap in $( ((r % 2)) && echo "off on" || echo "on off"); do
      capture "$lib" "$cap"
      record write_bulk500k_ms "$lib" "$cap" "$r" \
        "$(ms_of "$lib" 'INSERT INTO src (k, v) SELECT 1 + g % 1000, 1 FROM generate_series(1, 500000) g')"
      capture "$lib" on
      clear_queues "$lib"
    done
  done
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
LIBS=$LIBS_ALL

# 4. the queue under a sustained load, continuous scheduler ("after" only)
SOAK=""
if ((SOAK_SECONDS > 0)); then
  set_stages after 50
  q after -c "SELECT count(incview.set_policy(name, 'continuous')) FROM incview.stage" >/dev/null
  "$AFTER_PGBIN/pgbench" -n -h /tmp -p "$PORT" -U postgres -c 2 -j 2 -R "$SOAK_RATE" -T "$SOAK_SECONDS" \
    -f "$OUT/insert.sql" fanout >"$OUT/soak_pgbench.log" 2>&1 &
  pgb_pid=$!
  for ((t = 30; t <= SOAK_SECONDS; t += 30)); do
    sleep 30
    SOAK+=$(q after -F ' | ' -c "SELECT '| $t s', (SELECT count(*) FROM incview.source_change),
        pg_size_pretty(pg_total_relation_size('incview.source_change')),
        (SELECT count(*) FROM incview.dirty_scope), pg_size_pretty(pg_total_relation_size('incview.dirty_scope')),
        (SELECT max(lag) FROM incview.stages) || ' |'")$'\n'
  done
  wait "$pgb_pid" || true
  SOAK_TPS=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$OUT/soak_pgbench.log" | head -1)
  # verify once the scheduler has drained the queue (or after 300 s), and say how long it took
  drain_start=$(date +%s)
  for ((w = 0; w < 300; w++)); do
    [[ $(q after -c "SELECT NOT EXISTS (SELECT 1 FROM incview.queued_keys)") == t ]] && break
    sleep 1
  done
  SOAK_DRAIN=$(($(date +%s) - drain_start))
  SOAK_VERIFY=$(q after -c "SELECT count(*) FILTER (WHERE v.missing + v.extra > 0) FROM incview.stage s, incview.verify(s.name) v")
fi

# ---- report
median() {  # kind, lib, key -> median of the value column
  awk -F, -v k="$1" -v l="$2" -v n="$3" '$1 == k && $2 == l && $3 == n { print $5 }' "$RAW" | sort -g |
    awk '{ a[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
rounds() {  # kind, reference kind, lib, n -> "median|r1 r2 ...": per-round ratio kind/reference (same round)
  awk -F, -v k="$1" -v rk="$2" -v l="$3" -v n="$4" '$2 == l && $3 == n && $1 == k { a[$4] = $5 }
      $2 == l && $3 == n && $1 == rk { b[$4] = $5 }
      END { for (r = 1; r in a; r++) if (b[r] > 0) { v[++m] = a[r] / b[r]; s = s sprintf(" %.2f", a[r] / b[r]) }
            if (m == 0) { print "–|"; exit }
            for (i = 2; i <= m; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
            med = (m % 2) ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2
            printf "%.2f|%s\n", med, substr(s, 2) }' "$RAW"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "–"; else printf "%.2f", a / b }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "–"; else printf "%.0f %%", 100 * a / b }'; }
{
  echo "# Capture cost against the number of stages on one source"
  echo
  echo "Written by \`bench/capture_fanout.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'), git \`$(git -C "$ROOT" rev-parse --short HEAD)\`;"
  echo "$(nproc) CPUs shared with other work (load average at the start $LOAD_START, at the end of part 3 $LOAD_END: expect noise),"
  echo "$("$AFTER_PGBIN/postgres" --version). fsync and synchronous_commit on unless stated; shared_buffers 256MB."
  echo "\"before\": $([[ -n $BEFORE_PGBIN ]] && echo "the build installed under \`$BEFORE_PGBIN\` (main before issue 18)" || echo "not measured")."
  echo "Source: $SOURCE_ROWS rows, 1,000 scope values; every stage \`SELECT k, sum(v), count(*) … GROUP BY k\`, scope k,"
  echo "manual policy (the scheduler idle). Medians of $ROUNDS pgbench rounds of $SECS s (2 clients, single-row INSERT)"
  echo "and of $BULK_ROUNDS bulk rounds, builds alternating round by round. Stages' engine: \`$ENGINE\`;"
  echo "every phase (number of stages) starts from the same $SOURCE_ROWS-row source and an empty queue, and every round"
  echo "from an empty queue. The stages as each phase found them (\"keys\": captured through key groups):"
  echo
  sed 's/^/- /' "$OUT/engines.txt"
  echo
  echo "## 1. Single-row INSERT (pgbench TPS) and 100k-row INSERT … SELECT against the number of stages"
  echo
  for sync in on off; do
    echo "synchronous_commit = $sync:"
    echo
    echo "| stages | before TPS | after TPS | before: % of 1 stage | after: % of 1 stage | after/before |"
    echo "|---|---|---|---|---|---|"
    b1=$(median "fanout_tps_$sync" before 1); a1=$(median "fanout_tps_$sync" after 1)
    for n in $STAGES; do
      bt=$(median "fanout_tps_$sync" before "$n"); at=$(median "fanout_tps_$sync" after "$n")
      echo "| $n | ${bt:-–} | ${at:-–} | $(pct "$bt" "$b1") | $(pct "$at" "$a1") | $(ratio "$at" "$bt") |"
    done
    echo
  done
  echo "Same-round ratios to the reference table \`ref\` (the same shape, one stage), measured in the same"
  echo "rounds in alternating order: TPS of src with N stages / TPS of ref, and CPU time of the cluster per"
  echo "transaction of ref / of src (what a CPU-bound server would see). Median, then every round:"
  echo
  echo "| stages | build | TPS ratio, sync on | per round | TPS ratio, sync off | per round | CPU ratio, sync off | per round |"
  echo "|---|---|---|---|---|---|---|---|"
  for n in $STAGES; do
    for lib in $LIBS; do
      IFS='|' read -r m1 p1 <<<"$(rounds fanout_tps_on fanout_ref_tps_on "$lib" "$n")"
      IFS='|' read -r m2 p2 <<<"$(rounds fanout_tps_off fanout_ref_tps_off "$lib" "$n")"
      IFS='|' read -r m3 p3 <<<"$(rounds fanout_ref_cpu_off fanout_cpu_off "$lib" "$n")"
      echo "| $n | $lib | $m1 | $p1 | $m2 | $p2 | $m3 | $p3 |"
    done
  done
  echo
  echo "100k-row \`INSERT … SELECT\` (ms):"
  echo
  echo "| stages | before | after | after/before |"
  echo "|---|---|---|---|"
  for n in $STAGES; do
    bb=$(median fanout_bulk_ms before "$n"); ab=$(median fanout_bulk_ms after "$n")
    echo "| $n | ${bb:-–} | ${ab:-–} | $(ratio "$ab" "$bb") |"
  done
  echo
  echo "## 2. \`CALL incview.refresh_all()\` with 50 stages, one dirty key each (ms, median of $ROUNDS)"
  echo
  echo "| before | after | after/before |"
  echo "|---|---|---|"
  rb=$(median refresh_all_ms before 50); ra=$(median refresh_all_ms after 50)
  echo "| ${rb:-–} | ${ra:-–} | $(ratio "$ra" "$rb") |"
  echo
  echo "## 3. Write path with one stage: capture on vs off (TPS; bulk in ms)"
  echo
  echo "| measurement | build | capture off | capture on | on/off |"
  echo "|---|---|---|---|---|"
  for kind in $(for m in $WRITE_MODES; do echo "write_tps_c${m%,*}_sync_${m#*,}"; done) write_bulk500k_ms; do
    for lib in $WRITE_LIBS; do
      off=$(median "$kind" "$lib" off); on=$(median "$kind" "$lib" on)
      echo "| $kind | $lib | ${off:-–} | ${on:-–} | $(ratio "$on" "$off") |"
    done
  done
  echo
  echo "CPU time of the cluster's processes per transaction (µs, medians; on/off > 1: capture's cost;"
  echo "off/on is the TPS ratio a CPU-bound server would see):"
  echo
  echo "| measurement | build | capture off | capture on | on/off | off/on |"
  echo "|---|---|---|---|---|---|"
  for mode in $WRITE_MODES; do
    kind="write_cpu_c${mode%,*}_sync_${mode#*,}"
    for lib in $WRITE_LIBS; do
      off=$(median "$kind" "$lib" off); on=$(median "$kind" "$lib" on)
      echo "| $kind | $lib | ${off:-–} | ${on:-–} | $(ratio "$on" "$off") | $(ratio "$off" "$on") |"
    done
  done
  if [[ -n $SOAK ]]; then
    echo
    echo "## 4. The queue under a sustained write load (\"after\", 50 continuous stages, scheduler running)"
    echo
    echo "pgbench -R $SOAK_RATE (2 clients) for $SOAK_SECONDS s, achieved $SOAK_TPS TPS; queue drained ${SOAK_DRAIN} s after the load (300 = not drained); stages failing verify then: $SOAK_VERIFY."
    echo
    echo "| time | change records | their size | dirty_scope rows | its size | max lag |"
    echo "|---|---|---|---|---|---|"
    printf '%s' "$SOAK"
  fi
} >"$RESULT"
cat "$RESULT"
