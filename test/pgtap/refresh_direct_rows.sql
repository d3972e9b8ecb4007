-- A refresh call's catalog work without statements (issue 13's one-row target): the version
-- check and queue probes by index and heap scans (catalog/stage_probe.hpp) and a success's
-- stage_state row by a direct heap update (catalog/state_heap.hpp). What they answer and
-- write must be what the statements did: the state row found through its primary key after
-- updates that could not stay on their page (index entries of non-HOT versions), a trigger
-- added by hand sees the UPDATE (the statement runs then), a superuser's hand UPDATE of a
-- stage row is seen by the next call of a session that cached it, a marker queued on a delta
-- stage is found. (Concurrent updates of the state row: specs/state_row_concurrent.spec.)
BEGIN;
CREATE EXTENSION IF NOT EXISTS pg_incview;
SET LOCAL client_min_messages = warning;
SELECT plan(19);

CREATE TABLE dr_ev (id bigserial PRIMARY KEY, tag text, v int);
INSERT INTO dr_ev (tag, v) SELECT 't' || (i % 4), i FROM generate_series(1, 200) i;
SELECT incview.create_stage('dr_tag', 'SELECT tag, count(*) AS n, sum(v) AS s FROM dr_ev GROUP BY tag',
                            ARRAY['tag'], engine => 'delta');
SELECT incview.set_policy('dr_tag', 'manual');
SELECT incview.refresh('dr_tag');

-- 1. 300 one-row folds in this transaction: the state row's versions fill its page, so
-- later versions go to other pages and need their own index entries.
DO $$
BEGIN
  FOR i IN 1..300 LOOP
    INSERT INTO dr_ev (tag, v) VALUES ('t1', i);
    PERFORM incview.refresh('dr_tag');
  END LOOP;
END $$;
SELECT is((SELECT n FROM dr_tag WHERE tag = 't1'), 350::bigint, '300 folds of one row each');
SELECT ok((SELECT (ctid::text::point)[0] > 0 FROM incview.stage_state
           WHERE stage_id = (SELECT id FROM incview.stage WHERE name = 'dr_tag')),
          'the state row''s current version left its first page (an update that was not HOT)');
SET LOCAL enable_seqscan = off;
SET LOCAL enable_bitmapscan = off;
SELECT is((SELECT count(*) FROM incview.stage_state WHERE stage_id = (SELECT id FROM incview.stage WHERE name = 'dr_tag')),
          1::bigint, 'the state row is found through its primary key');
SELECT is((SELECT row(status, failures, last_error, next_attempt)::text FROM incview.stage_state
           WHERE stage_id = (SELECT id FROM incview.stage WHERE name = 'dr_tag')),
          row('idle', 0, NULL::text, NULL::timestamptz)::text, 'through the index: idle, no failure');
RESET enable_seqscan;
RESET enable_bitmapscan;
SELECT is((SELECT count(*) FROM incview.stage_state WHERE stage_id = (SELECT id FROM incview.stage WHERE name = 'dr_tag')),
          1::bigint, 'one visible state row by a sequential scan');
SELECT ok((SELECT last_refresh >= now() AND last_duration >= interval '0' FROM incview.stage_state
           WHERE stage_id = (SELECT id FROM incview.stage WHERE name = 'dr_tag')), 'last_refresh and last_duration of this run');
SELECT is((SELECT count(*) FROM incview.refresh_log WHERE stage = 'dr_tag' AND engine = 'delta' AND rows_updated = 1),
          300::bigint, '300 folds logged');

-- 2. A trigger added by hand to stage_state sees the refresh's UPDATE; dropped, the direct
-- update writes the row again.
CREATE TABLE dr_seen (status text, last_refresh timestamptz);
CREATE FUNCTION dr_note() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN INSERT INTO public.dr_seen VALUES (NEW.status, NEW.last_refresh); RETURN NEW; END $$;
CREATE TRIGGER dr_note AFTER UPDATE ON incview.stage_state FOR EACH ROW EXECUTE FUNCTION dr_note();
INSERT INTO dr_ev (tag, v) VALUES ('t2', 1);
SELECT is(incview.refresh('dr_tag'), 1::bigint, 'folded with a trigger on stage_state');
SELECT is((SELECT count(*) FROM dr_seen WHERE status = 'idle' AND last_refresh >= now()), 1::bigint,
          'the trigger saw the state row''s update');
DROP TRIGGER dr_note ON incview.stage_state;
INSERT INTO dr_ev (tag, v) VALUES ('t2', 2);
SELECT is(incview.refresh('dr_tag'), 1::bigint, 'folded after the trigger is gone');
SELECT is((SELECT row(missing, extra)::text FROM incview.verify('dr_tag')), '(0,0)', 'the table equals its query');

-- 3. A marker queued on a delta stage (TRUNCATE of its source) is found by the probe: the
-- refresh rebuilds.
TRUNCATE dr_ev;
INSERT INTO dr_ev (tag, v) VALUES ('t9', 9);
SELECT incview.refresh('dr_tag');
SELECT is((SELECT array_agg(tag || ':' || n ORDER BY tag) FROM dr_tag), ARRAY['t9:1'], 'rebuilt after the TRUNCATE');

-- 4. A superuser's hand UPDATE of a stage row cached by this session: the next call reads
-- the new row (its version changed).
CREATE TABLE dr_src (id int PRIMARY KEY, g int);
INSERT INTO dr_src SELECT i, i % 3 FROM generate_series(1, 30) i;
SELECT incview.create_stage('dr_rep', 'SELECT g, count(*) AS n FROM dr_src GROUP BY g', ARRAY['g'], engine => 'replace');
SELECT incview.set_policy('dr_rep', 'manual');
INSERT INTO dr_src VALUES (100, 1);
SELECT is(incview.refresh('dr_rep'), 1::bigint, 'one scope refreshed (record cached)');
UPDATE incview.stage SET query = 'SELECT g, count(*) * 10 AS n FROM dr_src GROUP BY g' WHERE name = 'dr_rep';
INSERT INTO dr_src VALUES (101, 1);
SELECT incview.refresh('dr_rep');
SELECT is((SELECT n FROM dr_rep WHERE g = 1), 120::bigint, 'the refresh ran the query of the updated row');

-- 5. The one-row fold deletes the queue row only with the owner's DELETE privilege on the
-- queue (one check per privilege: SELECT alone must not do): revoked by hand, the refresh
-- takes the fold statement, which is refused as before; the delta stays queued.
CREATE ROLE dr_owner LOGIN;
CREATE SCHEMA dr_own AUTHORIZATION dr_owner;
SET ROLE dr_owner;
CREATE TABLE dr_own.ev (id serial PRIMARY KEY, tag int, v int);
INSERT INTO dr_own.ev (tag, v) SELECT i % 3, i FROM generate_series(1, 30) i;
SELECT incview.create_stage('dr_own_s', 'SELECT tag, count(*) AS n, sum(v) AS s FROM dr_own.ev GROUP BY tag',
                            ARRAY['tag'], target => 'dr_own.s', engine => 'delta');
SELECT incview.set_policy('dr_own_s', 'manual');
RESET ROLE;
DO $$ BEGIN
  EXECUTE format('REVOKE DELETE ON %s FROM dr_owner',
                 (SELECT d.queue FROM incview.delta_stage d JOIN incview.stage s ON s.id = d.stage_id
                  WHERE s.name = 'dr_own_s'));
END $$;
SET ROLE dr_owner;
INSERT INTO dr_own.ev (tag, v) VALUES (1, 100);
SELECT is(incview.refresh('dr_own_s'), 0::bigint, 'without DELETE on its queue the owner''s fold is refused');
RESET ROLE;
SELECT is(incview.delta_dirty_groups((SELECT id FROM incview.stage WHERE name = 'dr_own_s')), 1::bigint,
          'the delta is still queued');
SELECT is((SELECT n FROM dr_own.s WHERE tag = 1), 10::bigint, 'the group is unchanged');
DO $$ BEGIN
  EXECUTE format('GRANT DELETE ON %s TO dr_owner',
                 (SELECT d.queue FROM incview.delta_stage d JOIN incview.stage s ON s.id = d.stage_id
                  WHERE s.name = 'dr_own_s'));
END $$;
SET ROLE dr_owner;
SELECT is(incview.refresh('dr_own_s'), 1::bigint, 'granted again: folded once');
SELECT is((SELECT row(missing, extra)::text FROM incview.verify('dr_own_s')), '(0,0)', 'the table equals its query');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
