-- Read-your-writes (incview.ensure_fresh): a request writes, makes the scopes it is about to
-- read fresh, and reads them, without waiting for the scheduler or refreshing the rest.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_incview;
SET incview.default_policy = manual;
SELECT plan(18);

CREATE TABLE visits (id serial PRIMARY KEY, clinic int, patient int, minutes int);
INSERT INTO visits (clinic, patient, minutes) SELECT g % 3, g % 40, g FROM generate_series(1, 400) g;
SELECT incview.create_stage('per_patient', 'SELECT patient, count(*) AS n, sum(minutes) AS total FROM visits GROUP BY patient',
                            ARRAY['patient']);
SELECT incview.create_stage('per_pair', 'SELECT clinic, patient, count(*) AS n FROM visits GROUP BY clinic, patient',
                            ARRAY['clinic', 'patient']);

INSERT INTO visits (clinic, patient, minutes) VALUES (1, 5, 1000), (2, 7, 1);
SELECT is(incview.ensure_fresh('per_patient', '[5]'), 1::bigint, 'a dirty scope is refreshed now');
SELECT is((SELECT total FROM per_patient WHERE patient = 5), (SELECT sum(minutes) FROM visits WHERE patient = 5)::bigint,
          'and reads fresh');
SELECT is((SELECT count(*) FROM incview.queued_keys q JOIN incview.stage s ON s.id = q.stage_id
           WHERE s.name = 'per_patient' AND q.key = '[7]'), 1::bigint, 'other dirty scopes stay queued');
SELECT is(incview.ensure_fresh('per_patient', '[5]'), 0::bigint, 'a clean scope: nothing to do');
SELECT is(incview.ensure_fresh('per_patient', '[5, 6, {"patient": 8}]'), 0::bigint, 'several clean scopes, any key form');
SELECT is(incview.ensure_fresh('per_pair', '[{"clinic": 2, "patient": 7}]'), 1::bigint, 'multi-column scopes');

-- An "every scope" marker makes every scope dirty: the asked ones are refreshed, the marker stays.
SELECT incview.map_source('per_patient', 'visits', NULL);
INSERT INTO visits (clinic, patient, minutes) VALUES (0, 9, 5);
SELECT is(incview.ensure_fresh('per_patient', '[9]'), 1::bigint, 'with an "every scope" marker queued, the asked scope is refreshed');
SELECT is((SELECT count(*) FROM incview.queued_keys q JOIN incview.stage s ON s.id = q.stage_id
           WHERE s.name = 'per_patient' AND q.key IS NULL), 1::bigint, 'and the marker stays for the rest');

SELECT throws_ok($$SELECT incview.ensure_fresh('per_patient', '{"patient": 1}')$$, '22023', NULL, 'keys must be an array');
SELECT throws_ok($$SELECT incview.ensure_fresh('per_pair', '[1]')$$, '22023', NULL, 'a bare value for a two-column scope is refused');

-- The clean case at a glance (one int/text scope column, integral numbers or strings): it
-- answers exactly as the full path, never "clean" for a dirty key in another JSON spelling.
INSERT INTO visits (clinic, patient, minutes) VALUES (1, 11, 1);
SELECT is(incview.ensure_fresh('per_pair', '[{"clinic": 1, "patient": 11}]'), 1::bigint, 'refresh per_pair (not asked below)');
SELECT throws_ok($$SELECT incview.ensure_fresh('per_patient', '[11.0]')$$, '22P02', NULL,
                 'a key spelled 11.0 is an error, as on the full path');
SELECT is(incview.ensure_fresh('per_patient', '[3, 11]'), 2::bigint, 'a dirty key among clean ones: the asked scopes are refreshed');
CREATE TABLE notes (tag text, body text);
INSERT INTO notes VALUES ('a', 'x'), ('b', 'y');
SELECT incview.create_stage('per_tag', 'SELECT tag, count(*) AS n FROM notes GROUP BY tag', ARRAY['tag']);
INSERT INTO notes VALUES ('b', 'z');
SELECT is(incview.ensure_fresh('per_tag', '["a"]'), 0::bigint, 'text scope: a clean key');
SELECT is(incview.ensure_fresh('per_tag', '["a", "b"]'), 2::bigint, 'text scope: a dirty key among clean ones');
SELECT is((SELECT n FROM per_tag WHERE tag = 'b'), 2::bigint, 'and it reads fresh');
SELECT throws_ok($$SELECT incview.ensure_fresh('per_patient', '[99999999999]')$$, '22003', NULL,
                 'an out-of-range key is an error, as on the full path');
CREATE ROLE ryw_stranger;
SET ROLE ryw_stranger;
SELECT throws_ok($$SELECT incview.ensure_fresh('per_tag', '["a"]')$$, '42501', NULL,
                 'a role that does not own the stage is refused, even when the keys are clean');
RESET ROLE;
DROP ROLE ryw_stranger;
SELECT incview.drop_stage('per_tag');

SELECT incview.drop_stage('per_patient');
SELECT incview.drop_stage('per_pair');
SELECT * FROM finish();
