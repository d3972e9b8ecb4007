#!/usr/bin/env bash
# What the subscriber row trigger incview_capture_row (ENABLE REPLICA) costs ordinary
# sessions, where it never fires (docs/replication.md): PostgreSQL fetches the old row for
# an AFTER ROW UPDATE/DELETE trigger before it looks at whether the trigger is enabled.
# Two identical tables in a database with a subscription (so both get the row trigger), each
# the source of an identical stage; table b's row trigger is dropped. Alternating rounds of
# a 50,000-row UPDATE and a 50,000-row DELETE (+ re-INSERT, not timed) on each, VACUUM
# between runs; medians. Writes bench/row_trigger_cost.md.
#
#   bench/row_trigger_cost.sh [rounds]        # ~2 minutes with 7 rounds
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
ROUNDS=${1:-7}
PGBIN=${PGBIN:-$("${PG_CONFIG:-/usr/bin/pg_config}" --bindir)}
PORT=${BENCH_PGPORT:-54337}
DATADIR=${BENCH_PGDATA:-/tmp/pg_incview_rowcost}
RESULT=${BENCH_RESULT:-$HERE/row_trigger_cost.md}
cluster() {
  INCVIEW_PGPORT=$PORT INCVIEW_PGDATA=$DATADIR INCVIEW_FAST=0 PGBIN=$PGBIN \
    INCVIEW_PGCONF_EXTRA="synchronous_commit = off
incview.enabled = off" bash "$ROOT/scripts/cluster.sh" "$@" >/dev/null
}
trap 'cluster stop || true; rm -rf "$DATADIR"' EXIT
INCVIEW_FRESH=1 cluster start
psql() { "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h /tmp -p "$PORT" -U postgres "$@"; }
psql -d postgres -c "CREATE DATABASE rowcost"
psql -d rowcost <<'SQL'
SET client_min_messages = error;
CREATE EXTENSION pg_incview;
CREATE SUBSCRIPTION rowcost_sub CONNECTION 'dbname=nowhere' PUBLICATION nothing WITH (connect = false);
SET incview.default_policy = manual;
CREATE TABLE a (id int PRIMARY KEY, k int, v int) WITH (fillfactor = 50);
CREATE TABLE b (id int PRIMARY KEY, k int, v int) WITH (fillfactor = 50);
INSERT INTO a SELECT g, g % 1000, g FROM generate_series(1, 100000) g;
INSERT INTO b SELECT g, g % 1000, g FROM generate_series(1, 100000) g;
SELECT incview.create_stage('sa', 'SELECT k, sum(v) AS v FROM a GROUP BY k', ARRAY['k']);
SELECT incview.create_stage('sb', 'SELECT k, sum(v) AS v FROM b GROUP BY k', ARRAY['k']);
DROP TRIGGER incview_capture_row ON b;
CREATE TABLE timing (tbl text, op text, ms float8);
CREATE PROCEDURE run(tbl text) LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz;
BEGIN
  t0 := clock_timestamp();
  EXECUTE format('UPDATE %I SET v = v + 1 WHERE id <= 50000', tbl);
  INSERT INTO timing VALUES (tbl, 'update', extract(epoch FROM clock_timestamp() - t0) * 1000);
  COMMIT;
  t0 := clock_timestamp();
  EXECUTE format('DELETE FROM %I WHERE id > 50000', tbl);
  INSERT INTO timing VALUES (tbl, 'delete', extract(epoch FROM clock_timestamp() - t0) * 1000);
  EXECUTE format('INSERT INTO %I SELECT g, g %% 1000, g FROM generate_series(50001, 100000) g', tbl);
  DELETE FROM incview.dirty_scope;
  COMMIT;
END $$;
SQL
psql -d rowcost -c "VACUUM ANALYZE a" -c "VACUUM ANALYZE b"
for ((i = 1; i <= ROUNDS; i++)); do
  if (( i % 2 )); then order="a b"; else order="b a"; fi
  for t in $order; do psql -d rowcost -c "CALL run('$t')" -c "VACUUM $t"; done
done
table=$(psql -d rowcost -F ' | ' <<'SQL'
SELECT '| ' || op || ' | ' || round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE tbl = 'b')::numeric, 1)
       || ' ms | ' || round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE tbl = 'a')::numeric, 1)
       || ' ms | ' || round((percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE tbl = 'a')
                 / percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE tbl = 'b'))::numeric, 2) || '× |'
FROM timing GROUP BY op ORDER BY op DESC;
SQL
)
{
  echo "# Cost of the subscriber row trigger in ordinary sessions"
  echo
  echo "Written by \`bench/row_trigger_cost.sh $ROUNDS\` on $(date -u '+%Y-%m-%d %H:%M UTC'), git \`$(git -C "$ROOT" rev-parse --short HEAD)\`;"
  echo "$(nproc) CPUs (shared with other work: expect noise), $("$PGBIN/postgres" --version)."
  echo "Medians of $ROUNDS alternating rounds; 50,000 rows per statement on a 100,000-row table,"
  echo "fsync on, synchronous_commit off, each table the source of one stage."
  echo
  echo "| statement | without \`incview_capture_row\` | with it (never fires) | ratio |"
  echo "|---|---|---|---|"
  echo "$table"
  echo
  echo "The row trigger is created only in databases with a subscription, the only place it"
  echo "acts (docs/replication.md). On a shared 2-core machine single runs differ by more than"
  echo "the ratio: compare several runs before reading a cost into one."
} > "$RESULT"
cat "$RESULT"
