-- incview.refresh_all (issue 15, "the step loop once"): its PL/pgSQL loop only carries the
-- run between transactions; the steps, where each continues, whether an earlier failure
-- stays visible and when the run is over are the C++ rule incview.refresh and the scheduler
-- use (core/refresh_steps.hpp). It still commits after every batch. Commits, so no
-- wrapping transaction.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_incview;
-- Stages refresh only when this test says so: no race with the background scheduler.
SET incview.default_policy = manual;
DROP ROLE IF EXISTS ra_outsider;
SELECT plan(14);

CREATE TABLE ra_src (k int, v int);
INSERT INTO ra_src SELECT g, 1 FROM generate_series(1, 20) g;
-- 'replace': always batches (never the rebuild auto may choose), so the batches are counted.
SELECT incview.create_stage('ra_sums', 'SELECT k, sum(100 / v) AS x FROM ra_src GROUP BY k',
  ARRAY['k'], engine => 'replace') IS NOT NULL;
SET incview.batch_size = 5;

-- ------------------------------------------------------------ a transaction per batch
DELETE FROM incview.refresh_log WHERE stage = 'ra_sums';
UPDATE ra_src SET v = 2;
CALL incview.refresh_all();
SELECT is((SELECT count(*)::int FROM incview.refresh_log WHERE stage = 'ra_sums' AND error IS NULL AND scopes = 5),
  4, 'refresh_all: 20 dirty keys, batch_size 5: four batches logged');
SELECT is((SELECT count(DISTINCT xmin::text)::int FROM incview.refresh_log WHERE stage = 'ra_sums'),
  4, 'refresh_all: each batch committed in a transaction of its own');
SELECT is((SELECT row(missing, extra)::text FROM incview.verify('ra_sums')), '(0,0)', 'refresh_all: the stage is fresh');
-- The count above can tell: incview.refresh runs every batch in one transaction.
DELETE FROM incview.refresh_log WHERE stage = 'ra_sums';
UPDATE ra_src SET v = 4;
SELECT is(incview.refresh('ra_sums'), 20::bigint, 'incview.refresh: the same 20 keys');
SELECT is((SELECT count(DISTINCT xmin::text)::int FROM incview.refresh_log WHERE stage = 'ra_sums'),
  1, 'incview.refresh: its four batches in one transaction');

-- ------------------------------------------------------------ a failure stays visible
-- The first batch (keys 1-5) fails (division by zero at k = 3), the three after it succeed.
-- Like incview.refresh and the scheduler, refresh_all leaves the stage failing with the
-- error: a later batch of the same run does not report it healthy (refresh_all's own loop
-- did, before the rule was one).
DELETE FROM incview.refresh_log WHERE stage = 'ra_sums';
UPDATE ra_src SET v = CASE WHEN k = 3 THEN 0 ELSE 5 END;
SET client_min_messages = error;  -- the failed batch's WARNING
CALL incview.refresh_all();
SET client_min_messages = warning;
SELECT is((SELECT count(*)::int FROM incview.refresh_log WHERE stage = 'ra_sums' AND error LIKE '%division by zero%'),
  1, 'refresh_all: the batch with k = 3 failed');
SELECT is((SELECT count(*)::int FROM incview.refresh_log WHERE stage = 'ra_sums' AND error IS NULL AND scopes = 5),
  3, 'refresh_all: the run went on with the three batches after it');
SELECT is((SELECT status FROM incview.stages WHERE name = 'ra_sums'), 'failing',
  'refresh_all: the stage stays failing after later batches of the same run succeed');
SELECT ok((SELECT last_error FROM incview.stages WHERE name = 'ra_sums') LIKE '%division by zero%',
  'refresh_all: the failed batch''s error is kept');
SELECT ok(EXISTS (SELECT 1 FROM incview.queued_keys q JOIN incview.stage s ON s.id = q.stage_id
                  WHERE s.name = 'ra_sums' AND q.key = '[3]'),
  'refresh_all: the failed batch''s keys stay queued');

-- ------------------------------------------------------------ who may run a step
-- _refresh_all_step is callable by anyone (refresh_all runs as its caller), so it checks
-- the caller like refresh_step: a role that is not the owner nor a member of its role is
-- refused, whatever run it passes, and nothing is refreshed.
CREATE ROLE ra_outsider;
CREATE TEMP TABLE ra_seen (state text);
GRANT ALL ON pg_temp.ra_seen TO PUBLIC;
SET ROLE ra_outsider;
DO $$
BEGIN
  PERFORM incview._refresh_all_step('ra_sums', NULL);
  INSERT INTO pg_temp.ra_seen VALUES ('ran');
EXCEPTION WHEN OTHERS THEN
  INSERT INTO pg_temp.ra_seen VALUES (SQLSTATE);
END $$;
DO $$
BEGIN
  PERFORM incview._refresh_all_step('ra_sums', '{"after": [1], "failed": false}');
  INSERT INTO pg_temp.ra_seen VALUES ('ran');
EXCEPTION WHEN OTHERS THEN
  INSERT INTO pg_temp.ra_seen VALUES (SQLSTATE);
END $$;
RESET ROLE;
SELECT is((SELECT string_agg(state, ',') FROM pg_temp.ra_seen), '42501,42501',
  '_refresh_all_step: an outsider is refused, from the start and with a forged run');
SELECT ok(EXISTS (SELECT 1 FROM incview.queued_keys q JOIN incview.stage s ON s.id = q.stage_id
                  WHERE s.name = 'ra_sums' AND q.key = '[3]'),
  '_refresh_all_step: the outsider refreshed nothing');

-- ------------------------------------------------------------ fixed, one more run
UPDATE ra_src SET v = 1;
CALL incview.refresh_all();
SELECT is((SELECT status FROM incview.stages WHERE name = 'ra_sums'), 'idle', 'refresh_all: a clean run heals the stage');
SELECT is((SELECT row(missing, extra)::text FROM incview.verify('ra_sums')), '(0,0)', 'refresh_all: fresh again');

SELECT incview.drop_stage('ra_sums');
DROP TABLE ra_src;
DROP ROLE ra_outsider;
SELECT * FROM finish();
