-- Two sessions: this one (A) and a second one opened with dblink (B).
--  1. B's uncommitted write is invisible to A's refresh: its key stays queued, A does not
--     block, and once B commits the next refresh picks the change up.
--  2. The same when A's own committed write dirtied the same key: A consumes only its own
--     queue row, B's stays.
--  2b. The same for a full rebuild.
--  3. While A holds a refresh open (stage lock, rows being rewritten), B can still write
--     to the sources and commit, and can read the stage table (seeing the old rows); a
--     second refresh of the same stage waits for A (one refresher per stage).
-- Not wrapped in a transaction: B must see the committed stage. The database is thrown
-- away after the file. Stages are set to the manual policy when set_policy exists.
CREATE EXTENSION IF NOT EXISTS pg_incview;
-- Stages refresh only when this test says so: no race with the background scheduler.
SET incview.default_policy = manual;
CREATE EXTENSION IF NOT EXISTS dblink;
SET client_min_messages = warning;
-- a test that would block fails instead of hanging
SET lock_timeout = '5s';
SET statement_timeout = '60s';
SELECT plan(37);

CREATE FUNCTION pg_temp.queued(stage text) RETURNS text[] LANGUAGE sql AS $$
  SELECT coalesce(array_agg(DISTINCT coalesce(d.key::text, 'ALL') ORDER BY coalesce(d.key::text, 'ALL')), '{}')
  FROM incview.queued_keys d JOIN incview.stage s ON s.id = d.stage_id WHERE s.name = stage
$$;
CREATE FUNCTION pg_temp.verified(stage text) RETURNS text LANGUAGE sql AS $$
  SELECT row(missing, extra)::text FROM incview.verify(stage)
$$;
-- run a statement in session B
CREATE FUNCTION pg_temp.b(sql text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM dblink_exec('b', sql);
END
$$;
-- a scalar query in session B, as text
CREATE FUNCTION pg_temp.b_value(sql text) RETURNS text LANGUAGE sql AS $$
  SELECT v FROM dblink('b', sql) AS t(v text)
$$;

CREATE TABLE medications (id bigserial PRIMARY KEY, patient_id bigint NOT NULL, given_at timestamptz NOT NULL);
INSERT INTO medications (patient_id, given_at)
SELECT 1 + i % 10, timestamptz '2024-01-01 00:00+00' + i * interval '1 hour' FROM generate_series(1, 100) i;

BEGIN;
SELECT incview.create_stage('med_count', $$
  SELECT patient_id, count(*) AS n, max(given_at) AS last_at FROM medications GROUP BY patient_id
$$, ARRAY['patient_id'], ARRAY['patient_id']);
DO $$ BEGIN
  IF to_regprocedure('incview.set_policy(text,text,interval,time without time zone,interval)') IS NOT NULL THEN
    PERFORM incview.set_policy('med_count', 'manual');
  END IF;
END $$;
COMMIT;

SELECT lives_ok(format($$SELECT dblink_connect('b', %L)$$,
                       'dbname=' || current_database() || ' host=/tmp port=' || current_setting('port') || ' user=postgres'),
                'session B connects');
SELECT pg_temp.b($$SET lock_timeout = '2s'$$);
SELECT is(pg_temp.b_value('SELECT pg_backend_pid()::text') <> pg_backend_pid()::text, true, 'B is another backend');

-- ------------------------------------------------------------------ 1. B's write in flight
SELECT pg_temp.b('BEGIN');
SELECT pg_temp.b($$INSERT INTO medications (patient_id, given_at) VALUES (5, '2025-01-01 00:00+00')$$);
SELECT is(pg_temp.b_value($$SELECT count(*)::text FROM incview.queued_keys$$), '1',
          'B sees its own queued key');
UPDATE medications SET given_at = given_at + interval '1 day' WHERE id = 7;   -- patient 8, committed
SELECT is(pg_temp.queued('med_count'), ARRAY['[8]'], 'A sees only its own committed key, not B''s');
SELECT is(incview.refresh('med_count'), 1::bigint, 'A refreshes without waiting for B (one scope)');
SELECT is(pg_temp.verified('med_count'), '(0,0)', 'for A the stage equals its query (B''s row is invisible)');
SELECT is((SELECT n FROM med_count WHERE patient_id = 5), 10::bigint, 'patient 5 still has 10 rows');
SELECT pg_temp.b('COMMIT');
SELECT is(pg_temp.queued('med_count'), ARRAY['[5]'], 'after B commits its key is queued for A');
SELECT is(pg_temp.verified('med_count'), '(1,1)', 'and the stage is stale');
SELECT is(incview.refresh('med_count'), 1::bigint, 'the next refresh takes B''s key');
SELECT is(pg_temp.verified('med_count'), '(0,0)', 'the stage equals its query');
SELECT is((SELECT n FROM med_count WHERE patient_id = 5), 11::bigint, 'B''s change is visible: patient 5 has 11 rows');
SELECT is(pg_temp.queued('med_count'), '{}'::text[], 'the queue is empty');

-- ------------------------------------------------------------------ 2. the same key from both
SELECT pg_temp.b('BEGIN');
SELECT pg_temp.b($$INSERT INTO medications (patient_id, given_at) VALUES (6, '2025-02-01 00:00+00')$$);
INSERT INTO medications (patient_id, given_at) VALUES (6, '2025-02-02 00:00+00');   -- A, committed
SELECT is(incview.refresh('med_count'), 1::bigint, 'A refreshes scope 6 while B has a write to it in flight');
SELECT is((SELECT n FROM med_count WHERE patient_id = 6), 11::bigint, 'A''s row is counted, B''s not yet');
SELECT is(pg_temp.b_value($$SELECT count(*)::text FROM incview.queued_keys$$), '1',
          'B''s queue row survived A''s refresh');
SELECT pg_temp.b('COMMIT');
SELECT is(pg_temp.queued('med_count'), ARRAY['[6]'], 'scope 6 is dirty again after B commits');
SELECT is(incview.refresh('med_count'), 1::bigint, 'refresh');
SELECT is((SELECT n FROM med_count WHERE patient_id = 6), 12::bigint, 'both rows are counted');
SELECT is(pg_temp.verified('med_count'), '(0,0)', 'the stage equals its query');

-- ------------------------------------------------------------------ 2b. a full rebuild while B is in flight
SELECT pg_temp.b('BEGIN');
SELECT pg_temp.b($$INSERT INTO medications (patient_id, given_at) VALUES (9, '2025-02-03 00:00+00')$$);
SELECT lives_ok($$SELECT incview.rebuild('med_count')$$, 'A rebuilds the whole stage while B has a write in flight');
SELECT pg_temp.b('COMMIT');
SELECT is(pg_temp.queued('med_count'), ARRAY['[9]'], 'the rebuild did not consume B''s queue row');
SELECT is(incview.refresh('med_count'), 1::bigint, 'refresh takes B''s key');
SELECT is(pg_temp.verified('med_count'), '(0,0)', 'the stage equals its query');

-- ------------------------------------------------------------------ 3. A holds a refresh open
UPDATE medications SET given_at = given_at + interval '1 day' WHERE patient_id IN (2, 3);
BEGIN;
SELECT is(incview.refresh('med_count'), 2::bigint, 'A refreshes scopes 2 and 3 and keeps its transaction open');
SELECT lives_ok($$SELECT pg_temp.b($b$INSERT INTO medications (patient_id, given_at) VALUES (2, '2025-03-01 00:00+00')$b$)$$,
                'B writes to a scope A is refreshing and commits (lock_timeout 2s)');
SELECT lives_ok($$SELECT pg_temp.b($b$DELETE FROM medications WHERE patient_id = 3 AND id = (SELECT min(id) FROM medications WHERE patient_id = 3)$b$)$$,
                'B deletes from another scope A is refreshing and commits');
SELECT is(pg_temp.b_value($$SELECT n::text FROM med_count WHERE patient_id = 2$$), '10',
          'B reads the stage table without waiting and sees the rows before A''s refresh commits');
SELECT throws_ok($$SELECT pg_temp.b_value($b$SELECT incview.refresh('med_count')::text$b$)$$, '55P03', NULL,
                 'a second refresh of the stage waits for A (here: B''s lock_timeout expires)');
COMMIT;
SELECT is(pg_temp.queued('med_count'), ARRAY['[2]', '[3]'], 'B''s committed writes are queued');
SELECT is(pg_temp.verified('med_count'), '(2,2)', 'the stage is stale by B''s writes (one row changed in each scope)');
SELECT is(incview.refresh('med_count'), 2::bigint, 'refresh takes B''s keys');
SELECT is(pg_temp.verified('med_count'), '(0,0)', 'the stage equals its query');
SELECT is((SELECT n FROM med_count WHERE patient_id = 2) + (SELECT n FROM med_count WHERE patient_id = 3), 20::bigint,
          'scope 2 gained a row and scope 3 lost one');
SELECT is(pg_temp.b_value($$SELECT pg_temp_ok FROM (SELECT (missing = 0 AND extra = 0)::text AS pg_temp_ok FROM incview.verify('med_count')) v$$), 'true',
          'B sees the refreshed stage too');

SELECT lives_ok($$SELECT dblink_disconnect('b')$$, 'session B disconnects');
SELECT is((SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction'),
          0::bigint, 'no session was left in a transaction');

SELECT * FROM finish();
