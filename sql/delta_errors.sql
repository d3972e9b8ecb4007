-- Engine delta (issue 13): set_engine / create_stage on a query the engine cannot maintain
-- is an ERROR (0A000) naming the part of the query that disqualifies it, and changes nothing.
SET incview.default_policy = manual;
SET client_min_messages = warning;
CREATE TABLE ev (id int PRIMARY KEY, tag text, v int, d interval, ts timestamptz);
CREATE TABLE tags (tag text PRIMARY KEY, label text);
INSERT INTO ev VALUES (1, 'a', 1, '1 day', '2024-01-01'), (2, 'b', 2, '2 days', '2024-01-02');
INSERT INTO tags VALUES ('a', 'A'), ('b', 'B');
CREATE FUNCTION pg_temp.err(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE sql;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text;
BEGIN
  r := pg_temp.err(format('SELECT incview.create_stage(%L, %L, ARRAY[%L], engine => %L)', 's', q, 'tag', 'delta'));
  RETURN r || ' | leftovers: ' || (SELECT count(*) FROM incview.stage) || ' stages, '
         || (SELECT count(*) FROM pg_class WHERE relname = 's') || ' tables';
END $$;

-- Not a GROUP BY over one table, a UNION ALL of single-table branches or inner joins.
SELECT pg_temp.try('SELECT tag, v FROM ev');
SELECT pg_temp.try('SELECT tag, count(*) AS n FROM ev GROUP BY tag UNION ALL SELECT tag, 1 FROM tags');
SELECT pg_temp.try('SELECT tag, count(*) AS n FROM ev WHERE v IN (SELECT 1) GROUP BY tag');
-- Joins: outer joins, self-joins, LATERAL, a subquery in a join condition, a subquery next to a table.
SELECT pg_temp.try('SELECT t.tag, count(*) AS n FROM ev e LEFT JOIN tags t USING (tag) GROUP BY t.tag');
SELECT pg_temp.try('SELECT t.tag, count(*) AS n FROM ev e RIGHT JOIN tags t USING (tag) GROUP BY t.tag');
SELECT pg_temp.try('SELECT t.tag, count(*) AS n FROM ev e FULL JOIN tags t USING (tag) GROUP BY t.tag');
SELECT pg_temp.try('SELECT e.tag, count(*) AS n FROM ev e JOIN ev f ON f.id = e.id + 1 GROUP BY e.tag');
SELECT pg_temp.try('SELECT e.tag, count(*) AS n FROM ev e, LATERAL (SELECT * FROM tags t WHERE t.tag = e.tag) x GROUP BY e.tag');
SELECT pg_temp.try('SELECT e.tag, count(*) AS n FROM ev e JOIN tags t ON t.tag = e.tag AND e.v IN (SELECT 1) GROUP BY e.tag');
SELECT pg_temp.try('SELECT e.tag, count(*) AS n FROM ev e JOIN (SELECT tag FROM tags) t USING (tag) GROUP BY e.tag');
SELECT pg_temp.try('SELECT e.tag, count(*) AS n FROM ev e JOIN generate_series(1, 3) g ON g = e.v GROUP BY e.tag');
-- UNION ALL: without ALL, other set operations, branches that are not single-table maps.
SELECT pg_temp.try('SELECT tag, count(*) AS n FROM (SELECT tag FROM ev UNION SELECT tag FROM tags) u GROUP BY tag');
SELECT pg_temp.try('SELECT tag, count(*) AS n FROM (SELECT tag FROM ev EXCEPT ALL SELECT tag FROM tags) u GROUP BY tag');
SELECT pg_temp.try('SELECT tag, count(*) AS n FROM (SELECT tag FROM ev UNION ALL SELECT e.tag FROM ev e JOIN tags USING (tag)) u GROUP BY tag');
SELECT pg_temp.try('SELECT tag, count(*) AS n FROM (SELECT tag FROM ev UNION ALL SELECT tag FROM tags GROUP BY tag) u GROUP BY tag');
SELECT pg_temp.try('SELECT tag, count(*) AS n FROM (SELECT tag FROM ev UNION ALL SELECT tag FROM tags WHERE tag IN (SELECT ''a'')) u GROUP BY tag');
SELECT pg_temp.try('SELECT u.tag, count(*) AS n FROM (SELECT tag FROM ev UNION ALL SELECT tag FROM tags) u JOIN tags t USING (tag) GROUP BY u.tag');
SELECT pg_temp.try('SELECT tag, count(*) AS n FROM (SELECT tag, v FROM ev UNION ALL SELECT tag, 1 FROM tags) u GROUP BY tag, v');
SELECT pg_temp.try('SELECT tag, sum(v) * 2 AS s2 FROM (SELECT tag, v FROM ev UNION ALL SELECT tag, 1 FROM tags) u GROUP BY tag');
SELECT pg_temp.try('SELECT tag, count(*) AS n FROM (SELECT tag, now() AS t FROM ev UNION ALL SELECT tag, now() FROM tags) u WHERE t > ''2020-01-01'' GROUP BY tag');
-- Aggregates the engine does not fold.
SELECT pg_temp.try('SELECT tag, count(DISTINCT v) AS n FROM ev GROUP BY tag');
SELECT pg_temp.try('SELECT tag, string_agg(tag, '','') AS s FROM ev GROUP BY tag');
SELECT pg_temp.try('SELECT tag, sum(d) AS total FROM ev GROUP BY tag');
SELECT pg_temp.try('SELECT tag, sum(v) FILTER (WHERE v > 1) AS s FROM ev GROUP BY tag');
SELECT pg_temp.try('SELECT tag, sum(v) * 2 AS s2 FROM ev GROUP BY tag');
SELECT pg_temp.try('SELECT tag, count(*) AS __incview_count FROM ev GROUP BY tag');
-- Time-dependent: capture and a re-derive would disagree.
SELECT pg_temp.try('SELECT tag, count(*) AS n FROM ev WHERE ts > now() - interval ''1 day'' GROUP BY tag');
-- A GROUP BY expression missing from the output.
SELECT pg_temp.try('SELECT tag, count(*) AS n FROM ev GROUP BY tag, v');
-- Storage the engine does not maintain.
SELECT incview.create_stage('p', 'SELECT tag, count(*) AS n FROM ev GROUP BY tag', ARRAY['tag'],
                            partition_by => 'list (tag)');
SELECT pg_temp.err($$SELECT incview.set_engine('p', 'delta')$$);
SELECT incview.drop_stage('p');

-- set_engine on an existing stage: same ERROR, the stage keeps its engine and its table.
SELECT incview.create_stage('j', 'SELECT e.tag, count(*) AS n FROM ev e LEFT JOIN tags t USING (tag) GROUP BY e.tag', ARRAY['tag']);
SELECT pg_temp.err($$SELECT incview.set_engine('j', 'delta')$$);
SELECT engine FROM incview.stage WHERE name = 'j';
SELECT count(*) AS hidden_columns FROM pg_attribute WHERE attrelid = 'j'::regclass AND attname LIKE '\_\_incview%';
SELECT incview.drop_stage('j');

-- A qualifying stage: the hidden columns, and alter_stage refused while the engine is on.
SELECT incview.create_stage('g', 'SELECT tag, count(*) AS n, avg(v) AS a FROM ev GROUP BY tag', ARRAY['tag'], engine => 'delta');
SELECT * FROM g ORDER BY tag;
SELECT pg_temp.err($$SELECT incview.alter_stage('g', 'SELECT tag, count(*) AS n FROM ev GROUP BY tag')$$);
SELECT pg_temp.err($$SELECT incview.set_engine('g', 'bogus')$$);
SELECT incview.drop_stage('g');
DROP TABLE ev, tags;
