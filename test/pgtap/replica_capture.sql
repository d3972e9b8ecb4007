-- Capture under session_replication_role = replica (issue 11, item 3). pg_incview's
-- statement triggers are ENABLE ALWAYS, so replica-role sessions (bulk loads, replication
-- tools) are captured. A logical-replication apply worker fires row triggers only: in a
-- database with a subscription the row trigger incview_capture_row (ENABLE REPLICA) captures
-- for it, and is a no-op in any other session; never twice. (A subscription made with
-- connect = false needs no publisher; test/scenario/replication.sh runs a real one.)
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_incview;
SET incview.default_policy = manual;
SELECT plan(22);

CREATE FUNCTION pg_temp.fresh(stage text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
  PERFORM incview.refresh(stage);
  SELECT * INTO r FROM incview.verify(stage);
  RETURN r.missing = 0 AND r.extra = 0;
END $$;
CREATE FUNCTION pg_temp.queued(stage text) RETURNS text LANGUAGE sql AS $$
  SELECT coalesce(string_agg(coalesce(q.key::text, 'every'), ' ' ORDER BY q.key::text), '')
  FROM incview.queued_keys q JOIN incview.stage s ON s.id = q.stage_id WHERE s.name = stage
$$;

CREATE TABLE visits (id int PRIMARY KEY, patient_id int NOT NULL, minutes int NOT NULL);
CREATE TABLE notes (visit_id int NOT NULL, words int NOT NULL);
INSERT INTO visits SELECT g, g % 10, g FROM generate_series(1, 100) g;
INSERT INTO notes SELECT g, 1 FROM generate_series(1, 100) g;
SELECT incview.create_stage('per_patient', 'SELECT patient_id, sum(minutes) AS total FROM visits GROUP BY patient_id',
                            ARRAY['patient_id']);
SELECT incview.create_stage('words', 'SELECT v.patient_id, sum(n.words) AS words FROM visits v JOIN notes n ON n.visit_id = v.id GROUP BY 1',
                            ARRAY['patient_id']);
SELECT incview.map_source('words', 'notes', 'SELECT v.patient_id FROM visits v WHERE v.id = changed.visit_id');

SELECT is((SELECT count(*) FROM pg_trigger WHERE tgname = 'incview_capture_row'), 0::bigint,
          'no subscription in the database: no row trigger (it would never act)');
SELECT is((SELECT string_agg(tgname || '=' || tgenabled::text, ' ' ORDER BY tgname) FROM pg_trigger
           WHERE tgrelid = 'visits'::regclass),
          'incview_capture_del=A incview_capture_ins=A incview_capture_trunc=A incview_capture_upd=A',
          'the statement triggers fire ALWAYS');
SET session_replication_role = replica;
INSERT INTO visits VALUES (90001, 8, 1);
RESET session_replication_role;
SELECT is(pg_temp.queued('per_patient'), '[8]', 'so a replica-role session is captured');
SELECT ok(pg_temp.fresh('per_patient') AND pg_temp.fresh('words'), 'and refreshed');
SET client_min_messages = error;  -- ("tables were not subscribed")
CREATE SUBSCRIPTION replica_capture_sub CONNECTION 'dbname=nowhere' PUBLICATION nothing WITH (connect = false);
SET client_min_messages = warning;
SELECT is((SELECT string_agg(tgrelid::regclass::text, ' ' ORDER BY tgrelid::regclass::text) FROM pg_trigger
           WHERE tgname = 'incview_capture_row'), 'notes visits',
          'CREATE SUBSCRIPTION gives every source the row trigger');

SELECT is((SELECT string_agg(tgname || '=' || tgenabled::text || ':' || CASE WHEN tgtype & 1 = 1 THEN 'row' ELSE 'statement' END,
                             ' ' ORDER BY tgname)
           FROM pg_trigger WHERE tgrelid = 'visits'::regclass),
          'incview_capture_del=A:statement incview_capture_ins=A:statement incview_capture_row=R:row '
          'incview_capture_trunc=A:statement incview_capture_upd=A:statement',
          'with one: the statement triggers (ALWAYS) and the row trigger (ENABLE REPLICA)');

-- An ordinary session: the statement triggers.
INSERT INTO visits VALUES (101, 3, 5), (102, 3, 5), (103, 4, 5);
SELECT is(pg_temp.queued('per_patient'), '[3] [4]', 'ordinary session: one key per scope of the statement (no row-trigger duplicates)');
SELECT ok(pg_temp.fresh('per_patient') AND pg_temp.fresh('words'), 'refreshed');

-- Replica role (not the apply worker): the statement triggers; the row trigger stands aside.
SET session_replication_role = replica;
INSERT INTO visits VALUES (104, 5, 5), (105, 6, 5);
SELECT is(pg_temp.queued('per_patient'), '[5] [6]', 'replica role: an INSERT is captured once per scope (no row-trigger duplicates)');
UPDATE visits SET patient_id = 7 WHERE id = 104;
SELECT is(pg_temp.queued('per_patient'), '[5] [5] [6] [7]', 'an UPDATE queues the old and the new scope');
DELETE FROM visits WHERE id = 105;
SELECT is(pg_temp.queued('per_patient'), '[5] [5] [6] [6] [7]', 'a DELETE queues its scope');
UPDATE notes SET words = 9 WHERE visit_id = 17;
-- words read visits too: [5] [6], [5] [7], [6] from above; the notes row of visit 17 (patient 7) adds a [7].
SELECT is(pg_temp.queued('words'), '[5] [5] [6] [6] [7] [7]', 'a lookup mapping');
SELECT ok(pg_temp.fresh('per_patient') AND pg_temp.fresh('words'), 'and the stages refresh to their queries');
TRUNCATE notes;
SELECT is(pg_temp.queued('words'), 'every', 'TRUNCATE under the replica role queues "every scope" (ALWAYS)');
SELECT ok(pg_temp.fresh('words'), 'and the stage empties');
SET session_replication_role = local;
INSERT INTO visits VALUES (106, 8, 5);
SELECT is(pg_temp.queued('per_patient'), '[8]', 'local role: the statement triggers again, once');
SELECT ok(pg_temp.fresh('per_patient'), 'refreshed');
RESET session_replication_role;

-- Staleness is told: a row trigger that would not fire in the apply worker.
ALTER TABLE visits ENABLE TRIGGER incview_capture_row;   -- now plain ENABLE: silent in replica sessions
SELECT is((SELECT status || ' ' || capture_off FROM incview.stages WHERE name = 'per_patient'), 'stale public.visits',
          'a row trigger not enabled for replica sessions makes the stage stale');
ALTER TABLE visits ENABLE REPLICA TRIGGER incview_capture_row;
SELECT is((SELECT status FROM incview.stages WHERE name = 'per_patient'), 'idle', 'ENABLE REPLICA again: not stale');
CREATE TABLE later (k int, v int);
SELECT incview.create_stage('later_sums', 'SELECT k, sum(v) AS v FROM later GROUP BY k', ARRAY['k']);
SELECT is((SELECT tgenabled::text FROM pg_trigger WHERE tgrelid = 'later'::regclass AND tgname = 'incview_capture_row'), 'R',
          'a source registered after the subscription gets it too');

-- incview.capture() only as our row trigger.
CREATE TRIGGER incview_capture_row_fake BEFORE INSERT ON visits FOR EACH ROW EXECUTE FUNCTION incview.capture();
SELECT throws_ok('INSERT INTO visits VALUES (200, 1, 1)', '39P01', NULL,
                 'incview.capture() refuses to run as a row trigger that is not ours');
DROP TRIGGER incview_capture_row_fake ON visits;
SELECT lives_ok($$SELECT incview.drop_stage('words')$$, 'drop_stage');
SELECT incview.drop_stage('per_patient');
SELECT * FROM finish();
ROLLBACK;
