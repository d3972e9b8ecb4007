#!/usr/bin/env bash
# Engine diff on a stage without unique_key (a multiset) vs replace: WAL and time of a
# refresh of D dirty scopes in which 1% or 10% (or any share given) of the scopes' rows
# really change. Two identical keyless stages over the same table (a projection without
# the id: every scope holds duplicate rows), one with engine diff, one with replace; every
# round changes rows in D random scopes, then refreshes both (order alternating), each in
# its own transaction: time and WAL (pg_current_wal_insert_lsn before/after) of the
# incview.refresh call. WAL is measured in two modes, because full-page images decide it:
#   checkpoint  a CHECKPOINT before every refresh: each page a refresh touches first is
#               logged whole (the worst case, what a refresh right after a checkpoint pays)
#   no_fpi      full_page_writes = off: only the WAL records of the rows written
# Both stage tables are vacuumed between rounds (not timed) and compared with their query
# at the end. Writes bench/multiset.md.
#
#   bench/multiset.sh [rounds] [scopes] [rows_per_scope] [dirty_scopes] ["shares in %"]
#   bench/multiset.sh 7 2000 100 100 "1 10"      # the default: a few minutes on 2 cores
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
ROUNDS=${1:-7}
SCOPES=${2:-2000}
PER_SCOPE=${3:-100}
DIRTY=${4:-100}
SHARES=${5:-1 10}
PGBIN=${PGBIN:-$("${PG_CONFIG:-/usr/bin/pg_config}" --bindir)}
PORT=${BENCH_PGPORT:-${INCVIEW_PGPORT:-54338}}
DATADIR=${BENCH_PGDATA:-${INCVIEW_PGDATA:-/tmp/pg_incview_multiset}}
RESULT=${BENCH_RESULT:-$HERE/multiset.md}
cluster() {
  INCVIEW_PGPORT=$PORT INCVIEW_PGDATA=$DATADIR INCVIEW_FAST=0 PGBIN=$PGBIN \
    INCVIEW_PGCONF_EXTRA="incview.enabled = off" bash "$ROOT/scripts/cluster.sh" "$@" >/dev/null
}
trap 'cluster stop || true; rm -rf "$DATADIR"' EXIT
INCVIEW_FRESH=1 cluster start
psql() { "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h /tmp -p "$PORT" -U postgres "$@"; }
psql -d postgres -c "CREATE DATABASE multiset"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
psql -d multiset -v scopes="$SCOPES" -v per_scope="$PER_SCOPE" -v dirty="$DIRTY" <<'SQL'
SET client_min_messages = error;
CREATE EXTENSION pg_incview;
SET incview.default_policy = manual;
-- g: the scope; (a, b): 10 x 2 values, so each scope of 100 rows holds ~5 copies of each.
CREATE TABLE events (id bigserial PRIMARY KEY, g int NOT NULL, a int NOT NULL, b text);
INSERT INTO events (g, a, b)
SELECT s, (s * 7 + k) % 10, CASE WHEN k % 2 = 0 THEN 'even' END
FROM generate_series(0, :scopes - 1) s, generate_series(1, :per_scope) k;
CREATE INDEX ON events (g);
ANALYZE events;
SELECT incview.create_stage('ms', 'SELECT g, a, b FROM events', ARRAY['g'], engine => 'diff');
SELECT incview.create_stage('rp', 'SELECT g, a, b FROM events', ARRAY['g'], engine => 'replace');
CREATE TABLE timing (mode text, share numeric, round int, stage text, ms float8, wal bigint,
                     deleted bigint, inserted bigint);
-- Change `share` % of the rows of each of `dirty` random scopes (at least one row per
-- scope, so every chosen scope is dirty).
CREATE PROCEDURE change(share numeric, r int, dirty int, per_scope int, scopes int) LANGUAGE plpgsql AS $$
BEGIN
  PERFORM setseed((r % 97) / 100.0);
  UPDATE events SET a = (a + 1) % 10
  WHERE id IN (SELECT x.id FROM (SELECT e.id, row_number() OVER (PARTITION BY e.g ORDER BY random()) AS n
                                 FROM events e
                                 WHERE e.g = ANY (ARRAY(SELECT g FROM generate_series(0, scopes - 1) g
                                                        ORDER BY random() LIMIT dirty))) x
               WHERE x.n <= greatest(1, round(per_scope * share / 100)));
END $$;
-- Refresh one stage in its own transaction, measured.
CREATE PROCEDURE measure(mode text, share numeric, r int, s text) LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz; w0 pg_lsn; ms float8; wal bigint;
BEGIN
  w0 := pg_current_wal_insert_lsn();
  t0 := clock_timestamp();
  PERFORM incview.refresh(s);
  ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
  wal := pg_current_wal_insert_lsn() - w0;
  INSERT INTO timing SELECT mode, share, r, s, ms, wal, l.rows_deleted, l.rows_inserted
  FROM incview.refresh_log l WHERE l.stage = s ORDER BY l.id DESC LIMIT 1;
END $$;
SQL
psql -d multiset -c "VACUUM ANALYZE ms" -c "VACUUM ANALYZE rp"
for mode in checkpoint no_fpi; do
  if [[ $mode == no_fpi ]]; then
    psql -d multiset -c "ALTER SYSTEM SET full_page_writes = off" -c "SELECT pg_reload_conf()" >/dev/null
    sleep 1
  fi
  for share in $SHARES; do
    for ((i = 1; i <= ROUNDS; i++)); do
      psql -d multiset -c "CALL change($share, $i, $DIRTY, $PER_SCOPE, $SCOPES)"
      if (( i % 2 )); then order="ms rp"; else order="rp ms"; fi
      for s in $order; do
        [[ $mode == checkpoint ]] && psql -d multiset -c "CHECKPOINT"
        psql -d multiset -c "CALL measure('$mode', $share, $i, '$s')"
      done
      psql -d multiset -c "VACUUM ms" -c "VACUUM rp"
    done
  done
done
psql -d multiset -c "ALTER SYSTEM RESET full_page_writes" -c "SELECT pg_reload_conf()" >/dev/null
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
check=$(psql -d multiset -c "SELECT (SELECT row(missing, extra)::text FROM incview.verify('ms')) || ' ' ||
                                    (SELECT row(missing, extra)::text FROM incview.verify('rp'))")
[[ $check == "(0,0) (0,0)" ]] || { echo "stage differs from its query: $check" >&2; exit 1; }
dups=$(psql -d multiset -c "SELECT count(*) FROM (SELECT 1 FROM ms GROUP BY g, a, b HAVING count(*) > 1) d")
table=$(psql -d multiset <<'SQL'
WITH m AS (
  SELECT mode, share, stage, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS ms,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY wal) AS wal,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY deleted + inserted) AS written
  FROM timing GROUP BY mode, share, stage)
SELECT format('| %s | %s %% | %s | %s | %s ms | %s ms | **%s×** | %s kB | %s kB | **%s×** |',
              d.mode, d.share, d.written, r.written, round(d.ms::numeric, 1), round(r.ms::numeric, 1),
              round((r.ms / d.ms)::numeric, 2), round(d.wal::numeric / 1024, 1), round(r.wal::numeric / 1024, 1),
              round((r.wal / nullif(d.wal, 0))::numeric, 1))
FROM m d JOIN m r ON r.mode = d.mode AND r.share = d.share AND r.stage = 'rp' WHERE d.stage = 'ms'
ORDER BY d.mode, d.share;
SQL
)
{
  echo "## diff without unique_key (multiset) vs replace (bench/multiset.sh)"
  echo
  echo "Written by \`bench/multiset.sh $ROUNDS $SCOPES $PER_SCOPE $DIRTY \"$SHARES\"\` on $(date -u '+%Y-%m-%d %H:%M UTC'),"
  echo "git \`$(git -C "$ROOT" rev-parse --short HEAD)\`; $(nproc) CPUs shared with other work (load average"
  echo "$load_before before, $load_after after), $("$PGBIN/postgres" --version), fsync on."
  echo
  echo "Table \`events\`: $SCOPES scopes × $PER_SCOPE rows; two stages \`SELECT g, a, b FROM events\`"
  echo "(scope \`g\`, no unique_key: $dups distinct rows of \`ms\` have more than one copy), one with"
  echo "engine \`diff\` (multiset pairing), one with \`replace\`. Each round changes the given share of"
  echo "the rows of $DIRTY random scopes (at least one row each), then refreshes both stages in"
  echo "alternating order, each in its own transaction. Medians of $ROUNDS rounds per share and mode:"
  echo "rows written (deleted + inserted), time and WAL of the \`incview.refresh\` call. Mode"
  echo "\`checkpoint\`: a \`CHECKPOINT\` before every refresh, so every page a refresh touches first is"
  echo "logged whole (full-page images: the worst case); \`no_fpi\`: \`full_page_writes = off\`, only"
  echo "the WAL records of the rows written (what a refresh writes on pages already logged since"
  echo "the last checkpoint)."
  echo
  echo "| WAL mode | rows changed in the dirty scopes | rows written: diff | replace | time: diff | replace | replace / diff | WAL: diff | replace | replace / diff |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  echo "$table"
  echo
  echo "Both stages equal to their query at the end (\`incview.verify\`: $check)."
} > "$RESULT"
cat "$RESULT"
