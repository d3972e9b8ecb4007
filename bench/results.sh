#!/usr/bin/env bash
# Writes RESULTS.md (markdown, to stdout) from the measurements of bench/run.sh.
#   bench/results.sh bench/out/run.env > RESULTS.md
# Needs the benchmark cluster still running (bench/run.sh calls it before stopping it;
# BENCH_KEEP=1 bench/run.sh ... keeps the cluster so this can be re-run by hand).
# The hand-written files of bench/ follow a marker line: bench/results.sh --includes RESULTS.md
# re-reads them into an existing RESULTS.md (everything after the marker), without the cluster,
# so a hand-written measurement is never lost to the next run and never copied by hand.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MARKER='<!-- Below: hand-written files of bench/, re-read by `bench/results.sh --includes RESULTS.md`; edit those files, not this part. -->'

# The marker, findings.md and summaries.md, then every other measurement file of bench/ by its title.
hand_written() {
  echo
  echo "$MARKER"
  local f
  for f in findings.md summaries.md; do
    [[ -f "$HERE/$f" ]] && { echo; cat "$HERE/$f"; }
  done
  echo
  echo "## Every measurement file"
  echo
  echo "Each script of bench/ writes its own file (bench/README.md says which), listed here by its first heading:"
  echo
  for f in "$HERE"/*.md; do
    case $(basename "$f") in README.md | RESULTS.md | findings.md | summaries.md) continue ;; esac
    echo "- [$(basename "$f")]($(basename "$f")): $(grep -m1 '^#' "$f" | sed 's/^#* *//')"
  done
}

if [[ ${1:-} == --includes ]]; then
  TARGET=${2:?usage: results.sh --includes RESULTS.md}
  grep -qxF "$MARKER" "$TARGET" || { echo "results.sh: no marker line in $TARGET" >&2; exit 1; }
  { awk -v m="$MARKER" '$0 == m { exit } { print }' "$TARGET"; hand_written | tail -n +2; } > "$TARGET.new"
  mv "$TARGET.new" "$TARGET"
  exit 0
fi

ENV_FILE=${1:?usage: results.sh bench/out/run.env}
# shellcheck disable=SC1090
source "$ENV_FILE"
PSQL=("$PGBIN/psql" -X -q -h /tmp -p "$PORT" -U postgres -v ON_ERROR_STOP=1 -d "$DB" -At)
q() { "${PSQL[@]}" "$@"; }

human() { local s=$1; printf '%dm %02ds' $((s / 60)) $((s % 60)); }

cat <<EOF
# pg_incview benchmarks

Written by \`bench/run.sh $SCALE\` ([bench/README.md](README.md)) on $START_TS; the whole run
took $(human "$RUNTIME"). Every number is the median of $REPS runs unless stated otherwise;
raw data in \`bench/out/raw.csv\` (not committed). Re-run the script rather than editing this file.
EOF
if [[ "$SMOKE" == 1 ]]; then
  echo
  echo "**Smoke run (scale $SCALE): the data is tiny, the numbers say nothing about performance.**"
fi

cat <<EOF

## Machine and setup

- CPU: $MACHINE_CPU; memory: $MACHINE_MEM; $KERNEL
- load average (1/5/15 min) at start: $LOAD_START, at the end: $LOAD_END. The machine has
  2 cores and was shared with other engineers' compilers during the run: expect noise,
  which is why every figure is a median.
- $PG_VERSION
- pg_incview: git \`$GIT_REV\` (the installed library at the time of the run)
- own throwaway cluster (\`scripts/cluster.sh\`, fsync and synchronous_commit **on**), plus:
  \`$PGCONF_LINE\`; autovacuum on, JIT at its default (on)
- data: \`examples/vet/data.sql\` with scale $SCALE: $COUNTS (loaded in ${LOAD_SECONDS}s);
  the stage of \`examples/vet/stage.sql\` has $(printf "%'d" "$STAGE_ROWS") rows ($STAGE_SIZE with its two indexes)
EOF

# ------------------------------------------------------------------------------ targets
TARGETS=$(q -v kp=100 <<'SQL'
WITH r AS (SELECT method, k, ms, share FROM bench.med WHERE experiment = 'refresh'),
k100 AS (SELECT max(ms) FILTER (WHERE method = 'diff') AS diff, max(ms) FILTER (WHERE method = 'auto') AS auto,
                max(ms) FILTER (WHERE method = 'mvc') AS mvc, max(ms) FILTER (WHERE method = 'floor') AS floor
         FROM r WHERE k = 100),
pgb AS (SELECT max(tps) FILTER (WHERE method = 'capture') AS cap, max(tps) FILTER (WHERE method = 'no_capture') AS nocap
        FROM bench.med WHERE experiment = 'pgbench' AND variant = 'sync_commit_on'),
bulk AS (SELECT variant, max(ms) FILTER (WHERE method = 'capture') AS cap, max(ms) FILTER (WHERE method = 'no_capture') AS nocap
         FROM bench.med WHERE experiment = 'bulk' GROUP BY variant),
autos AS (SELECT k, share, max(ms) FILTER (WHERE method = 'auto') AS auto,
                 max(ms) FILTER (WHERE method = 'replace') AS rep, max(ms) FILTER (WHERE method = 'diff') AS diff,
                 max(ms) FILTER (WHERE method = 'full') AS full_ms
          FROM r GROUP BY k, share),
worst AS (SELECT k, share, auto, least(rep, diff, full_ms) AS best,
                 CASE least(rep, diff, full_ms) WHEN rep THEN 'replace (batched)' WHEN diff THEN 'diff (batched)' ELSE 'full' END AS best_name,
                 auto / least(rep, diff, full_ms) AS ratio,
                 (SELECT string_agg(DISTINCT engines, ',') FROM bench.raw x WHERE x.experiment = 'refresh' AND x.method = 'auto' AND x.k = autos.k) AS did
          FROM autos ORDER BY auto / least(rep, diff, full_ms) DESC LIMIT 1)
SELECT '| refresh of 100 dirty patients ≥ 500× faster than `REFRESH MATERIALIZED VIEW CONCURRENTLY` | ' ||
       CASE WHEN diff IS NULL THEN 'k = 100 not measured at this scale | n/a |'
            ELSE format('diff %s vs %s: **%s** | %s |', bench.fmt_ms(diff), bench.fmt_ms(mvc), bench.fmt_x(mvc / diff),
                        CASE WHEN mvc / diff >= 500 THEN 'met' ELSE '**not met**' END) END
FROM k100
UNION ALL
SELECT '| refresh of 100 dirty patients within 1.5× of the hand-written floor | ' ||
       CASE WHEN diff IS NULL THEN 'k = 100 not measured at this scale | n/a |'
            ELSE format('diff %s vs floor %s: **%s** (auto %s: %s) | %s |', bench.fmt_ms(diff), bench.fmt_ms(floor),
                        bench.fmt_x(diff / floor), bench.fmt_ms(auto), bench.fmt_x(auto / floor),
                        CASE WHEN diff / floor <= 1.5 THEN 'met' ELSE '**not met**' END) END
FROM k100
UNION ALL
SELECT format('| single-row INSERT TPS with capture ≥ 95%% of without (pgbench, 2 clients) | %s vs %s tps: **%s%%** | %s |',
              round(cap::numeric), round(nocap::numeric), round((100 * cap / nocap)::numeric, 1),
              CASE WHEN cap / nocap >= 0.95 THEN 'met' ELSE '**not met**' END)
FROM pgb
UNION ALL
SELECT format('| bulk INSERT … SELECT with capture ≤ 1.15× without (%s) | %s vs %s: **%s** | %s |',
              CASE variant WHEN 'all_patients' THEN 'rows spread over all patients'
                           ELSE 'rows spread over 10% of the patients' END,
              bench.fmt_ms(cap), bench.fmt_ms(nocap), bench.fmt_x(cap / nocap),
              CASE WHEN cap / nocap <= 1.15 THEN 'met' ELSE '**not met**' END)
FROM bulk
UNION ALL
SELECT format('| `auto` never more than 20%% slower than the better of batched (replace or diff) and full, at any share | worst at %s dirty (k = %s): auto (%s) %s vs %s %s: **%s** | %s |',
              bench.fmt_share(w.share), to_char(w.k, 'FM999G999G999'), w.did, bench.fmt_ms(w.auto), w.best_name, bench.fmt_ms(w.best), bench.fmt_x(w.ratio),
              CASE WHEN w.ratio <= 1.2 THEN 'met' ELSE '**not met**' END)
FROM worst w
SQL
)
if [[ "$LAG_STATUS" == measured ]]; then
  TARGETS+=$'\n'$(q <<'SQL'
WITH p AS (
  SELECT r.variant, percentile_cont(0.95) WITHIN GROUP (ORDER BY r.ms) AS p95,
         (SELECT t.tps FROM bench.raw t WHERE t.experiment = 'lag_load_tps' AND t.variant = r.variant LIMIT 1) AS tps
  FROM bench.raw r WHERE r.experiment = 'lag_load' AND r.variant <> 'rate=0' GROUP BY r.variant)
SELECT format('| freshness lag p95 ≤ 1 s at the default policy (continuous), under a sustained pgbench INSERT load at a fixed rate (the unthrottled run is capacity, below) | %s | %s |',
              string_agg(format('%s inserts/s: p95 **%s**', round(tps), bench.fmt_ms(p95)), '; ' ORDER BY tps),
              CASE WHEN bool_and(p95 <= 1000) THEN 'met' ELSE '**not met**' END)
FROM p
SQL
)
else
  TARGETS+=$'\n'"| freshness lag (commit → refreshed) | $LAG_STATUS | – |"
fi
cat <<EOF

## Targets

| target | measured (medians) | |
|---|---|---|
$TARGETS
EOF

# ------------------------------------------------------------------------------ build
cat <<EOF

## Initial build

Median of $BUILD_REPS builds of the same query over the loaded data (each run drops the previous
object first).

| method | time | vs \`CREATE MATERIALIZED VIEW\` + unique index |
|---|---|---|
EOF
q <<'SQL'
WITH b AS (SELECT method, ms FROM bench.med WHERE experiment = 'build'),
mv AS (SELECT sum(ms) AS ms FROM b WHERE method IN ('matview', 'matview_unique_index'))
SELECT format('| %s | %s | %s |', label, bench.fmt_ms(ms), bench.fmt_x(ms / (SELECT ms FROM mv)))
FROM (SELECT 1 AS o, '`incview.create_stage` (table, scope index, unique index, triggers, fill)' AS label, ms FROM b WHERE method = 'create_stage'
      UNION ALL SELECT 2, '`CREATE MATERIALIZED VIEW`', ms FROM b WHERE method = 'matview'
      UNION ALL SELECT 3, '`CREATE MATERIALIZED VIEW` + `CREATE UNIQUE INDEX (patient_id, product_id)`', (SELECT ms FROM mv)
      UNION ALL SELECT 4, 'hand-written `CREATE TABLE AS` + the same two indexes as the stage', ms FROM b WHERE method = 'table_as') x
ORDER BY o
SQL

# ------------------------------------------------------------------------------ refresh
cat <<EOF

## Refresh after a change to k patients

The change: each of k patients gets one new medication that becomes its latest event (and
loses the one of the previous round), so exactly one \`(patient, product)\` row per patient
changes. Changes are captured by the stage's triggers as in production, in statements of at
most $(q -c "SELECT chunk FROM bench.meta") patients (a single statement touching more than
half of the patients would queue one "every scope" marker and force a rebuild for every
engine). Then one timed \`SELECT incview.refresh('patient_product_due')\` per engine
(\`incview.set_engine\`), \`REFRESH MATERIALIZED VIEW [CONCURRENTLY]\` on a matview of the
same query (with a unique index on \`(patient_id, product_id)\`), and the hand-written floor:
\`BEGIN; DELETE FROM t WHERE patient_id = ANY(:ids); INSERT INTO t SELECT … WHERE patient_id
= ANY(:ids); COMMIT\` on a plain copy table with the stage's two indexes. Times include the
commit. Before each timed run (untimed): \`VACUUM\` of the measured table and \`medications\`,
then the change.

| k dirty patients | replace | diff | auto (what it did) | full | hand-written floor | \`REFRESH … CONCURRENTLY\` | \`REFRESH MATERIALIZED VIEW\` |
|---|---|---|---|---|---|---|---|
EOF
q <<'SQL'
SELECT format('| %s (%s) | %s | %s | %s (%s) | %s | %s | %s | %s |',
  to_char(k, 'FM999G999G999'), bench.fmt_share(share),
  bench.fmt_ms(max(ms) FILTER (WHERE method = 'replace')), bench.fmt_ms(max(ms) FILTER (WHERE method = 'diff')),
  bench.fmt_ms(max(ms) FILTER (WHERE method = 'auto')),
  coalesce(replace(max(engines) FILTER (WHERE method = 'auto'), '+', ' + '), '?'),
  bench.fmt_ms(max(ms) FILTER (WHERE method = 'full')), bench.fmt_ms(max(ms) FILTER (WHERE method = 'floor')),
  bench.fmt_ms(max(ms) FILTER (WHERE method = 'mvc')), bench.fmt_ms(max(ms) FILTER (WHERE method = 'mv')))
FROM bench.med WHERE experiment = 'refresh' GROUP BY k, share ORDER BY k
SQL

cat <<EOF

Ratios of the medians (> 1 means pg_incview is faster, except the "× floor" columns):

| k | \`CONCURRENTLY\` / diff | \`REFRESH\` / diff | diff × floor | auto × floor | auto / best of (batched, full) | rows written: replace / diff |
|---|---|---|---|---|---|---|
EOF
q <<'SQL'
WITH m AS (
  SELECT k, share,
         max(ms) FILTER (WHERE method = 'replace') AS rep, max(ms) FILTER (WHERE method = 'diff') AS diff,
         max(ms) FILTER (WHERE method = 'auto') AS auto, max(ms) FILTER (WHERE method = 'full') AS full_ms,
         max(ms) FILTER (WHERE method = 'floor') AS floor, max(ms) FILTER (WHERE method = 'mvc') AS mvc,
         max(ms) FILTER (WHERE method = 'mv') AS mv,
         max(rows_written) FILTER (WHERE method = 'replace') AS rw_rep, max(rows_written) FILTER (WHERE method = 'diff') AS rw_diff
  FROM bench.med WHERE experiment = 'refresh' GROUP BY k, share)
SELECT format('| %s (%s) | %s | %s | %s | %s | %s | %s / %s |', to_char(k, 'FM999G999G999'), bench.fmt_share(share),
              bench.fmt_x(mvc / diff), bench.fmt_x(mv / diff), bench.fmt_x(diff / floor), bench.fmt_x(auto / floor),
              bench.fmt_x(auto / least(least(rep, diff), full_ms)),
              to_char(rw_rep, 'FM999G999G999'), to_char(rw_diff, 'FM999G999G999'))
FROM m ORDER BY k
SQL

cat <<EOF

![refresh time vs share of dirty patients](refresh.png)

\`bench/refresh.png\`: every method, log-log. Spread of the runs (min–max, ms):
EOF
q <<'SQL'
SELECT string_agg(format('%s %s: %s–%s', method, k, round(min_ms::numeric, 1), round(max_ms::numeric, 1)), '; ' ORDER BY k, method)
FROM bench.med WHERE experiment = 'refresh'
SQL

# ------------------------------------------------------------------------------ WAL
cat <<EOF

## WAL written by a refresh (diff vs replace)

$WAL_PATIENTS dirty patients whose $(printf "%'d" "$WAL_ROWS") stage rows are refreshed; $WAL_CHANGED of
those rows (~1%) really change (those patients got a new latest medication), the other
patients only had a no-op \`UPDATE\` of one medication. WAL = \`pg_current_wal_insert_lsn()\`
after minus before the refresh (commit included). "after checkpoint": a \`CHECKPOINT\` right
before, so the first change of every page writes a full-page image; "steady": right after
the previous refresh of the same patients, no checkpoint in between.

| | diff | replace | replace / diff | diff time | replace time |
|---|---|---|---|---|---|
EOF
q <<'SQL'
SELECT format('| %s | %s | %s | %s | %s | %s |', variant,
              bench.fmt_bytes(max(wal_bytes) FILTER (WHERE method = 'diff')),
              bench.fmt_bytes(max(wal_bytes) FILTER (WHERE method = 'replace')),
              bench.fmt_x(max(wal_bytes) FILTER (WHERE method = 'replace') / nullif(max(wal_bytes) FILTER (WHERE method = 'diff'), 0)),
              bench.fmt_ms(max(ms) FILTER (WHERE method = 'diff')), bench.fmt_ms(max(ms) FILTER (WHERE method = 'replace')))
FROM bench.med WHERE experiment = 'wal' GROUP BY variant ORDER BY variant
SQL

# ------------------------------------------------------------------------------ write path
cat <<EOF

## Write path: the cost of capture

With capture = the stage's four statement triggers on \`medications\` enabled; without =
\`ALTER TABLE medications DISABLE TRIGGER USER\` (same table, same indexes). The background
scheduler is off (\`incview.enabled = off\`) unless stated, so the first rows measure the
writer's own cost. Rounds alternate
(capture first in odd rounds, last in even ones); before each round the inserted rows are
deleted, the dirty queue emptied, \`VACUUM\` and \`CHECKPOINT\`.

Single-row \`INSERT INTO medications … VALUES (random patient, random product, now())\`,
pgbench, 2 clients, ${PGB_SECONDS}s per round, median of $PGB_ROUNDS rounds per mode:

| commit mode | TPS with capture | TPS without | with / without |
|---|---|---|---|
EOF
q <<'SQL'
SELECT format('| %s | %s | %s | **%s%%** |',
              CASE variant WHEN 'sync_commit_on' THEN 'synchronous_commit = on (default; fsync per commit), scheduler off'
                           WHEN 'sync_commit_off' THEN 'synchronous_commit = off (CPU-bound: the capture work itself), scheduler off'
                           ELSE 'synchronous_commit = on, background scheduler **on** (stage policy manual: the scheduler only polls every naptime, nothing to refresh)' END,
              round(max(tps) FILTER (WHERE method = 'capture')::numeric),
              round(max(tps) FILTER (WHERE method = 'no_capture')::numeric),
              round((100 * max(tps) FILTER (WHERE method = 'capture') / max(tps) FILTER (WHERE method = 'no_capture'))::numeric, 1))
FROM bench.med WHERE experiment = 'pgbench' GROUP BY variant ORDER BY variant DESC
SQL
cat <<EOF

Bulk \`INSERT INTO medications … SELECT … FROM generate_series(1, $BULK_ROWS)\` (one statement,
commit included), median of $BULK_ROUNDS rounds per mode:

| rows spread over | with capture | without | ratio | what capture queued |
|---|---|---|---|---|
EOF
q <<SQL
SELECT format('| %s | %s | %s | **%s** | %s |',
              CASE variant WHEN 'all_patients' THEN 'all $N_PATIENTS patients' ELSE '10% of the patients ($BULK_P10)' END,
              bench.fmt_ms(max(ms) FILTER (WHERE method = 'capture')), bench.fmt_ms(max(ms) FILTER (WHERE method = 'no_capture')),
              bench.fmt_x(max(ms) FILTER (WHERE method = 'capture') / max(ms) FILTER (WHERE method = 'no_capture')),
              (SELECT string_agg(DISTINCT regexp_replace(note, '^.*queued: ', ''), ', ') FROM bench.raw r
               WHERE r.experiment = 'bulk' AND r.variant = m.variant AND r.method = 'capture'))
FROM bench.med m WHERE experiment = 'bulk' GROUP BY variant ORDER BY variant
SQL

# ------------------------------------------------------------------------------ lag
cat <<EOF

## Freshness lag

EOF
if [[ "$LAG_STATUS" == measured ]]; then
  cat <<EOF
The background scheduler on (\`incview.set_policy('patient_product_due', 'continuous')\`), the
change applied and committed, then the time until its dirty keys have left the queue, which
happens in the refresh's own transaction (polled every 0.5 ms). $LAG_REPS changes per size,
0.2 s apart.

| change | median | min | max |
|---|---|---|---|
EOF
  q <<'SQL'
SELECT format('| %s patient(s) | %s | %s | %s |', k, bench.fmt_ms(ms), bench.fmt_ms(min_ms), bench.fmt_ms(max_ms))
FROM bench.med WHERE experiment = 'lag' ORDER BY k
SQL
  cat <<EOF

**Under a sustained write load.** pgbench inserts medications of random patients (2 clients,
\`-R\` the target rate; every insert is a real change of a patient's latest event), the
stage's policy continuous. Meanwhile $LAG_PROBES probes, 0.2 s apart (\`bench.lag_probe\`): a
medication of a random patient dated in the future is committed, then the stage is polled
every millisecond until its row shows that date. Lag = commit → visible to readers.

| target load (pgbench -R) | achieved inserts/s | probes | p50 | p95 | max | dirty keys left at the end |
|---|---|---|---|---|---|---|
EOF
  q <<'SQL'
SELECT format('| %s | %s | %s | %s | %s | %s | %s |',
              CASE WHEN r.variant = 'rate=0' THEN 'unthrottled' ELSE replace(r.variant, 'rate=', '') || '/s' END,
              round(t.tps), count(*),
              bench.fmt_ms(percentile_cont(0.5) WITHIN GROUP (ORDER BY r.ms)),
              bench.fmt_ms(percentile_cont(0.95) WITHIN GROUP (ORDER BY r.ms)),
              bench.fmt_ms(max(r.ms)) || CASE WHEN bool_or(r.note = 'timeout') THEN format(' (%s probes > 30 s)', count(*) FILTER (WHERE r.note = 'timeout')) ELSE '' END,
              regexp_replace(t.note, '^backlog at the end: ', ''))
FROM bench.raw r JOIN bench.raw t ON t.experiment = 'lag_load_tps' AND t.variant = r.variant
WHERE r.experiment = 'lag_load'
GROUP BY r.variant, t.tps, t.note ORDER BY t.tps
SQL
else
  cat <<EOF
| measure | value |
|---|---|
| time from a commit to the refreshed row, background scheduler on | $LAG_STATUS |
EOF
fi

# ------------------------------------------------------------------------------ checks
CHECKS=$(q -c "SELECT count(*) FILTER (WHERE note <> '0'), count(*) FROM bench.raw WHERE experiment = 'check' AND method NOT LIKE 'verify%'")
cat <<EOF

## Correctness checks

- after every refresh method block (all k, every engine and the floor): the rows of the k
  patients compared with the query restricted to them, both ways (\`bench.check_scoped\`):
  $(echo "$CHECKS" | awk -F'|' '{ if ($1 == 0) printf "all %d checks found 0 differing rows", $2; else printf "**%d of %d checks found differences** (see raw.csv, experiment = check)", $1, $2 }')
- \`incview.verify('patient_product_due')\` after all refresh and WAL runs: (missing, extra) = ($VERIFY)
- \`incview.verify('patient_product_due')\` after the freshness-lag runs (the scheduler refreshing while pgbench wrote): (missing, extra) = (${VERIFY_LAG:-not run})
EOF

# ------------------------------------------------------------------------------ profile
if [[ "$PROFILE" == 1 ]]; then
  cat <<EOF

## Profile

Every statement the refresh runs, from \`auto_explain\` (\`log_nested_statements\`, \`log_analyze\`;
one extra run each, not part of the medians; timing instrumentation adds overhead). Full
plans in \`bench/out/profile-*.txt\`.
EOF
  for f in $(printf "%s\n" "diff-k$KP" "replace-k$KP" "floor-k$KP" "diff-k$KB" full | awk '!seen[$0]++'); do
    [[ -f "$OUT/profile-$f.txt" ]] || continue
    echo
    echo "**$f**"
    echo
    echo "| runs | total | statement (first 90 characters) |"
    echo "|---|---|---|"
    awk '
      /duration: [0-9.]+ ms/ { match($0, /duration: [0-9.]+/); d = substr($0, RSTART + 10, RLENGTH - 10); want = 1; next }
      want && /Query Text:/ { q = $0; sub(/.*Query Text: */, "", q); gsub(/[ \t]+/, " ", q); q = substr(q, 1, 90);
                              if (!(q in n)) order[++m] = q; n[q]++; t[q] += d; want = 0 }
      END { for (i = 1; i <= m; i++) { q = order[i]; gsub(/\|/, "\\|", q); printf "| %d | %.1f ms | `%s` |\n", n[q], t[q], q } }' \
      "$OUT/profile-$f.txt"
  done
fi

cat <<EOF

## How to reproduce

\`\`\`sh
bench/run.sh $SCALE      # see bench/README.md for the knobs (BENCH_REPS, BENCH_KEEP, ...)
\`\`\`
EOF

hand_written
