-- Upgrade 0.1 -> 0.2 in place: stages, queued keys and policies made under 0.1 keep
-- working after ALTER EXTENSION pg_incview UPDATE (capture, refresh, background), nothing
-- is lost, and the library serves the 0.1 catalog until the update runs.
SET client_min_messages = warning;
CREATE EXTENSION pg_incview VERSION '0.1';
SELECT plan(22);

\ir lib/wait_until.sql

CREATE TABLE visits (id serial PRIMARY KEY, patient_id int, minutes int);
INSERT INTO visits (patient_id, minutes) SELECT p % 50, p FROM generate_series(1, 500) p;
SET search_path = public;  -- 0.1 stored the raw setting: the update appends pg_temp
SELECT incview.create_stage('minutes', 'SELECT patient_id, sum(minutes) AS total FROM visits GROUP BY patient_id',
                            ARRAY['patient_id'], ARRAY['patient_id']);
SELECT incview.set_policy('minutes', 'manual');
SELECT incview.create_stage('minutes_daily', 'SELECT patient_id, count(*) AS n FROM visits GROUP BY patient_id',
                            ARRAY['patient_id']);
SELECT incview.set_policy('minutes_daily', 'daily', at => '03:00');
RESET search_path;

SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'pg_incview'), '0.1', 'installed as 0.1');
INSERT INTO visits (patient_id, minutes) VALUES (1, 1000), (2, 1000), (777, 5);
SELECT is(incview.refresh('minutes'), 3::bigint, 'the library serves the 0.1 catalog: a refresh logs without refresh_log.owner');
INSERT INTO visits (patient_id, minutes) VALUES (3, 1000), (4, 1000);  -- queued across the update

ALTER EXTENSION pg_incview UPDATE;
SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'pg_incview'), '0.2', 'updated to 0.2');
SELECT is((SELECT count(DISTINCT key) FROM incview.queued_keys q JOIN incview.stage s ON s.id = q.stage_id
           WHERE s.name = 'minutes'), 2::bigint, 'keys queued under 0.1 are still queued');
SELECT is((SELECT policy || ' ' || policy_at FROM incview.stage WHERE name = 'minutes_daily'), 'daily 03:00:00',
          'policies kept');
SELECT is((SELECT search_path FROM incview.stage WHERE name = 'minutes'), 'public, pg_temp',
          'stored search path gets pg_temp explicit and last');
SELECT ok(NOT EXISTS (SELECT 1 FROM incview.refresh_log WHERE owner IS NULL),
          'refresh_log rows of existing stages get their owner');
SELECT ok((SELECT bool_and(relrowsecurity) FROM pg_class
           WHERE oid IN ('incview.stage'::regclass, 'incview.stage_source'::regclass, 'incview.stage_state'::regclass,
                         'incview.stage_index'::regclass, 'incview.refresh_log'::regclass)),
          'row security on the catalog');
SELECT is((SELECT status FROM incview.stages WHERE name = 'minutes'), 'idle', 'stages view (0.2) reads the old stage');

SELECT is(incview.refresh('minutes'), 2::bigint, 'refresh after the update consumes the keys queued before it');
SELECT is((SELECT row(missing, extra)::text FROM incview.verify('minutes')), '(0,0)', 'fresh after the update');
INSERT INTO visits (patient_id, minutes) VALUES (5, 1);
SELECT is((SELECT count(*) FROM incview.queued_keys q JOIN incview.stage s ON s.id = q.stage_id
           WHERE s.name = 'minutes'), 1::bigint, 'capture after the update');
SELECT is(incview.refresh('minutes'), 1::bigint, 'and its refresh');
SELECT is((SELECT owner::text FROM incview.refresh_log WHERE stage = 'minutes' ORDER BY id DESC LIMIT 1),
          current_user::text, 'new log rows carry the owner');

SELECT incview.set_policy('minutes', 'continuous');
INSERT INTO visits (patient_id, minutes) VALUES (6, 1);
SELECT ok(pg_temp.wait_until($$(SELECT missing = 0 AND extra = 0 FROM incview.verify('minutes'))$$, '15 s'),
          'background refresh after the update');
SELECT is(incview.rebuild('minutes_daily') > 0, true, 'rebuild of a stage made under 0.1');
SELECT is((SELECT row(missing, extra)::text FROM incview.verify('minutes_daily')), '(0,0)', 'and it is fresh');

-- Stages under DDL (item 5) and subscriber capture (item 3) for stages made under 0.1.
SELECT is((SELECT string_agg(definition::text, ', ' ORDER BY name) FROM incview.stage),
          'incview_stage.minutes, incview_stage.minutes_daily', 'the update gives each stage its definition view');
SELECT throws_ok('DROP TABLE visits', '2BP01', NULL, 'so DROP TABLE of its source is refused');
SELECT is((SELECT string_agg(tgname || '=' || tgenabled::text, ' ' ORDER BY tgname) FROM pg_trigger
           WHERE tgrelid = 'visits'::regclass AND tgname LIKE 'incview_capture%'),
          'incview_capture_del=A incview_capture_ins=A incview_capture_trunc=A incview_capture_upd=A',
          'its capture triggers fire ALWAYS (no row trigger: the database has no subscription)');
SELECT is((SELECT count(*) FROM incview.stages WHERE status = 'stale'), 0::bigint, 'and is not stale');
SELECT lives_ok($$SELECT incview.drop_stage('minutes')$$, 'drop_stage of a stage made under 0.1 (its view is not the extension''s)');
SELECT incview.drop_stage('minutes_daily');
DROP TABLE visits;
SELECT * FROM finish();
