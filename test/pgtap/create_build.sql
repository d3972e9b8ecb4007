-- create_stage's first build and the rebuild's fill (issue 12, item 3; docs/rebuild.md):
-- no scope index when the unique index leads with the scope, statistics on the key columns,
-- a parallel plan filling the table from this backend (as CREATE TABLE AS does), the NOT
-- NULL of a column checked on the direct fill.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pg_incview;
SET LOCAL incview.default_policy = manual;
SET LOCAL client_min_messages = warning;
SELECT plan(21);

CREATE TABLE cb_src (id int PRIMARY KEY, g int, h int, v text);
-- Every 400th row carries a value long enough to be stored out of line (TOAST).
INSERT INTO cb_src SELECT i, i % 50, i % 7, CASE WHEN i % 400 = 0 THEN repeat(md5(i::text), 200) ELSE 'v' || i END
FROM generate_series(1, 20000) i;
ANALYZE cb_src;

CREATE FUNCTION pg_temp.index_defs(t regclass) RETURNS text[] LANGUAGE sql AS $$
  SELECT array_agg(regexp_replace(pg_get_indexdef(indexrelid), '^.* USING ', '') ORDER BY 1)
  FROM pg_index WHERE indrelid = t $$;

-- ------------------------------------------------------------------ the indexes
-- Engine replace: these refreshes re-derive scopes through the unique index (auto would choose
-- delta for this GROUP BY, which folds groups instead: core/delta_crossover).
SELECT incview.create_stage('cb_lead', 'SELECT g, h, count(*) AS n FROM cb_src GROUP BY g, h',
  ARRAY['g'], unique_key => ARRAY['g', 'h'], engine => 'replace');
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

-- A fresh stage's first refresh, before autovacuum analyzed its table: the statistics come
-- from create_stage's small sample (3,000 rows, statistics target 10), and a batch of 100
-- scope keys still finds its rows by the index. The same rows in a table without statistics
-- (PostgreSQL then assumes 200 distinct values) are read in full: what the sample prevents.
CREATE TABLE cb_many (id int PRIMARY KEY, s int);
INSERT INTO cb_many SELECT i, i % 8000 FROM generate_series(1, 40000) i;
ANALYZE cb_many;
CREATE FUNCTION pg_temp.batch_plan(t regclass) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text; o text := ''; BEGIN
  FOR r IN EXECUTE format('EXPLAIN DELETE FROM %s AS t WHERE t.s = ANY(%L::int[])', t,
                          (SELECT array_agg(k * 37 % 8000) FROM generate_series(1, 100) k)) LOOP
    o := o || r || E'\n'; END LOOP;
  RETURN o; END $$;
SELECT incview.create_stage('cb_fresh', 'SELECT s, id FROM cb_many', ARRAY['s'], unique_key => ARRAY['s', 'id']);
SELECT ok((SELECT n_distinct FROM pg_stats WHERE tablename = 'cb_fresh' AND attname = 's') IS NOT NULL,
          'a fresh stage has statistics of its scope column');
SELECT cmp_ok((SELECT array_length(histogram_bounds::text::text[], 1) FROM pg_stats
                WHERE tablename = 'cb_fresh' AND attname = 'id'), '<=', 11,
              'from the small sample (statistics target 10: at most 11 histogram bounds)');
SELECT is(current_setting('default_statistics_target'), '100', 'the caller''s statistics target is untouched');
SELECT unalike(pg_temp.batch_plan('cb_fresh'), '%Seq Scan%', 'a batch of 100 scopes of a fresh stage is planned by the index');
CREATE TABLE cb_nostats AS SELECT s, id FROM cb_many;
CREATE UNIQUE INDEX ON cb_nostats (s, id);
SELECT alike(pg_temp.batch_plan('cb_nostats'), '%Seq Scan%', 'without statistics the same batch reads the whole table');

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
