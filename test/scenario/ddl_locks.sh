#!/usr/bin/env bash
# Stage DDL must not freeze the sources (issue 19, item 1, the parts done so far): while a
# transaction runs alter_stage (its rebuild included) or drop_stage of one of two stages
# sharing a source, a reader and a writer of that source get through with lock_timeout =
# 500ms. (alter_stage used to DROP and re-CREATE the triggers: ACCESS EXCLUSIVE until commit.)
# create_stage over a source that already carries pg_incview's triggers lets readers
# through but holds writers until it commits (issue 11: a writer open meanwhile would reach
# neither the build nor the new stage's queue; specs/new_source_race.spec):
# create_stage_concurrently is the online way.
set -euo pipefail
: "${PGBIN:=/usr/lib/postgresql/15/bin}"
db=incview_ddl_locks
source "$(dirname "${BASH_SOURCE[0]}")/lib/wait.bash"
fresh_database
psql -d $db >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION pg_incview;
SET incview.default_policy = manual;
CREATE TABLE src (k int, v int);
INSERT INTO src SELECT g % 50, g FROM generate_series(1, 20000) g;
SELECT incview.create_stage('totals', 'SELECT k, sum(v) AS total FROM src GROUP BY k', ARRAY['k']);
SELECT incview.create_stage('counts', 'SELECT k, count(*) AS n FROM src GROUP BY k', ARRAY['k']);
SQL

# Runs <sql> in a transaction held open 3 s after it; meanwhile a reader and a writer of src
# must finish within lock_timeout (reader_only=1: the reader must, the writer must not).
unblocked() {
  local sql=$1 reader_only=${2:-0}
  psql -d $db -c "BEGIN" -c "SET client_min_messages = warning" -c "$sql" -c "SELECT pg_sleep(3)" -c "COMMIT" \
    >/dev/null 2>&1 &
  local pid=$!
  sleep 1
  local ok=0
  local wrote=0
  psql -d $db -c "SET lock_timeout = '500ms'" -c "INSERT INTO src VALUES (1, 1)" >/dev/null 2>&1 && wrote=1
  if psql -d $db -c "SET lock_timeout = '500ms'" -c "SELECT count(*) FROM src" >/dev/null 2>&1 &&
     [[ $wrote != "$reader_only" ]]; then
    ok=1
  fi
  wait $pid
  [[ $ok == 1 ]]
}

check "alter_stage (rebuild included) blocks neither readers nor writers of its source" \
  unblocked "SELECT incview.alter_stage('totals', 'SELECT k, sum(v) AS total, max(v) AS top FROM src GROUP BY k')"
check "create_stage over a source that already has the triggers blocks its readers not, its writers until commit" \
  unblocked "SELECT incview.create_stage('more', 'SELECT k, min(v) AS low FROM src GROUP BY k', ARRAY['k'])" 1
check "drop_stage of one of the stages sharing the source blocks neither" \
  unblocked "SELECT incview.drop_stage('more')"
# The last stage on a source: its triggers would need ACCESS EXCLUSIVE (DROP TRIGGER). Inside
# a held-open transaction they stay idle, so nobody waits; the scheduler drops them later.
psql -d $db >/dev/null -c "SET client_min_messages = warning" \
  -c "CREATE TABLE lone (k int, v int)" -c "INSERT INTO lone SELECT g % 5, g FROM generate_series(1, 100) g" \
  -c "SELECT incview.create_stage('lone_totals', 'SELECT k, sum(v) AS total FROM lone GROUP BY k', ARRAY['k'])"
lone_unblocked() {
  psql -d $db -c "BEGIN" -c "SET client_min_messages = warning" -c "SELECT incview.drop_stage('lone_totals')" \
    -c "SELECT pg_sleep(3)" -c "COMMIT" >/dev/null 2>&1 &
  local pid=$! ok=0
  sleep 1
  if psql -d $db -c "SET lock_timeout = '500ms'" -c "SELECT count(*) FROM lone" >/dev/null 2>&1 &&
     psql -d $db -c "SET lock_timeout = '500ms'" -c "INSERT INTO lone VALUES (1, 1)" >/dev/null 2>&1; then
    ok=1
  fi
  wait $pid
  [[ $ok == 1 ]]
}
lone_triggers() { psql -d $db -c "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'lone'::regclass"; }
check "drop_stage of the last stage on a source, in a transaction, blocks neither" lone_unblocked
check "its triggers stay (idle) after that commit" test "$(lone_triggers)" = 4
check "the scheduler drops them once the table is free" \
  wait_for 40 "SELECT NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'lone'::regclass)"
# Autocommit drop_stage while a reader holds the source open: no wait for the reader.
psql -d $db >/dev/null -c "SET client_min_messages = warning" \
  -c "SELECT incview.create_stage('lone_totals', 'SELECT k, sum(v) AS total FROM lone GROUP BY k', ARRAY['k'])"
psql -d $db -c "BEGIN" -c "SELECT count(*) FROM lone" -c "SELECT pg_sleep(4)" -c "COMMIT" >/dev/null 2>&1 &
reader=$!
sleep 1
check "drop_stage does not wait for a reader of its last source" \
  psql -d $db -c "SET statement_timeout = '1s'" -c "SET client_min_messages = warning" -c "SELECT incview.drop_stage('lone_totals')"
wait $reader
check "and the scheduler drops the idle triggers after the reader is gone" \
  wait_for 40 "SELECT NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'lone'::regclass)"

# CALL create_stage_concurrently over a table without triggers yet, whose build takes 3 s:
# after its first, brief transaction, writers are not blocked, and what they wrote during
# the build is in the stage afterwards.
psql -d $db >/dev/null <<'SQL'
CREATE TABLE fresh_src (k int, v int);
INSERT INTO fresh_src SELECT g % 20, g FROM generate_series(1, 2000) g;
CREATE FUNCTION slow_zero() RETURNS int LANGUAGE sql AS 'SELECT 0 FROM pg_sleep(3)';
SQL
psql -d $db -c "SET client_min_messages = warning" \
  -c "CALL incview.create_stage_concurrently('built_online', 'SELECT k, sum(v) + (SELECT slow_zero()) AS total FROM fresh_src GROUP BY k', ARRAY['k'])" \
  >/dev/null 2>&1 &
build=$!
# Its first transaction committed (the stage is visible): the 3-second build is under way.
wait_for 20 "SELECT EXISTS (SELECT 1 FROM incview.stage WHERE name = 'built_online')"
sleep 0.3
wrote=0
for i in 1 2 3; do
  psql -d $db -c "SET lock_timeout = '500ms'" -c "INSERT INTO fresh_src VALUES ($i, 100000)" >/dev/null 2>&1 && wrote=$((wrote + 1))
  sleep 0.2
done
built=0
wait $build && built=1
check "create_stage_concurrently completed" test $built = 1
check "writers of its source were not blocked during the build (3 of 3 inserts within lock_timeout)" test $wrote = 3
check "and their rows are in the stage afterwards" \
  test "$(psql -d $db -c "SELECT incview.refresh('built_online') >= 0 AND (SELECT missing + extra FROM incview.verify('built_online')) = 0")" == t

# alter_stage changing the columns: the new table is built beside the old one (3 s here);
# readers of the stage keep reading the old table, old rows and old columns, meanwhile.
psql -d $db >/dev/null -c "SET client_min_messages = warning" \
  -c "SELECT incview.create_stage('wide', 'SELECT k, sum(v) AS total FROM src GROUP BY k', ARRAY['k'])"
psql -d $db -c "SET client_min_messages = warning" \
  -c "SELECT incview.alter_stage('wide', 'SELECT k, sum(v) AS total, (SELECT slow_zero()) AS z FROM src GROUP BY k')" \
  >/dev/null 2>&1 &
altering=$!
sleep 1
check "while alter_stage re-creates a stage's table, its readers are not blocked (old columns)" \
  psql -d $db -c "SET lock_timeout = '500ms'" -c "SELECT count(total) FROM wide"
altered=0
wait $altering && altered=1
check "and the re-created stage has the new column, fresh" \
  test "$altered$(psql -d $db -c "SELECT count(z) > 0 AND (SELECT missing + extra FROM incview.verify('wide')) = 0 FROM wide")" == 1t
check "the stages are fresh afterwards" \
  test "$(psql -d $db -c "SELECT incview.refresh('totals') >= 0 AND incview.refresh('counts') >= 0 AND
                            (SELECT missing + extra FROM incview.verify('totals')) = 0 AND
                            (SELECT missing + extra FROM incview.verify('counts')) = 0")" == t
psql -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
[[ $failed == 0 ]] || { echo "ddl_locks: some checks FAILED"; exit 1; }
echo "ddl_locks: all checks passed"
