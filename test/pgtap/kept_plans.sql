-- Kept plans of small batches (src/pg/refresh/batch_plans.hpp; issue 12, item 4): a refresh
-- of a few keys runs a generic plan kept by the backend. All refreshes here run in this one
-- session, so every one after the first reuses the plan made before, unless something it
-- was made from changed. After each change the next refresh of a written scope must give
-- exactly what the query gives now: an inlined function replaced, a view redefined, row
-- security enabled on a source, an index dropped, the query changed (alter_stage), a new
-- owner, a new search path, a privilege revoked (refused, never served from the plan). And
-- the owner's SQL still runs restricted, with its settings rolled back.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_incview;
SELECT plan(26);
SET incview.default_policy = 'manual';

DROP ROLE IF EXISTS kp_owner;
DROP ROLE IF EXISTS kp_owner2;
CREATE ROLE kp_owner;
CREATE ROLE kp_owner2;
GRANT CREATE ON SCHEMA public TO kp_owner, kp_owner2;

CREATE TABLE kp_src (k int, v int);
CREATE INDEX kp_src_k ON kp_src (k);
INSERT INTO kp_src SELECT g % 200, g FROM generate_series(1, 2000) g;
-- An inlinable SQL function: its body becomes part of the plan.
CREATE FUNCTION kp_f(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT $1 * 2';
CREATE TABLE kp_vsrc (k int, v int);
INSERT INTO kp_vsrc SELECT g % 200, g FROM generate_series(1, 2000) g;
CREATE VIEW kp_view AS SELECT k, v FROM kp_vsrc WHERE v > 0;
-- Another kp_src in another schema, for the search path change.
CREATE SCHEMA kp_other;
CREATE TABLE kp_other.kp_src (k int, v int);
INSERT INTO kp_other.kp_src SELECT g % 200, 1 FROM generate_series(1, 2000) g;
GRANT USAGE ON SCHEMA kp_other TO kp_owner, kp_owner2;
GRANT SELECT, TRIGGER ON kp_src, kp_vsrc, kp_view, kp_other.kp_src TO kp_owner, kp_owner2;
GRANT EXECUTE ON FUNCTION kp_f(int) TO kp_owner, kp_owner2;

SET ROLE kp_owner;
SELECT incview.create_stage('kp', 'SELECT k, sum(kp_f(v))::bigint AS total, current_user::text AS who FROM kp_src GROUP BY k',
                            ARRAY['k'], unique_key => ARRAY['k'], engine => 'replace');
SELECT incview.create_stage('kp_v', 'SELECT k, count(*)::bigint AS n FROM kp_view GROUP BY k',
                            ARRAY['k'], unique_key => ARRAY['k'], engine => 'diff');
RESET ROLE;
GRANT SELECT, INSERT, UPDATE, DELETE ON kp TO kp_owner2;

-- The (k, total) of scope k as the stage's query gives it now, and as stored ("who", the
-- role the query ran as, is checked on its own).
CREATE FUNCTION pg_temp.expected(k int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE q text := (SELECT query FROM incview.stage WHERE name = 'kp'); r text;
BEGIN
  EXECUTE format('SELECT s.k || '','' || s.total FROM (%s) s WHERE s.k = $1', q) INTO r USING k;
  RETURN r;
END $$;
CREATE FUNCTION pg_temp.stored(k int) RETURNS text LANGUAGE sql AS $$ SELECT t.k || ',' || t.total FROM kp t WHERE t.k = $1 $$;
-- One write to scope k, then a refresh of the stage (one key: a kept plan).
CREATE FUNCTION pg_temp.touch(stage text, k int) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
  IF stage = 'kp_v' THEN INSERT INTO kp_vsrc VALUES (k, 1); ELSE INSERT INTO kp_src VALUES (k, 1); END IF;
  RETURN incview.refresh(stage);
END $$;

-- The plans are made, then used again.
SELECT is(pg_temp.touch('kp', 1), 1::bigint, 'one scope refreshed');
SELECT is(pg_temp.touch('kp', 1), 1::bigint, 'and again');
SELECT is(pg_temp.stored(1), pg_temp.expected(1), 'the scope equals its query');

-- An inlined function replaced: the plan that inlined the old body is not used again.
CREATE OR REPLACE FUNCTION kp_f(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT $1 * 3';
SELECT pg_temp.touch('kp', 2);
SELECT is(pg_temp.stored(2), pg_temp.expected(2), 'after CREATE OR REPLACE FUNCTION: the new body');
SELECT ok(pg_temp.stored(2) = '2,' || (SELECT sum(v * 3) FROM kp_src WHERE k = 2), '(it multiplies by 3)');

-- Row security enabled on a source (ALTER TABLE): the owner now sees only its rows.
ALTER TABLE kp_src ENABLE ROW LEVEL SECURITY;
CREATE POLICY kp_small ON kp_src FOR SELECT USING (v < 1000);
SELECT pg_temp.touch('kp', 3);
SELECT is(pg_temp.stored(3), '3,' || (SELECT sum(v * 3) FROM kp_src WHERE k = 3 AND v < 1000),
          'after ALTER TABLE ... ENABLE ROW LEVEL SECURITY: only the rows the owner may see');
ALTER TABLE kp_src DISABLE ROW LEVEL SECURITY;
SELECT pg_temp.touch('kp', 3);
SELECT is(pg_temp.stored(3), pg_temp.expected(3), 'and every row again once disabled');

-- An index the plan used dropped.
DROP INDEX kp_src_k;
SELECT pg_temp.touch('kp', 4);
SELECT is(pg_temp.stored(4), pg_temp.expected(4), 'after DROP INDEX: still refreshed right');

-- A new query.
SELECT incview.alter_stage('kp', 'SELECT k, (sum(v) * 10)::bigint AS total, current_user::text AS who FROM kp_src GROUP BY k');
SELECT pg_temp.touch('kp', 5);
SELECT pg_temp.touch('kp', 5);
SELECT is(pg_temp.stored(5), pg_temp.expected(5), 'after alter_stage: the new query');
SELECT ok(pg_temp.stored(5) = '5,' || (SELECT sum(v) * 10 FROM kp_src WHERE k = 5), '(sum times 10)');

-- A new owner: the statement runs as the new owner.
UPDATE incview.stage SET owner = 'kp_owner2'::regrole WHERE name = 'kp';
SELECT pg_temp.touch('kp', 6);
SELECT is((SELECT who FROM kp WHERE k = 6), 'kp_owner2', 'after an owner change: written as the new owner');
SELECT is((SELECT who FROM kp WHERE k = 7), 'kp_owner', '(an untouched scope still says the old one)');

-- A new search path: the unqualified kp_src is now kp_other.kp_src.
UPDATE incview.stage SET search_path = 'kp_other, public, pg_temp' WHERE name = 'kp';
SELECT pg_temp.touch('kp', 8);
SELECT is((SELECT total FROM kp WHERE k = 8), (SELECT sum(v) * 10 FROM kp_other.kp_src WHERE k = 8),
          'after a search path change: the table the new path finds');
UPDATE incview.stage SET search_path = 'public, pg_temp' WHERE name = 'kp';
SELECT pg_temp.touch('kp', 8);
SELECT is(pg_temp.stored(8), pg_temp.expected(8), 'and back');

-- A privilege revoked: refused at the next refresh, the scope stays queued.
REVOKE SELECT ON kp_src FROM kp_owner2;
SELECT is(pg_temp.touch('kp', 9), 0::bigint, 'after REVOKE: nothing refreshed');
SELECT is((SELECT dirty_scopes::int FROM incview.stages WHERE name = 'kp'), 1, 'the scope stays queued');
SELECT ok((SELECT last_error FROM incview.stages WHERE name = 'kp') LIKE '%permission denied%', 'the error says why');
GRANT SELECT ON kp_src TO kp_owner2;
SELECT is(incview.refresh('kp'), 1::bigint, 'granted again: refreshed');
SELECT is(pg_temp.stored(9), pg_temp.expected(9), 'right');

-- Still restricted, settings still rolled back: a query that tries to change a setting.
CREATE FUNCTION kp_set(int) RETURNS int LANGUAGE plpgsql VOLATILE AS
  $$BEGIN PERFORM set_config('work_mem', '7MB', false); RETURN $1; END$$;
GRANT EXECUTE ON FUNCTION kp_set(int) TO kp_owner2;
SELECT incview.alter_stage('kp', 'SELECT k, sum(kp_set(v))::bigint AS total, current_user::text AS who FROM kp_src GROUP BY k');
SET work_mem = '4MB';
SELECT pg_temp.touch('kp', 10);
SELECT pg_temp.touch('kp', 10);
SELECT is(current_setting('work_mem'), '4MB', 'a setting the owner''s query changed is rolled back');

-- A view redefined (the diff engine's statement).
SELECT is(pg_temp.touch('kp_v', 11), 1::bigint, 'view stage: refreshed');
CREATE OR REPLACE VIEW kp_view AS SELECT k, v FROM kp_vsrc WHERE v > 1000;
SELECT pg_temp.touch('kp_v', 12);
SELECT is((SELECT n FROM kp_v WHERE k = 12), (SELECT count(*) FROM kp_vsrc WHERE k = 12 AND v > 1000),
          'after CREATE OR REPLACE VIEW: the new definition');

-- Three keys in one batch (the kept plan of `= ANY($1)`), after the view changed again.
CREATE OR REPLACE VIEW kp_view AS SELECT k, v FROM kp_vsrc WHERE v > 500;
INSERT INTO kp_vsrc VALUES (13, 1), (14, 1), (15, 1);
SELECT is(incview.refresh('kp_v'), 3::bigint, 'three scopes in one batch');
SELECT is((SELECT array_agg(n ORDER BY k) FROM kp_v WHERE k IN (13, 14, 15)),
          (SELECT array_agg(c ORDER BY k) FROM (SELECT k, count(*) FILTER (WHERE v > 500) AS c FROM kp_vsrc
                                                WHERE k IN (13, 14, 15) GROUP BY k) x),
          'their rows follow the view''s new definition');

-- A large batch (planned with its keys) and small ones after it.
INSERT INTO kp_vsrc SELECT g, 1 FROM generate_series(0, 199) g;
SELECT is(incview.refresh('kp_v'), 200::bigint, 'a batch of 200 keys');
SELECT results_eq('SELECT missing, extra FROM incview.verify(''kp_v'')', 'VALUES (0::bigint, 0::bigint)', 'equal to its query');

SELECT * FROM finish();
-- Roles outlive this test's database.
SELECT incview.drop_stage('kp');
SELECT incview.drop_stage('kp_v');
DROP SCHEMA kp_other CASCADE;
DROP FUNCTION kp_f(int), kp_set(int);
DROP VIEW kp_view;
REVOKE ALL ON kp_src, kp_vsrc FROM kp_owner, kp_owner2;
REVOKE CREATE ON SCHEMA public FROM kp_owner, kp_owner2;
DROP ROLE kp_owner;
DROP ROLE kp_owner2;
