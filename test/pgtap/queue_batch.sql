-- A batch takes the first incview.batch_size keys queued past `after`, in jsonb key order,
-- and removes every queued copy of those keys and nothing else (src/pg/catalog/dirty_queue.cpp).
-- It deletes the key range (after, last key of the batch]: a join with the batch was planned
-- as a nested loop once the queue's statistics said it was empty, kept for the life of the
-- scheduler, and cost n x k comparisons per batch (bench/fixed_cost.md, freshness lag). The
-- range must be the batch exactly: numbers order as numbers in jsonb (2 < 10), not as text.
-- Commits (ANALYZE), so no wrapping transaction.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_incview;
SET incview.default_policy = manual;
SELECT plan(10);

CREATE TABLE qb_src (k int, v int);
INSERT INTO qb_src SELECT g, 1 FROM generate_series(1, 30) g;
SELECT ok(incview.create_stage('qb_sums', 'SELECT k, sum(v) AS x FROM qb_src GROUP BY k',
  ARRAY['k'], engine => 'replace') IS NOT NULL, 'stage created');
-- The conditions of the bug: statistics of an empty queue, and the plan kept generic.
ANALYZE incview.dirty_scope;
SET plan_cache_mode = force_generic_plan;
SET incview.batch_size = 10;

-- Every key queued twice (written here: collection merges the copies capture would queue),
-- and one key of another stage in the same range.
CREATE TABLE qb_other (k int);
SELECT ok(incview.create_stage('qb_other_stage', 'SELECT k FROM qb_other', ARRAY['k'], engine => 'replace') IS NOT NULL,
  'second stage created');
INSERT INTO incview.dirty_scope (stage_id, key)
  SELECT s.id, jsonb_build_array(g) FROM incview.stage s, generate_series(1, 30) g, generate_series(1, 2) c
  WHERE s.name = 'qb_sums';
INSERT INTO incview.dirty_scope (stage_id, key)
  SELECT s.id, '[5]' FROM incview.stage s WHERE s.name = 'qb_other_stage';

CREATE FUNCTION qb_queued(stage text) RETURNS text LANGUAGE sql AS $$
  SELECT coalesce(string_agg(q.key::text || 'x' || q.n, ',' ORDER BY q.key), '')
  FROM (SELECT k.key, count(*) AS n FROM incview.dirty_scope k JOIN incview.stage s ON s.id = k.stage_id
        WHERE s.name = stage GROUP BY k.key) q
$$;

SELECT is((SELECT last_key::text FROM incview.refresh_step('qb_sums', NULL)), '[10]',
  'first batch: keys 1 to 10 (jsonb numbers in numeric order)');
SELECT is(qb_queued('qb_sums'),
  (SELECT string_agg('[' || g || ']x2', ',' ORDER BY g) FROM generate_series(11, 30) g),
  'first batch: both copies of keys 1-10 gone, keys 11-30 still queued twice');
SELECT is(qb_queued('qb_other_stage'), '[5]x1', 'another stage''s key in the same range stays queued');

SELECT is((SELECT last_key::text FROM incview.refresh_step('qb_sums', '[10]')), '[20]', 'second batch: keys 11 to 20');
SELECT is(qb_queued('qb_sums'),
  (SELECT string_agg('[' || g || ']x2', ',' ORDER BY g) FROM generate_series(21, 30) g),
  'second batch: keys 11-20 gone, 21-30 still queued');
SELECT is((SELECT row(scopes, last_key)::text FROM incview.refresh_step('qb_sums', '[20]')), '(10,[30])',
  'third batch: the last ten keys');
SELECT is(qb_queued('qb_sums') || '|' || qb_queued('qb_other_stage'), '|[5]x1',
  'the queue of the stage is empty, the other stage''s key still queued');
SELECT is((SELECT row(missing, extra)::text FROM incview.verify('qb_sums')), '(0,0)', 'the stage is fresh');

SELECT * FROM finish();
