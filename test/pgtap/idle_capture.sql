-- Idle capture triggers (issue 19, item 1): drop_stage and alter_stage never wait for the
-- ACCESS EXCLUSIVE lock DROP TRIGGER needs. Outside a transaction block, on a table nobody
-- holds a lock on, the triggers of a source no stage reads go at once; otherwise they stay
-- idle until the scheduler (or incview.drop_idle_capture()) removes them. Only our own
-- triggers are ever dropped, and only from tables the caller owns.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_incview;
SET incview.default_policy = manual;
SELECT plan(19);
\ir lib/wait_until.sql

CREATE FUNCTION pg_temp.triggers(t regclass) RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FROM pg_trigger WHERE tgrelid = t AND tgname LIKE 'incview\_capture\_%'
$$;
CREATE TABLE t (k int, v int);
INSERT INTO t SELECT g % 10, g FROM generate_series(1, 100) g;

-- Autocommit, table free: the triggers go with the stage.
SELECT incview.create_stage('s', 'SELECT k, sum(v) AS total FROM t GROUP BY k', ARRAY['k']);
SELECT is(pg_temp.triggers('t'), 4::bigint, 'a stage installs four capture triggers on its source');
SELECT incview.drop_stage('s');
SELECT is(pg_temp.triggers('t'), 0::bigint, 'drop_stage in autocommit drops them at once');

-- In a transaction block the lock would last until COMMIT: they stay, idle.
SELECT incview.create_stage('s', 'SELECT k, sum(v) AS total FROM t GROUP BY k', ARRAY['k']);
BEGIN;
SELECT incview.drop_stage('s');
COMMIT;
SELECT is(pg_temp.triggers('t'), 4::bigint, 'drop_stage inside a transaction block leaves them (idle)');
SELECT lives_ok($$INSERT INTO t VALUES (1, 1); UPDATE t SET v = v + 1 WHERE k = 2; DELETE FROM t WHERE v = 1$$,
                'writes through idle triggers work');
SELECT is((SELECT count(*) FROM incview.queued_keys), 0::bigint, 'and queue nothing');

-- A new stage on the table reuses them: no CREATE TRIGGER, capture works.
SELECT incview.create_stage('s2', 'SELECT k, count(*) AS n FROM t GROUP BY k', ARRAY['k']);
SELECT is(pg_temp.triggers('t'), 4::bigint, 'a new stage reuses idle triggers');
INSERT INTO t VALUES (3, 3);
SELECT is((SELECT count(*) FROM incview.queued_keys WHERE stage_id = (SELECT id FROM incview.stage WHERE name = 's2')),
          1::bigint, 'and its writes are captured');
SELECT incview.refresh('s2');
SELECT is((SELECT missing + extra FROM incview.verify('s2')), 0::bigint, 'the stage is fresh');

-- incview.drop_idle_capture() removes them on request.
BEGIN;
SELECT incview.drop_stage('s2');
COMMIT;
SELECT is(incview.drop_idle_capture(), 1, 'drop_idle_capture removes idle triggers (one table)');
SELECT is(pg_temp.triggers('t'), 0::bigint, 'none left');

-- alter_stage moving off a source drops its triggers (autocommit, table free) and keeps the
-- triggers of the source it still reads.
CREATE TABLE u (k int, v int);
INSERT INTO u SELECT g % 10, g FROM generate_series(1, 100) g;
SELECT incview.create_stage('moving', 'SELECT k, sum(v) AS total FROM t GROUP BY k', ARRAY['k']);
SELECT incview.alter_stage('moving', 'SELECT k, sum(v) AS total FROM u GROUP BY k');
SELECT is(pg_temp.triggers('t'), 0::bigint, 'alter_stage drops the triggers of the source it no longer reads');
SELECT is(pg_temp.triggers('u'), 4::bigint, 'and installs them on its new source');

-- Not ours: a user's trigger that borrows our name stays.
CREATE FUNCTION mine() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER incview_capture_ins AFTER INSERT ON t FOR EACH STATEMENT EXECUTE FUNCTION mine();
SELECT is(incview.drop_idle_capture(), 0, 'a trigger with our name but not our function is not idle capture');
SELECT is(pg_temp.triggers('t'), 1::bigint, 'it stays');
DROP TRIGGER incview_capture_ins ON t;

-- An attacker (a role with nothing) cannot drop anyone's triggers.
CREATE ROLE idle_attacker;
SELECT incview.create_stage('victim', 'SELECT k, sum(v) AS total FROM t GROUP BY k', ARRAY['k']);
BEGIN;
SELECT incview.drop_stage('victim');
COMMIT;
SET ROLE idle_attacker;
SELECT is(incview.drop_idle_capture(), 0, 'a role owning nothing drops nothing');
RESET ROLE;
SELECT is(pg_temp.triggers('t'), 4::bigint, 'the owner''s idle triggers are still there');
DROP ROLE idle_attacker;

-- The scheduler removes idle triggers of a free table by itself.
SELECT ok(pg_temp.wait_until($$pg_temp.triggers('t') = 0$$, '40 s'), 'the scheduler drops idle triggers');

-- DROP EXTENSION is not stopped by idle triggers (the last stage dropped in a transaction).
SELECT incview.drop_stage('moving');
BEGIN;
SELECT incview.create_stage('last', 'SELECT k, sum(v) AS total FROM t GROUP BY k', ARRAY['k']);
SELECT incview.drop_stage('last');
COMMIT;
SELECT is(pg_temp.triggers('t'), 4::bigint, 'idle triggers before DROP EXTENSION');
SELECT lives_ok('DROP EXTENSION pg_incview', 'DROP EXTENSION succeeds and takes idle triggers with it');
SELECT * FROM finish();
