-- Engine diff on a stage without unique_key (issue 13 item 6): the stage is a multiset,
-- rows pair with the query's rows by their whole value (text form), copy by copy. What a
-- user sees: the engine is accepted at create_stage and set_engine, refresh_log counts only
-- the real changes, and columns of types without an equality operator (json, point, xml)
-- and NULLs pair like any value.
SET client_min_messages = warning;
SET incview.default_policy = manual;
CREATE TABLE ms_src (id serial PRIMARY KEY, g int, doc json, pt point, x xml, note text);
INSERT INTO ms_src (g, doc, pt, x, note) VALUES
  (1, '{"a":1}', '(1,2)', '<a/>', NULL),
  (1, '{"a":1}', '(1,2)', '<a/>', NULL),
  (2, NULL, NULL, NULL, 'n');
CREATE FUNCTION pg_temp.last_write(stage text) RETURNS TABLE (engine text, deleted bigint, inserted bigint, updated bigint)
LANGUAGE sql AS $$
  SELECT l.engine, l.rows_deleted, l.rows_inserted, l.rows_updated
  FROM incview.refresh_log l WHERE l.stage = last_write.stage ORDER BY l.id DESC LIMIT 1
$$;

-- No unique_key, engine diff: accepted (it used to be refused with "needs a unique_key").
SELECT incview.create_stage('ms', 'SELECT g, doc, pt, x, note FROM ms_src', ARRAY['g'], engine => 'diff') IS NOT NULL AS created;
SELECT g, doc, pt, x, note FROM ms ORDER BY g, note;
SELECT * FROM incview.verify('ms');

-- A third copy of a row with json, point and xml values: one row inserted, two untouched.
INSERT INTO ms_src (g, doc, pt, x, note) VALUES (1, '{"a":1}', '(1,2)', '<a/>', NULL);
SELECT incview.refresh('ms');
SELECT * FROM pg_temp.last_write('ms');
-- All three copies gone; scope 2 dirtied by an UPDATE that changes nothing: its row with
-- NULLs pairs with itself and is not rewritten (3 deleted, 0 inserted).
DELETE FROM ms_src WHERE g = 1;
UPDATE ms_src SET note = note WHERE g = 2;
SELECT incview.refresh('ms');
SELECT * FROM pg_temp.last_write('ms');
SELECT g, doc, pt, x, note FROM ms ORDER BY g, note;
SELECT * FROM incview.verify('ms');

-- json spacing is a change (json has no equality; the table shows what the query returns).
INSERT INTO ms_src (g, doc) VALUES (3, '{"a":1}');
SELECT incview.refresh('ms');
UPDATE ms_src SET doc = '{"a": 1}' WHERE g = 3;
SELECT incview.refresh('ms');
SELECT * FROM pg_temp.last_write('ms');
SELECT doc FROM ms WHERE g = 3;

-- set_engine: diff is accepted without unique_key, and explain says what batches use.
SELECT incview.create_stage('ms2', 'SELECT g, note FROM ms_src', ARRAY['g'], engine => 'replace') IS NOT NULL AS created;
SELECT incview.set_engine('ms2', 'diff');
SELECT substring(incview.explain('ms2') FROM 'engine: [^\n]*') AS engine_line;
SELECT incview.set_engine('ms2', 'auto');
SELECT substring(incview.explain('ms2') FROM 'engine: [^\n]*') AS engine_line;
SELECT incview.set_engine('ms2', 'fast');

SELECT incview.drop_stage('ms2');
SELECT incview.drop_stage('ms');
DROP TABLE ms_src;
