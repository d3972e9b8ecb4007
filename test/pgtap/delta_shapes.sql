-- Engine delta over several sources (issue 13): UNION ALL multi-maps and inner joins.
-- Randomized differential: six stages (a two-branch UNION ALL with every aggregate kind and a
-- WHERE in one branch, a UNION ALL with HAVING, a UNION ALL reading one table twice, a join of
-- facts to a dimension, a join with a composite key, WHERE and HAVING, a three-table join) get
-- random inserts, updates moving rows between groups on every side (a dimension row's tag, a
-- fact's tag_id, NULL tags), value changes, deletes of the rows holding min/max, whole groups
-- vanishing, foreign-key cascades (delete and key update of a dimension row), a WITH writing
-- both sides of the join, and TRUNCATE of either side; after every round each stage is
-- refreshed and must equal its query (incview.verify = (0,0)).
-- Then: what capture queues (a delta per touched group, not a rebuild), the statements that
-- would read the other side at the wrong moment (a cascade, a data-modifying WITH) and queue a
-- rebuild instead, engine auto on a qualifying join, and the generated statements' privacy.
-- Runs in one transaction and rolls back (no background refresher sees the stages).
BEGIN;
CREATE EXTENSION IF NOT EXISTS pg_incview;
SET LOCAL client_min_messages = warning;

\set rounds 10
SELECT plan(:rounds * 6 + 21);

-- UNION ALL sources
CREATE TABLE ua (id serial PRIMARY KEY, k text, v int);
CREATE TABLE ub (id serial PRIMARY KEY, grp text, amount int);
CREATE INDEX ON ua (k);
CREATE INDEX ON ub (grp);
INSERT INTO ua (k, v) SELECT CASE WHEN i % 37 = 0 THEN NULL ELSE 'k' || (i % 9) END,
                             CASE WHEN i % 11 = 0 THEN NULL ELSE (i * 7919) % 1000 END
FROM generate_series(1, 600) i;
INSERT INTO ub (grp, amount) SELECT CASE WHEN i % 41 = 0 THEN NULL ELSE 'k' || (i % 12) END,
                                    CASE WHEN i % 13 = 0 THEN NULL ELSE (i * 104729) % 1000 END
FROM generate_series(1, 600) i;
-- join sources: facts -> tags -> regions, with cascades
CREATE TABLE jr (id int PRIMARY KEY, region text);
CREATE TABLE jt (id int PRIMARY KEY, tag text, region_id int REFERENCES jr);
CREATE TABLE je (id serial PRIMARY KEY, tag_id int REFERENCES jt ON DELETE CASCADE ON UPDATE CASCADE,
                 kind text, v int);
CREATE INDEX ON je (tag_id);
INSERT INTO jr SELECT i, 'r' || (i % 3) FROM generate_series(1, 5) i;
INSERT INTO jt SELECT i, CASE WHEN i % 9 = 0 THEN NULL ELSE 't' || (i % 6) END, 1 + i % 5 FROM generate_series(1, 30) i;
INSERT INTO je (tag_id, kind, v)
SELECT 1 + (i * 31) % 30, CASE WHEN i % 7 = 0 THEN NULL ELSE 'x' || (i % 3) END,
       CASE WHEN i % 17 = 0 THEN NULL ELSE (i * 7907) % 1000 END
FROM generate_series(1, 1500) i;

SELECT incview.create_stage('u_all', $q$
    SELECT k, count(*) AS n, count(v) AS nv, sum(v) AS s, avg(v) AS a, min(v) AS lo, max(v) AS hi
    FROM (SELECT k, v FROM ua UNION ALL SELECT grp AS k, amount AS v FROM ub WHERE amount IS DISTINCT FROM 13) s
    GROUP BY k $q$, ARRAY['k'], engine => 'delta');
SELECT incview.create_stage('u_having', $q$
    SELECT k, count(*) AS n, sum(v) AS s
    FROM (SELECT k, v FROM ua UNION ALL SELECT grp, amount FROM ub) s
    GROUP BY k HAVING count(*) > 110 $q$, ARRAY['k'], engine => 'delta');
SELECT incview.create_stage('u_twice', $q$
    SELECT k, count(*) AS n, sum(v) AS s, max(v) AS hi
    FROM (SELECT k, v FROM ua WHERE v > 500 UNION ALL SELECT k, -v FROM ua WHERE v <= 500) s
    GROUP BY k $q$, ARRAY['k'], engine => 'delta');
SELECT incview.create_stage('j_tag', $q$
    SELECT t.tag, count(*) AS n, count(e.v) AS nv, sum(e.v) AS s, avg(e.v) AS a, min(e.v) AS lo, max(e.v) AS hi
    FROM je e JOIN jt t ON t.id = e.tag_id GROUP BY t.tag $q$, ARRAY['tag'], engine => 'delta');
SELECT incview.create_stage('j_kind', $q$
    SELECT t.tag, e.kind, count(*) AS n, sum(e.v) AS s
    FROM je e JOIN jt t ON t.id = e.tag_id WHERE e.v IS NOT NULL
    GROUP BY t.tag, e.kind HAVING sum(e.v) > 20000 $q$, ARRAY['tag', 'kind'], engine => 'delta');
SELECT incview.create_stage('j_region', $q$
    SELECT r.region, count(*) AS n, sum(e.v) AS s, max(e.v) AS hi
    FROM je e JOIN jt t ON t.id = e.tag_id JOIN jr r ON r.id = t.region_id GROUP BY r.region $q$,
    ARRAY['region'], engine => 'delta');

CREATE TEMP TABLE stage_names (name text PRIMARY KEY);
INSERT INTO stage_names VALUES ('u_all'), ('u_having'), ('u_twice'), ('j_tag'), ('j_kind'), ('j_region');

SELECT is((SELECT count(*) FROM incview.delta_stage d JOIN incview.stage s ON s.id = d.stage_id
           WHERE s.name IN (SELECT name FROM stage_names)), 6::bigint, 'engine delta on for the six stages');
SELECT is((SELECT count(*) FROM incview.delta_capture c JOIN incview.stage s ON s.id = c.stage_id
           WHERE s.name IN (SELECT name FROM stage_names)), 12::bigint,
          'capture statements for every source of every stage (2 + 2 + 1 + 2 + 2 + 3)');
SELECT is((SELECT array_agg(c.pending_check::text ORDER BY c.source::text) FROM incview.delta_capture c
           JOIN incview.stage s ON s.id = c.stage_id WHERE s.name = 'j_tag'),
          ARRAY['{jt}', '{je}'], 'a join side checks the other side; ');
SELECT is((SELECT count(*) FROM incview.delta_capture c JOIN incview.stage s ON s.id = c.stage_id
           WHERE s.name LIKE 'u\_%' AND c.pending_check <> '{}'), 0::bigint, 'UNION ALL branches are independent');
SELECT is((SELECT row(missing, extra)::text FROM incview.verify(name)), '(0,0)', 'after create: ' || name)
FROM stage_names WHERE name IN ('u_all', 'j_tag') ORDER BY name;

CREATE FUNCTION pg_temp.mutate(seed int, n int) RETURNS void LANGUAGE plpgsql AS $f$
DECLARE
  step int;
  r double precision;
  t text;
BEGIN
  PERFORM setseed(((seed::bigint * 7919) % 10007) / 10007.0 - 0.5);
  FOR step IN 1 .. n LOOP
    r := random();
    t := CASE WHEN random() < 0.08 THEN NULL ELSE 'k' || floor(random() * 14)::int END;
    IF step = n AND seed % 5 = 4 THEN              -- TRUNCATE of either side
      IF seed % 10 = 4 THEN
        TRUNCATE ub;
        TRUNCATE je;
      ELSE
        TRUNCATE ua;
        TRUNCATE jt CASCADE;
      END IF;
      INSERT INTO jt SELECT i, 't' || (i % 4), 1 + i % 5 FROM generate_series(1, 20) i ON CONFLICT (id) DO NOTHING;
      INSERT INTO ua (k, v) SELECT 'k' || (i % 5), i FROM generate_series(1, 200) i;
      INSERT INTO je (tag_id, kind, v) SELECT 1 + i % 20, 'x' || (i % 2), i FROM generate_series(1, 300) i;
    ELSIF r < 0.10 THEN     -- insert into a branch of the union
      INSERT INTO ua (k, v) SELECT t, CASE WHEN random() < 0.1 THEN NULL ELSE floor(random() * 1200)::int - 100 END
      FROM generate_series(1, 1 + floor(random() * 4)::int);
    ELSIF r < 0.18 THEN
      INSERT INTO ub (grp, amount) SELECT t, CASE WHEN random() < 0.15 THEN 13 ELSE floor(random() * 1000)::int END
      FROM generate_series(1, 1 + floor(random() * 4)::int);
    ELSIF r < 0.26 THEN     -- move union rows between groups, in and out of ub's WHERE and u_twice's branches
      UPDATE ua SET k = t, v = CASE WHEN random() < 0.2 THEN NULL ELSE floor(random() * 1000)::int END
      WHERE id IN (SELECT id FROM ua ORDER BY random() LIMIT 1 + floor(random() * 3)::int);
      UPDATE ub SET grp = t, amount = CASE WHEN amount = 13 THEN 14 ELSE 13 END
      WHERE id IN (SELECT id FROM ub ORDER BY random() LIMIT 1 + floor(random() * 3)::int);
    ELSIF r < 0.32 THEN     -- delete the rows holding a group's max / min
      DELETE FROM ua WHERE id IN (SELECT DISTINCT ON (k) id FROM ua ORDER BY k, v DESC NULLS LAST LIMIT 3);
      DELETE FROM ub WHERE id IN (SELECT DISTINCT ON (grp) id FROM ub ORDER BY grp, amount NULLS LAST LIMIT 3);
      DELETE FROM je WHERE id IN (SELECT DISTINCT ON (tag_id) id FROM je ORDER BY tag_id, v DESC NULLS LAST LIMIT 3);
    ELSIF r < 0.36 THEN     -- a whole union group vanishes
      DELETE FROM ua WHERE k IS NOT DISTINCT FROM t;
      DELETE FROM ub WHERE grp IS NOT DISTINCT FROM t;
    ELSIF r < 0.48 THEN     -- facts: insert, some for new dimension rows
      INSERT INTO je (tag_id, kind, v)
      SELECT (SELECT id FROM jt ORDER BY random() LIMIT 1), CASE WHEN random() < 0.1 THEN NULL ELSE 'x' || floor(random() * 3)::int END,
             CASE WHEN random() < 0.1 THEN NULL ELSE floor(random() * 1000)::int END
      FROM generate_series(1, 1 + floor(random() * 4)::int);
    ELSIF r < 0.56 THEN     -- facts move between dimension rows, values change
      UPDATE je SET tag_id = (SELECT id FROM jt ORDER BY random() LIMIT 1),
                    v = CASE WHEN random() < 0.2 THEN NULL ELSE floor(random() * 1000)::int END
      WHERE id IN (SELECT id FROM je ORDER BY random() LIMIT 1 + floor(random() * 3)::int);
    ELSIF r < 0.62 THEN     -- facts deleted
      DELETE FROM je WHERE id IN (SELECT id FROM je ORDER BY random() LIMIT 1 + floor(random() * 3)::int);
    ELSIF r < 0.72 THEN     -- a dimension row's tag or region changes: all its facts move group
      UPDATE jt SET tag = CASE WHEN random() < 0.15 THEN NULL ELSE 't' || floor(random() * 8)::int END
      WHERE id IN (SELECT id FROM jt ORDER BY random() LIMIT 1 + floor(random() * 2)::int);
      UPDATE jt SET region_id = 1 + floor(random() * 5)::int WHERE id = (SELECT id FROM jt ORDER BY random() LIMIT 1);
      UPDATE jr SET region = 'r' || floor(random() * 4)::int WHERE id = 1 + floor(random() * 5)::int;
    ELSIF r < 0.78 THEN     -- a new dimension row, then facts for it
      INSERT INTO jt VALUES ((SELECT coalesce(max(id), 0) + 1 FROM jt), 't' || floor(random() * 8)::int, 1 + floor(random() * 5)::int);
      INSERT INTO je (tag_id, kind, v) SELECT (SELECT max(id) FROM jt), 'x1', floor(random() * 1000)::int FROM generate_series(1, 3);
    ELSIF r < 0.84 THEN     -- a dimension row deleted: its facts go by ON DELETE CASCADE
      DELETE FROM jt WHERE id = (SELECT id FROM jt ORDER BY random() LIMIT 1);
    ELSIF r < 0.90 THEN     -- a dimension key changes: ON UPDATE CASCADE rewrites its facts
      UPDATE jt SET id = (SELECT max(id) + 1 FROM jt) WHERE id = (SELECT id FROM jt ORDER BY random() LIMIT 1);
    ELSIF r < 0.95 THEN     -- one statement writes both sides of the join
      WITH nt AS (INSERT INTO jt VALUES ((SELECT coalesce(max(id), 0) + 1 FROM jt), 't' || floor(random() * 8)::int, 1)
                  RETURNING id)
      INSERT INTO je (tag_id, kind, v) SELECT id, 'x0', 500 FROM nt;
    ELSE                    -- a bulk update touching most groups on both sides
      UPDATE ua SET v = v + 1 WHERE id % 3 = seed % 3;
      UPDATE je SET v = v - 1 WHERE id % 3 = seed % 3;
    END IF;
  END LOOP;
END $f$;

CREATE TEMP TABLE results (round int, name text, result text);
DO $$
BEGIN
  FOR r IN 1 .. 10 LOOP
    PERFORM pg_temp.mutate(r, 20);
    PERFORM incview.refresh(name) FROM stage_names;
    INSERT INTO results SELECT r, name, (SELECT row(missing, extra)::text FROM incview.verify(name)) FROM stage_names;
  END LOOP;
END $$;
SELECT is(result, '(0,0)', format('round %s: %s', round, name)) FROM results ORDER BY round, name;

-- ------------------------------------------------------------------ what capture queues
SELECT 'incview.delta_' || id AS jq FROM incview.stage WHERE name = 'j_tag' \gset
SELECT id AS j_id FROM incview.stage WHERE name = 'j_tag' \gset
SELECT 'incview.delta_' || id AS uq FROM incview.stage WHERE name = 'u_all' \gset
SELECT id AS u_id FROM incview.stage WHERE name = 'u_all' \gset
DELETE FROM incview.dirty_scope WHERE stage_id IN (:j_id, :u_id);
INSERT INTO jt VALUES (1000, 'fresh', 1), (1001, 'fresh', 2);
INSERT INTO je (tag_id, kind, v) VALUES (1000, 'x1', 5), (1001, 'x1', 6), (1001, 'x2', 7);
SELECT is((SELECT count(*) FROM incview.dirty_scope WHERE stage_id = :j_id), 0::bigint,
          'a fact insert queues deltas, no rebuild marker');
SELECT is((SELECT sum("__incview_dcount") FROM :jq WHERE tag = 'fresh'), 3::numeric,
          'the facts joined to their tag: +3 for group fresh');
SELECT incview.refresh('j_tag');
UPDATE jt SET tag = 'moved' WHERE id = 1001;
SELECT is((SELECT string_agg(tag || ':' || "__incview_dcount", ',' ORDER BY tag) FROM :jq), 'fresh:-2,moved:2',
          'a dimension update moves its facts: -2 from the old group, +2 to the new');
SELECT incview.refresh('j_tag');
SELECT is((SELECT row(n, s)::text FROM j_tag WHERE tag = 'moved'), '(2,13)', 'the moved group folded');
INSERT INTO ub (grp, amount) VALUES ('only_b', 4), ('only_b', 13);
SELECT is((SELECT row(count(*), sum("__incview_dcount"))::text FROM :uq WHERE k = 'only_b'), '(1,1)',
          'a union branch queues its own map''s partials (its WHERE applied)');
SELECT incview.refresh('u_all');
SELECT is((SELECT row(n, s)::text FROM u_all WHERE k = 'only_b'), '(1,4)', 'and they fold');

-- ------------------------------------------------------------------ the other side read at the wrong moment
-- A cascade: the facts' delete fires inside the tag's delete, before the tag's own capture;
-- each side would read the other one already changed (the group's rows would be lost).
DELETE FROM jt WHERE id = 1000;
SELECT is((SELECT count(*) FROM incview.dirty_scope WHERE stage_id = :j_id AND key IS NULL), 1::bigint,
          'a cascade queues a rebuild marker');
SELECT incview.refresh('j_tag');
SELECT is((SELECT row(missing, extra)::text FROM incview.verify('j_tag')), '(0,0)', 'after the cascade: verify');
-- A data-modifying WITH writing both sides: both captures read both sides' new rows (the
-- new fact would be counted twice).
WITH nt AS (INSERT INTO jt VALUES (2000, 'cte', 1) RETURNING id) INSERT INTO je (tag_id, kind, v) SELECT id, 'x0', 9 FROM nt;
SELECT is((SELECT count(*) FROM incview.dirty_scope WHERE stage_id = :j_id AND key IS NULL), 1::bigint,
          'a WITH writing both sides queues a rebuild marker');
SELECT incview.refresh('j_tag');
SELECT is((SELECT row(n, s)::text FROM j_tag WHERE tag = 'cte'), '(1,9)', 'after the WITH: the fact counted once');
-- Statements one after the other (each side's trigger before the next statement) queue deltas.
INSERT INTO jt VALUES (3000, 'seq', 1);
INSERT INTO je (tag_id, kind, v) VALUES (3000, 'x0', 1);
UPDATE jt SET tag = 'seq2' WHERE id = 3000;
SELECT is((SELECT count(*) FROM incview.dirty_scope WHERE stage_id = :j_id), 0::bigint,
          'statements one after the other queue deltas, no marker');
SELECT incview.refresh('j_tag');
SELECT is((SELECT row(missing, extra)::text FROM incview.verify('j_tag')), '(0,0)', 'and fold exactly');

-- ------------------------------------------------------------------ engine auto on a join
CREATE TABLE big_dim (id int PRIMARY KEY, k int);
CREATE TABLE big_fact (dim_id int, x int);
INSERT INTO big_dim SELECT g, g % 2 FROM generate_series(1, 10) g;
INSERT INTO big_fact SELECT 1 + g % 10, g FROM generate_series(1, 4000) g;
ANALYZE big_dim, big_fact;
SELECT incview.create_stage('a_join', 'SELECT d.k, sum(f.x) AS s FROM big_fact f JOIN big_dim d ON d.id = f.dim_id GROUP BY d.k',
                            ARRAY['k']);
SELECT incview.create_stage('a_outer', 'SELECT d.k, sum(f.x) AS s FROM big_fact f LEFT JOIN big_dim d ON d.id = f.dim_id GROUP BY d.k',
                            ARRAY['k']);
SELECT is((SELECT string_agg(s.name, ',' ORDER BY s.name) FROM incview.delta_stage d JOIN incview.stage s ON s.id = d.stage_id
           WHERE s.name LIKE 'a\_%'), 'a_join', 'auto: delta for a qualifying join of large groups, not for an outer join');
UPDATE big_dim SET k = 5 WHERE id = 3;
SELECT incview.refresh('a_join');
SELECT is((SELECT row(missing, extra)::text FROM incview.verify('a_join')), '(0,0)', 'auto join: verify');

-- ------------------------------------------------------------------ privacy
CREATE ROLE delta_shapes_attacker;
SET LOCAL ROLE delta_shapes_attacker;
SELECT throws_ok('SELECT * FROM incview.delta_capture', '42501', NULL, 'the per-source statements are not public');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
