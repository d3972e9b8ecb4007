#!/usr/bin/env bash
# Keys of a dropped stage do not stay queued forever (issue #11, found by
# specs/stage_admin_race.spec): drop_stage of a stage whose source another stage also reads
# does not wait for that source's open writers (no DROP TRIGGER), so a writer open across the
# drop commits keys for a stage that no longer exists. Nothing consumes them; the scheduler
# now removes them. Here the writer's transaction is held between two inserts by an advisory
# lock, the stage is dropped meanwhile, and the writer reports, before it commits, the keys
# of the dropped stage it holds (rows of incview.dirty_scope, or change records naming the
# stage: issue 18); after its commit they must leave the queue, and the records go once the
# stages still named in them have collected them.
set -euo pipefail
: "${PGBIN:=/usr/lib/postgresql/15/bin}"
db=incview_orphan_keys
source "$(dirname "${BASH_SOURCE[0]}")/lib/wait.bash"
fresh_database
psql -d $db >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION pg_incview;
CREATE TABLE src (k int, v int);
INSERT INTO src SELECT g % 10, g FROM generate_series(1, 100) g;
SELECT incview.create_stage('kept', 'SELECT k, sum(v) AS total FROM src GROUP BY k', ARRAY['k']);
SELECT incview.create_stage('dropped', 'SELECT k, count(*) AS n FROM src GROUP BY k', ARRAY['k']);
SELECT incview.set_policy('kept', 'manual');
SELECT incview.set_policy('dropped', 'manual');
SQL
# The advisory lock that holds the writer between its inserts.
"$PGBIN/psql" -X -q -U postgres -d $db -c "SET application_name = 'orphan_holder'" \
  -c "SELECT pg_advisory_lock(4711)" -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
holder=$!
wait_for 20 "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = 4711 AND granted)"
out=$(mktemp)
psql -d $db >"$out" <<'SQL' &
BEGIN;
INSERT INTO src VALUES (3, 1000);
SELECT pg_advisory_xact_lock_shared(4711);
INSERT INTO src VALUES (4, 1000);
SELECT (SELECT count(*) FROM incview.dirty_scope q WHERE NOT EXISTS (SELECT 1 FROM incview.stage s WHERE s.id = q.stage_id))
     + (SELECT count(*) FROM incview.source_change r
        WHERE EXISTS (SELECT 1 FROM unnest(r.stage_ids) i(id) WHERE NOT EXISTS (SELECT 1 FROM incview.stage s WHERE s.id = i.id)));
COMMIT;
SQL
writer=$!
wait_for 20 "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = 4711 AND NOT granted)"
psql -d $db -c "SELECT incview.drop_stage('dropped')" >/dev/null
psql -d $db -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'orphan_holder'" >/dev/null
wait $writer
wait $holder 2>/dev/null || true
held=$(tail -n 1 "$out"); rm -f "$out"
check "the writer committed keys of the dropped stage ($held)" test "$held" -ge 1
check "the scheduler removed them from the queue" \
  wait_for 30 "SELECT NOT EXISTS (SELECT 1 FROM incview.queued_keys q WHERE NOT EXISTS (SELECT 1 FROM incview.stage s WHERE s.id = q.stage_id))"
check "the kept stage's keys are still queued" \
  test "$(psql -d $db -c "SELECT count(DISTINCT q.key) FROM incview.queued_keys q JOIN incview.stage s ON s.id = q.stage_id WHERE s.name = 'kept'")" = 2
check "and refreshed right" \
  test "$(psql -d $db -c "SELECT incview.refresh('kept') = 2 AND (SELECT missing + extra FROM incview.verify('kept')) = 0")" = t
# (A record every remaining stage has collected goes at that collection, unless a transaction
# older than its writer was still running then, e.g. a scheduler pass: it goes at a later one.
# So: none left that the cleanup must have dropped.)
check "no change record names the dropped stage after that" \
  test "$(psql -d $db -c "SELECT count(*) FROM incview.source_change r WHERE EXISTS (SELECT 1 FROM unnest(r.stage_ids) i(id) WHERE NOT EXISTS (SELECT 1 FROM incview.stage s WHERE s.id = i.id))
    AND NOT coalesce(r.xid >= (SELECT min(pg_catalog.pg_snapshot_xmin(m.seen)) FROM incview.stage s JOIN incview.capture_mark m ON m.stage_id = s.id WHERE s.id = ANY (r.stage_ids)), false)")" = 0
psql -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
exit "$failed"
