-- Engine auto's crossover against replace by shape (issue 13 item 3, core/delta_crossover):
-- measured in bench/crossover.sh (bench/delta.md, "Crossover by shape"), a delta refresh cost
-- less server CPU than replace at every size from 1 source row per scope; writers pay what key
-- capture pays where a one-row write is captured directly (one table, no WHERE, plain
-- columns), more where capture runs a statement (a join runs the join in the writer's
-- transaction), and HAVING re-derives every touched group (cheaper than replace for small
-- groups, dearer for large ones). So auto chooses delta from 1 source row per scope for the
-- first, from 10 for a statement (a WHERE), from 100 for a join, and with HAVING up to 10.
-- Both sides of each threshold on a real server; every stage on its own tables (auto makes
-- at most one delta stage per table). Before this rule (1,000 for every shape) the small
-- single-table, min/max, WHERE-at-20, join-at-201 and small HAVING stages were not delta and
-- the large HAVING one was.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pg_incview;
SET LOCAL client_min_messages = warning;
SET LOCAL incview.default_policy = manual;
SELECT plan(13);

CREATE FUNCTION pg_temp.is_delta(stage text) RETURNS boolean LANGUAGE sql AS $$
  SELECT EXISTS (SELECT 1 FROM incview.delta_stage d JOIN incview.stage s ON s.id = d.stage_id WHERE s.name = stage) $$;
-- A table of `rows` rows spread over `scopes` values of k.
CREATE FUNCTION pg_temp.source(name text, rows int, scopes int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('CREATE TABLE %I (id serial PRIMARY KEY, k int NOT NULL, dim_id int NOT NULL, v int NOT NULL)', name);
  EXECUTE format('INSERT INTO %I (k, dim_id, v) SELECT g %% %s, g %% 10, g FROM generate_series(1, %s) g', name, scopes, rows);
  EXECUTE format('ANALYZE %I', name);
END $$;
CREATE FUNCTION pg_temp.dim(name text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('CREATE TABLE %I (id int PRIMARY KEY, w int NOT NULL)', name);
  EXECUTE format('INSERT INTO %I SELECT g, g FROM generate_series(0, 9) g', name);
  EXECUTE format('ANALYZE %I', name);
END $$;

-- Single table, plain columns (direct capture): from 1 source row per scope.
SELECT pg_temp.source('one_per_scope', 2000, 2000);
SELECT incview.create_stage('x_plain_1', 'SELECT k, count(*) AS n, sum(v) AS s FROM one_per_scope GROUP BY k', ARRAY['k']);
SELECT ok(pg_temp.is_delta('x_plain_1'), 'single table, 1 source row per scope: delta (was replace below 1,000)');
SELECT pg_temp.source('mm_two', 2000, 1000);
SELECT incview.create_stage('x_minmax_2', 'SELECT k, min(v) AS lo, max(v) AS hi FROM mm_two GROUP BY k', ARRAY['k']);
SELECT ok(pg_temp.is_delta('x_minmax_2'), 'min/max, 2 source rows per scope: delta');
CREATE TABLE empty_src (k int NOT NULL, v int NOT NULL);
ANALYZE empty_src;
SELECT incview.create_stage('x_empty', 'SELECT k, sum(v) AS s FROM empty_src GROUP BY k', ARRAY['k']);
SELECT ok(NOT pg_temp.is_delta('x_empty'), 'an empty source (no scopes): not delta');

-- A WHERE (a capture statement per write, no join): from 10.
SELECT pg_temp.source('w_small', 2000, 400);  -- 5 rows per scope
SELECT incview.create_stage('x_where_5', 'SELECT k, sum(v) AS s FROM w_small WHERE v > 0 GROUP BY k', ARRAY['k']);
SELECT ok(NOT pg_temp.is_delta('x_where_5'), 'WHERE, 5 source rows per scope: not delta');
SELECT pg_temp.source('w_large', 2000, 100);  -- 20
SELECT incview.create_stage('x_where_20', 'SELECT k, sum(v) AS s FROM w_large WHERE v > 0 GROUP BY k', ARRAY['k']);
SELECT ok(pg_temp.is_delta('x_where_20'), 'WHERE, 20 source rows per scope: delta (was replace below 1,000)');

-- A join (capture runs the join in the writer's transaction): from 100, counting both tables' rows.
SELECT pg_temp.source('f_small', 2000, 40), pg_temp.dim('d_small');  -- (2000 + 10) / 40 = 50
SELECT incview.create_stage('x_join_50',
  'SELECT f.k, count(*) AS n, sum(d.w) AS s FROM f_small f JOIN d_small d ON d.id = f.dim_id GROUP BY f.k', ARRAY['k']);
SELECT ok(NOT pg_temp.is_delta('x_join_50'), 'join, 50 source rows per scope: not delta');
SELECT pg_temp.source('f_large', 2000, 10), pg_temp.dim('d_large');  -- 201
SELECT incview.create_stage('x_join_200',
  'SELECT f.k, count(*) AS n, sum(d.w) AS s FROM f_large f JOIN d_large d ON d.id = f.dim_id GROUP BY f.k', ARRAY['k']);
SELECT ok(pg_temp.is_delta('x_join_200'), 'join, 201 source rows per scope: delta');

-- HAVING: up to 10 source rows per scope.
SELECT pg_temp.source('h_small', 2000, 400);  -- 5 rows per scope
SELECT incview.create_stage('x_having_5', 'SELECT k, sum(v) AS s FROM h_small GROUP BY k HAVING count(*) > 1', ARRAY['k']);
SELECT ok(pg_temp.is_delta('x_having_5'), 'HAVING, 5 source rows per scope: delta (was replace below 1,000)');
SELECT pg_temp.source('h_large', 4000, 2);  -- 2,000 rows per scope
SELECT incview.create_stage('x_having', 'SELECT k, sum(v) AS s FROM h_large GROUP BY k HAVING count(*) > 1', ARRAY['k']);
SELECT ok(NOT pg_temp.is_delta('x_having'), 'HAVING, 2,000 source rows per scope: not delta (was delta from 1,000)');
SELECT incview.set_engine('x_having', 'delta');
SELECT ok(pg_temp.is_delta('x_having'), 'HAVING: an explicit delta still works');

-- set_engine(…, 'auto') decides again from the same rule.
SELECT incview.set_engine('x_having', 'auto');
SELECT ok(NOT pg_temp.is_delta('x_having'), 'set_engine auto on a HAVING stage: not delta');
INSERT INTO w_small (k, dim_id, v) SELECT g % 400, 0, g FROM generate_series(1, 8000) g;  -- now 10,000 / 400 = 25
ANALYZE w_small;
SELECT incview.set_engine('x_where_5', 'auto');
SELECT ok(pg_temp.is_delta('x_where_5'), 'set_engine auto once the WHERE stage''s scopes grew past 10 rows: delta');

-- Whatever auto chose, the tables equal their queries once refreshed.
SELECT count(incview.refresh(name)) FROM incview.stage WHERE name LIKE 'x\_%';
SELECT is((SELECT count(*) FROM incview.stage s, incview.verify(s.name) v WHERE s.name LIKE 'x\_%' AND (v.missing, v.extra) <> (0, 0)),
          0::bigint, 'every stage equals its query');

SELECT * FROM finish();
ROLLBACK;
