-- Float drift of engine delta (issue 13, item 2): a fold adds and subtracts floats, so a sum
-- over double precision drifts. Drift constructed here: 1e16 and 1 added, then 1e16 taken
-- away: the folded sum loses the 1 (1e16 + 1 rounds to 1e16), the query's sum has it.
-- incview.rederive re-derives exactly the groups folds wrote (__incview_folded), in batches of
-- incview.batch_size, consuming the queue in the same statement; incview.set_rederive sets
-- the scheduler's cadence (test/scenario/delta_rederive.sh); who may call what.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pg_incview;
SET LOCAL client_min_messages = warning;
SELECT plan(32);

CREATE TABLE rd_ev (id int PRIMARY KEY, g int, f float8, r real, i int);
INSERT INTO rd_ev SELECT k, k % 6, k * 0.25, k * 0.5, k FROM generate_series(1, 600) k;
CREATE INDEX ON rd_ev (g);
SELECT incview.create_stage('rd_float',
  'SELECT g, count(*) AS n, sum(f) AS sf, avg(f) AS af, sum(r) AS sr FROM rd_ev GROUP BY g',
  ARRAY['g'], engine => 'delta');
SELECT incview.create_stage('rd_int', 'SELECT g, count(*) AS n, sum(i) AS si FROM rd_ev GROUP BY g',
  ARRAY['g'], engine => 'delta');
SELECT incview.create_stage('rd_plain', 'SELECT g, count(*) AS n, sum(f) AS sf FROM rd_ev GROUP BY g',
  ARRAY['g'], engine => 'replace');
SELECT incview.set_policy(s, 'manual') FROM unnest(ARRAY['rd_float', 'rd_int', 'rd_plain']) s;

-- The groups whose folded sum differs from the query's.
CREATE FUNCTION pg_temp.drifted() RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FROM rd_float t
  JOIN (SELECT g, sum(f) AS sf, avg(f) AS af, sum(r) AS sr FROM rd_ev GROUP BY g) q ON q.g = t.g
  WHERE t.sf IS DISTINCT FROM q.sf OR t.af IS DISTINCT FROM q.af OR t.sr IS DISTINCT FROM q.sr $$;

SELECT is(pg_temp.drifted(), 0::bigint, 'built from the source: exact');
SELECT is((SELECT count(*) FROM rd_float WHERE __incview_folded), 0::bigint, 'nothing folded yet');
SELECT ok(NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'rd_int'::regclass
                      AND attname = '__incview_folded'), 'no flag where nothing can drift (integer sums)');

-- Drift in groups 1 and 2, two folds each; group 3 only gains an exact value.
INSERT INTO rd_ev VALUES (1001, 1, 1e16, 1e16, 1), (1002, 1, 1, 1, 1), (1003, 2, 1e16, 1e16, 1), (1004, 2, 1, 1, 1);
SELECT ok(incview.refresh('rd_float') > 0, 'first fold');
DELETE FROM rd_ev WHERE id IN (1001, 1003);
SELECT ok(incview.refresh('rd_float') > 0, 'second fold');
SELECT is(pg_temp.drifted(), 2::bigint, 'folding 1e16 + 1 - 1e16 lost the 1: groups 1 and 2 drifted');
SELECT is((SELECT sf FROM rd_float WHERE g = 1) - (SELECT sum(f) FROM rd_ev WHERE g = 1), -1::float8,
          'by exactly the 1');
SELECT is((SELECT array_agg(g ORDER BY g) FROM rd_float WHERE __incview_folded), ARRAY[1, 2],
          'the groups folds wrote are marked, no others');
SELECT is((SELECT row(missing, extra)::text FROM incview.verify('rd_float')), '(2,2)',
          'verify sees the drift (the mark itself is not compared)');

-- On demand: the marked groups only, the queue folded in the same statement.
INSERT INTO rd_ev VALUES (1005, 3, 2, 2, 2);   -- a delta queued for group 3
SELECT is(incview.rederive('rd_float'), 2::bigint, 'rederive: the two marked groups');
SELECT is(pg_temp.drifted(), 0::bigint, 'exact again');
SELECT is((SELECT row(missing, extra)::text FROM incview.verify('rd_float')), '(0,0)', 'verify (0,0)');
SELECT is((SELECT sf FROM rd_float WHERE g = 3), (SELECT sum(f) FROM rd_ev WHERE g = 3),
          'the delta queued meanwhile was folded by the same statement');
SELECT is(incview.delta_dirty_groups((SELECT id FROM incview.stage WHERE name = 'rd_float')), 0::bigint,
          'queue empty');
SELECT is((SELECT array_agg(g ORDER BY g) FROM rd_float WHERE __incview_folded), ARRAY[3],
          'group 3, folded by it (not re-derived), is marked now');
SELECT is(incview.rederive('rd_float'), 1::bigint, 'and re-derived by the next call');
SELECT is(incview.rederive('rd_float'), 0::bigint, 'nothing marked: nothing to do');

-- Batches: incview.batch_size groups per statement, every marked group in the end.
INSERT INTO rd_ev SELECT 2000 + k, k, 1e16, 1e16, 1 FROM generate_series(0, 5) k;
SELECT ok(incview.refresh('rd_float') > 0, 'fold into all six groups');
INSERT INTO rd_ev SELECT 3000 + k, k, 1, 1, 1 FROM generate_series(0, 5) k;
SELECT ok(incview.refresh('rd_float') > 0, 'fold');
DELETE FROM rd_ev WHERE id >= 2000 AND id < 3000;
SELECT ok(incview.refresh('rd_float') > 0, 'fold');
SELECT ok(pg_temp.drifted() > 0, 'groups drifted');
SELECT is((SELECT count(*) FROM rd_float WHERE __incview_folded), 6::bigint, 'six groups marked');
SET LOCAL incview.batch_size = 4;
SELECT is(incview.rederive('rd_float'), 6::bigint, 'batches of 4: all six re-derived');
SELECT is(pg_temp.drifted(), 0::bigint, 'exact again');
RESET incview.batch_size;

-- Where nothing drifts: nothing to do, and no cadence to set.
SELECT is(incview.rederive('rd_int'), 0::bigint, 'an integer delta stage: 0');
SELECT throws_ok($$SELECT incview.set_rederive('rd_int', '1 hour')$$, '22023', NULL,
                 'set_rederive on an exact delta stage is refused');
SELECT throws_ok($$SELECT incview.set_rederive('rd_plain', '1 hour')$$, '22023', NULL,
                 'set_rederive on a stage without the delta engine is refused');
SELECT throws_ok($$SELECT incview.set_rederive('rd_float', '0 seconds')$$, '22023', NULL,
                 'every must be positive');

-- The cadence: kept with the engine's row, cleared by NULL, gone with the engine.
SELECT incview.set_rederive('rd_float', '1 hour');
SELECT is((SELECT rederive_every FROM incview.delta_stage d JOIN incview.stage s ON s.id = d.stage_id
           WHERE s.name = 'rd_float'), interval '1 hour', 'set_rederive records the cadence');
SELECT incview.set_rederive('rd_float', NULL);
SELECT is((SELECT rederive_every FROM incview.delta_stage d JOIN incview.stage s ON s.id = d.stage_id
           WHERE s.name = 'rd_float'), NULL, 'NULL turns it off');

-- An attacker: neither re-derives nor sets a cadence on someone else's stage.
CREATE ROLE rd_attacker NOLOGIN;
SET LOCAL ROLE rd_attacker;
SELECT throws_ok($$SELECT incview.rederive('rd_float')$$, '42501', NULL, 'rederive: owner only');
SELECT throws_ok($$SELECT incview.set_rederive('rd_float', '1 minute')$$, '42501', NULL, 'set_rederive: owner only');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
