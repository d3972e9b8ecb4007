-- create_stage's first build and the rebuild's fill (issue 12, item 3; docs/rebuild.md):
-- no scope index when the unique index leads with the scope, statistics on the key columns,
-- a parallel plan filling the table from this backend (as CREATE TABLE AS does), the NOT
-- NULL of a column checked on the direct fill.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pg_incview;
SET LOCAL incview.default_policy = manual;
SET LOCAL client_min_messages = warning;
SELECT plan(16);

CREATE TABLE cb_src (id int PRIMARY KEY, g int, h int, v text);
-- Every 400th row carries a value long enough to be stored out of line (TOAST).
INSERT INTO cb_src SELECT i, i % 50, i % 7, CASE WHEN i % 400 = 0 THEN repeat(md5(i::text), 200) ELSE 'v' || i END
FROM generate_series(1, 20000) i;
ANALYZE cb_src;

CREATE FUNCTION pg_temp.index_defs(t regclass) RETURNS text[] LANGUAGE sql AS $$
  SELECT array_agg(regexp_replace(pg_get_indexdef(indexrelid), '^.* USING ', '') ORDER BY 1)
  FROM pg_index WHERE indrelid = t $$;

-- ------------------------------------------------------------------ the indexes
SELECT incview.create_stage('cb_lead', 'SELECT g, h, count(*) AS n FROM cb_src GROUP BY g, h',
  ARRAY['g'], unique_key => ARRAY['g', 'h']);
SELECT is(pg_temp.index_defs('cb_lead'), ARRAY['btree (g, h) NULLS NOT DISTINCT'],
          'a unique key leading with the scope: one index, the unique one (it serves scope lookups)');
SELECT incview.create_stage('cb_trail', 'SELECT g, h, count(*) AS n FROM cb_src GROUP BY g, h',
  ARRAY['g'], unique_key => ARRAY['h', 'g']);
SELECT is(pg_temp.index_defs('cb_trail'), ARRAY['btree (g)', 'btree (h, g) NULLS NOT DISTINCT'],
          'a unique key not leading with the scope: the scope index too');
SELECT incview.create_stage('cb_nokey', 'SELECT g, h FROM cb_src', ARRAY['g']);
SELECT is(pg_temp.index_defs('cb_nokey'), ARRAY['btree (g)'], 'no unique key: the scope index');
SELECT incview.create_stage('cb_two', 'SELECT g, h, count(*) AS n FROM cb_src GROUP BY g, h',
  ARRAY['h', 'g'], unique_key => ARRAY['g', 'h']);
SELECT is(pg_temp.index_defs('cb_two'), ARRAY['btree (g, h) NULLS NOT DISTINCT'],
          'a two-column scope in another order than the unique key: still one index');

-- Scoped refreshes find their rows through the unique index.
UPDATE cb_src SET h = (h + 1) % 7 WHERE g IN (3, 4);
SELECT is(incview.refresh('cb_lead'), 2::bigint, 'a refresh of two scopes');
SELECT results_eq($$SELECT missing, extra FROM incview.verify('cb_lead')$$, $$VALUES (0::bigint, 0::bigint)$$,
                  'the refreshed stage equals its query');
SELECT is(incview.refresh('cb_two'), 14::bigint, 'a refresh of the composite scopes');
SELECT results_eq($$SELECT missing, extra FROM incview.verify('cb_two')$$, $$VALUES (0::bigint, 0::bigint)$$,
                  'so does the composite one');

-- ------------------------------------------------------------------ statistics
-- The key columns are analyzed by create_stage (refresh plans, the scope count); the others
-- are left to autovacuum, as a materialized view's.
SELECT is((SELECT array_agg(attname::text ORDER BY attname) FROM pg_stats WHERE tablename = 'cb_lead'),
          ARRAY['g', 'h'], 'create_stage analyzed the scope and unique-key columns');

-- ------------------------------------------------------------------ a parallel fill
-- Parallel plans made cheap: the stage query runs with workers and its rows go into the new
-- table (and, rebuilt, into the new heap) from this backend, TOAST values included.
CREATE FUNCTION pg_temp.plan_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text; o text := ''; BEGIN FOR r IN EXECUTE 'EXPLAIN ' || q LOOP o := o || r || E'\n'; END LOOP; RETURN o; END $$;
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL max_parallel_workers_per_gather = 2;
SELECT ok(pg_temp.plan_of('SELECT g, id, v FROM cb_src WHERE h >= 0') ~ 'Gather', 'the stage query has a parallel plan');
SELECT incview.create_stage('cb_par', 'SELECT g, id, v FROM cb_src WHERE h >= 0', ARRAY['g'], unique_key => ARRAY['g', 'id']);
SELECT is((SELECT count(*) FROM cb_par), 20000::bigint, 'the parallel fill wrote every row');
SELECT results_eq($$SELECT missing, extra FROM incview.verify('cb_par')$$, $$VALUES (0::bigint, 0::bigint)$$,
                  'and exactly the query''s rows');
SELECT is((SELECT sum(length(v)) FROM cb_par WHERE id % 400 = 0), (SELECT sum(length(v)) FROM cb_src WHERE id % 400 = 0),
          'out-of-line values whole');
UPDATE cb_src SET v = v || '!' WHERE id % 3 = 0;
SELECT incview.rebuild('cb_par');
SELECT results_eq($$SELECT missing, extra FROM incview.verify('cb_par')$$, $$VALUES (0::bigint, 0::bigint)$$,
                  'a rebuild with parallel plans allowed equals the query');

-- ------------------------------------------------------------------ NOT NULL on the direct fill
-- The rows go in without the executor's INSERT: a NOT NULL the owner put on a column is
-- still enforced, and the failed rebuild keeps the old rows.
SELECT incview.create_stage('cb_nn', 'SELECT g, max(v) FILTER (WHERE id > 0) AS top FROM cb_src GROUP BY g', ARRAY['g'],
  unique_key => ARRAY['g'], engine => 'full');
ALTER TABLE cb_nn ALTER COLUMN top SET NOT NULL;
UPDATE cb_src SET id = -id WHERE g = 5;
SELECT throws_ok($$SELECT incview.rebuild('cb_nn')$$, '23502', NULL, 'a NULL into a NOT NULL column fails the rebuild');
SELECT is((SELECT count(*) FROM cb_nn WHERE top IS NOT NULL), 50::bigint, 'the old rows are still there');

SELECT * FROM finish();
ROLLBACK;
