-- Bad input gets a clear ERROR with the right SQLSTATE, and leaves nothing half-made.
-- Stages refresh only when these tests say so (no background scheduler race).
SET incview.default_policy = manual;
CREATE TABLE t (id int, v text);
INSERT INTO t VALUES (1, 'a'), (1, 'a'), (2, 'b');
-- Shows SQLSTATE and message of a statement's error.
CREATE FUNCTION pg_temp.err(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE sql;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
-- Nothing half-made: no stage row, no table named s, no trigger on t.
CREATE FUNCTION pg_temp.leftovers() RETURNS text LANGUAGE sql AS $$
  SELECT format('stages=%s table=%s triggers=%s',
    (SELECT count(*) FROM incview.stage), to_regclass('public.s') IS NOT NULL,
    (SELECT count(*) FROM pg_trigger WHERE tgrelid = 't'::regclass))
$$;

-- The original PostgreSQL error (and SQLSTATE) reaches the client.
SELECT incview.create_stage('s', 'SELECT * FROM no_such_table', ARRAY['id']);
SELECT pg_temp.err($$SELECT incview.create_stage('s', 'SELECT * FROM no_such_table', ARRAY['id'])$$);
SELECT pg_temp.err($$SELECT incview.create_stage('s', 'SELEC id FROM t', ARRAY['id'])$$);
SELECT pg_temp.err($$SELECT incview.create_stage('s', 'SELECT nope FROM t', ARRAY['id'])$$);
SELECT pg_temp.leftovers();

-- Only one plain SELECT.
SELECT incview.create_stage('s', 'SELECT 1 AS id; DROP TABLE t', ARRAY['id']);
SELECT incview.create_stage('s', 'DELETE FROM t', ARRAY['id']);
SELECT incview.create_stage('s', 'SELECT id INTO t2 FROM t', ARRAY['id']);
SELECT incview.create_stage('s', 'SELECT id FROM t FOR UPDATE', ARRAY['id']);
SELECT incview.create_stage('s', 'WITH d AS (DELETE FROM t RETURNING id) SELECT id FROM d', ARRAY['id']);
SELECT pg_temp.leftovers();
SELECT count(*) AS t_rows_untouched FROM t;

-- Scope and unique key must name output columns.
SELECT incview.create_stage('s', 'SELECT id, v FROM t', ARRAY['ID']);
SELECT incview.create_stage('s', 'SELECT id, v FROM t', ARRAY['id'], unique_key => ARRAY['nope']);
SELECT incview.create_stage('s', 'SELECT id, v FROM t', ARRAY[]::text[]);
SELECT incview.create_stage('s', 'SELECT id, v FROM t', ARRAY['id', 'id']);
SELECT incview.create_stage(NULL, 'SELECT id, v FROM t', ARRAY['id']);
SELECT pg_temp.leftovers();

-- Engines.
SELECT incview.create_stage('s', 'SELECT id, v FROM t', ARRAY['id'], engine => 'fast');
-- The query's rows violate the unique key: the build fails and takes everything with it.
SELECT pg_temp.err($$SELECT incview.create_stage('s', 'SELECT id, v FROM t', ARRAY['id'], ARRAY['id'])$$);
-- A scope whose type has no equality cannot be refreshed by scope.
SELECT pg_temp.err($$SELECT incview.create_stage('s', 'SELECT id, v::json AS j FROM t', ARRAY['j'])$$);
-- Array-typed scopes cannot be refreshed by scope (keys travel as arrays of the type).
CREATE TABLE arr (tags text[]);
SELECT incview.create_stage('s', 'SELECT tags, count(*) AS n FROM arr GROUP BY tags', ARRAY['tags']);
SELECT incview.create_stage('s', 'SELECT id, v FROM t', ARRAY['id'], engine => 'auto') IS NULL AS policy_check
  FROM (SELECT set_config('incview.default_policy', 'hourly', true)) x;
RESET incview.default_policy;
SET incview.default_policy = manual;
SELECT pg_temp.leftovers();

-- Names already taken.
CREATE TABLE taken (x int);
SELECT incview.create_stage('s', 'SELECT id, v FROM t', ARRAY['id'], target => 'taken');
SELECT incview.create_stage('s', 'SELECT id, v FROM t', ARRAY['id'], target => 'a.b.c');
SELECT incview.create_stage('s', 'SELECT id, v FROM t', ARRAY['id'], target => 'no_schema.x');
SELECT incview.create_stage('s', 'SELECT id, v FROM t', ARRAY['id']) IS NOT NULL AS created;
SELECT pg_temp.err($$SELECT incview.create_stage('s', 'SELECT id FROM t', ARRAY['id'], target => 'other')$$);
SELECT pg_temp.leftovers();

-- Refresh input.
SELECT incview.refresh_scopes('nope', '[1]');
SELECT incview.refresh_scopes('s', '{"id": 1}');
SELECT incview.refresh_scopes('s', '[{"ID": 1}]');
SELECT incview.refresh_scopes('s', '[[1, 2]]');
SELECT pg_temp.err($$SELECT incview.refresh_scopes('s', '["x"]')$$);
SELECT incview.refresh_scopes('s', NULL);
SELECT incview.refresh_where('s', 'true; DROP TABLE t');
SELECT incview.refresh_where('s', 'true) UNION (SELECT 1');
SELECT incview.refresh_where('s', '');
SELECT pg_temp.err($$SELECT incview.refresh_where('s', 'nope = 1')$$);
SELECT count(*) AS t_still_there FROM t;
SELECT incview.verify('nope');
SELECT incview.drop_stage('nope');

-- C++ exceptions and PostgreSQL errors cross the boundary as clean ERRORs; the
-- backend survives each of them.
SELECT incview._selftest_throw('std');
SELECT incview._selftest_throw('incview');
SELECT pg_temp.err($$SELECT incview._selftest_throw('incview')$$);
SELECT pg_temp.err($$SELECT incview._selftest_throw('std')$$);
SELECT incview._selftest_throw('unknown');
SELECT incview._selftest_throw('bad_alloc');
SELECT pg_temp.err($$SELECT incview._selftest_throw('pg')$$);
SELECT incview._selftest_throw('none');
SELECT 'backend alive' AS status;
SELECT incview.drop_stage('s');
