-- What a refresh call writes and reads in pg_incview's catalog, after issue 13's cuts of its
-- fixed cost: the refresh_log row written by a direct heap insert (catalog/log_rows.hpp), the
-- stage's state by an UPDATE (the upsert when its row is missing), and the queue summary read
-- by the statement that checks the cached stage's version (dirty_queue.hpp). The log must say
-- what ran exactly as the INSERT statement did; a table changed by hand (a trigger, an index)
-- gets the statement, so what was added still sees every row.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pg_incview;
SET LOCAL client_min_messages = warning;
SELECT plan(32);

CREATE TABLE rc_ev (id bigserial PRIMARY KEY, tag text, v int);
INSERT INTO rc_ev (tag, v) SELECT 't' || (i % 4), i FROM generate_series(1, 200) i;
SELECT incview.create_stage('rc_tag', 'SELECT tag, count(*) AS n, sum(v) AS s FROM rc_ev GROUP BY tag',
                            ARRAY['tag'], engine => 'delta');
SELECT incview.set_policy('rc_tag', 'manual');
SELECT incview.refresh('rc_tag');  -- the record cached in this session
CREATE TEMP TABLE rc_last AS SELECT coalesce(max(id), 0) AS id FROM incview.refresh_log;

-- 1. The log row of a fold, column by column.
INSERT INTO rc_ev (tag, v) VALUES ('t1', 1000), ('t2', 7);
SELECT is(incview.refresh('rc_tag'), 2::bigint, 'two groups folded');
SELECT is((SELECT count(*) FROM incview.refresh_log WHERE id > (SELECT id FROM rc_last)), 1::bigint, 'one log row');
SELECT is((SELECT row(stage, owner::text, engine, scopes, rows_deleted, rows_inserted, rows_updated, error)::text
           FROM incview.refresh_log WHERE id > (SELECT id FROM rc_last)),
          row('rc_tag', current_user::text, 'delta', 2::bigint, 0::bigint, 0::bigint, 2::bigint, NULL::text)::text,
          'stage, owner, engine, scopes, rows and error as the statement wrote them');
SELECT ok((SELECT duration >= interval '0' AND duration < interval '1 minute'
                  AND started_at <= clock_timestamp() AND started_at >= now() - interval '1 minute'
                  AND started_at + duration <= clock_timestamp()
           FROM incview.refresh_log WHERE id > (SELECT id FROM rc_last)),
          'started_at and duration: the run, ending before now');
SELECT is((SELECT id FROM incview.refresh_log WHERE id > (SELECT id FROM rc_last)),
          (SELECT last_value FROM incview.refresh_log_id_seq), 'the id comes from the table''s sequence');
-- Both indexes have the row (a direct heap insert must maintain them).
SET LOCAL enable_seqscan = off;
SET LOCAL enable_bitmapscan = off;
SELECT is((SELECT count(*) FROM incview.refresh_log WHERE stage = 'rc_tag' AND started_at > now() - interval '1 hour'
           AND id > (SELECT id FROM rc_last)), 1::bigint, 'found through refresh_log_stage (stage, started_at)');
SELECT is((SELECT count(*) FROM incview.refresh_log WHERE id = (SELECT last_value FROM incview.refresh_log_id_seq)),
          1::bigint, 'found through the primary key');
RESET enable_seqscan;
RESET enable_bitmapscan;
SELECT is((SELECT row(status, failures, last_error)::text FROM incview.stage_state st
           JOIN incview.stage s ON s.id = st.stage_id WHERE s.name = 'rc_tag'),
          row('idle', 0, NULL::text)::text, 'stage_state: idle, no failure');
SELECT ok((SELECT last_refresh >= now() FROM incview.stage_state st JOIN incview.stage s ON s.id = st.stage_id
           WHERE s.name = 'rc_tag'), 'stage_state: last_refresh is this run');

-- 2. A run rolled back leaves no log row (the row commits with the run) and its deltas queued.
TRUNCATE rc_last; INSERT INTO rc_last SELECT max(id) FROM incview.refresh_log;
INSERT INTO rc_ev (tag, v) VALUES ('t3', 3);
SAVEPOINT before_refresh;
SELECT is(incview.refresh('rc_tag'), 1::bigint, 'one group folded (to be rolled back)');
ROLLBACK TO SAVEPOINT before_refresh;
SELECT is((SELECT count(*) FROM incview.refresh_log WHERE id > (SELECT id FROM rc_last)), 0::bigint,
          'rolled back: no log row');
SELECT is(incview.refresh('rc_tag'), 1::bigint, 'the delta is still queued, folded once');
SELECT is((SELECT row(missing, extra)::text FROM incview.verify('rc_tag')), '(0,0)', 'the table equals its query');

-- 3. A failing fold: its error in the log row and the stage's state (failing, back-off),
-- its deltas queued; the next success clears the state.
ALTER TABLE rc_tag ADD CONSTRAINT rc_small CHECK (n < 60);
TRUNCATE rc_last; INSERT INTO rc_last SELECT max(id) FROM incview.refresh_log;
INSERT INTO rc_ev (tag, v) SELECT 't0', i FROM generate_series(1, 20) i;
SELECT is(incview.refresh('rc_tag'), 0::bigint, 'the fold fails: 0');
SELECT alike((SELECT error FROM incview.refresh_log WHERE id > (SELECT id FROM rc_last)), '%rc_small%',
            'the log row carries the error');
SELECT is((SELECT row(status, failures, last_error IS NOT NULL, next_attempt > now())::text FROM incview.stage_state st
           JOIN incview.stage s ON s.id = st.stage_id WHERE s.name = 'rc_tag'),
          row('failing', 1, true, true)::text, 'stage_state: failing, one failure, an error, a retry time');
SELECT is(incview.refresh('rc_tag'), 0::bigint, 'fails again');
SELECT is((SELECT failures FROM incview.stage_state st JOIN incview.stage s ON s.id = st.stage_id
           WHERE s.name = 'rc_tag'), 2, 'two failures');
ALTER TABLE rc_tag DROP CONSTRAINT rc_small;
SELECT is(incview.refresh('rc_tag'), 1::bigint, 'the deltas were kept: folded now');
SELECT is((SELECT row(status, failures, last_error, next_attempt)::text FROM incview.stage_state st
           JOIN incview.stage s ON s.id = st.stage_id WHERE s.name = 'rc_tag'),
          row('idle', 0, NULL::text, NULL::timestamptz)::text, 'stage_state: idle again, the failure cleared');
SELECT is((SELECT row(missing, extra)::text FROM incview.verify('rc_tag')), '(0,0)', 'the table equals its query');

-- 4. The stage's state row missing: the refresh makes it (the upsert).
DELETE FROM incview.stage_state WHERE stage_id = (SELECT id FROM incview.stage WHERE name = 'rc_tag');
INSERT INTO rc_ev (tag, v) VALUES ('t1', 1);
SELECT is(incview.refresh('rc_tag'), 1::bigint, 'folded without a stage_state row');
SELECT is((SELECT status FROM incview.stage_state st JOIN incview.stage s ON s.id = st.stage_id
           WHERE s.name = 'rc_tag'), 'idle', 'the stage_state row is back');

-- 5. A trigger and an expression index added to refresh_log by hand: the statement writes
-- the row, the trigger fires and the index has it; without them, the direct insert again.
CREATE TABLE rc_seen (log_id bigint, stage text);
CREATE FUNCTION rc_seen_log() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN INSERT INTO public.rc_seen VALUES (NEW.id, NEW.stage); RETURN NEW; END$$;
CREATE TRIGGER rc_seen AFTER INSERT ON incview.refresh_log FOR EACH ROW EXECUTE FUNCTION rc_seen_log();
CREATE INDEX rc_lower_stage ON incview.refresh_log (lower(stage));
INSERT INTO rc_ev (tag, v) VALUES ('t2', 2);
SELECT is(incview.refresh('rc_tag'), 1::bigint, 'folded with a trigger on refresh_log');
SELECT is((SELECT count(*) FROM rc_seen WHERE stage = 'rc_tag'), 1::bigint, 'the trigger saw the log row');
SET LOCAL enable_seqscan = off;
SET LOCAL enable_bitmapscan = off;
SELECT is((SELECT count(*) FROM incview.refresh_log WHERE lower(stage) = 'rc_tag'
           AND id = (SELECT max(log_id) FROM rc_seen)), 1::bigint, 'the index added by hand has it');
RESET enable_seqscan;
RESET enable_bitmapscan;
DROP TRIGGER rc_seen ON incview.refresh_log;
DROP INDEX incview.rc_lower_stage;
INSERT INTO rc_ev (tag, v) VALUES ('t2', 2);
SELECT is(incview.refresh('rc_tag'), 1::bigint, 'folded after they are dropped');
SELECT is((SELECT count(*) FROM rc_seen), 1::bigint, 'no trigger any more');
SELECT is((SELECT stage FROM incview.refresh_log ORDER BY id DESC LIMIT 1), 'rc_tag', 'and the row is logged');

-- 6. The queue summary read with the version check probes the cached record's delta queue,
-- only while that queue exists: a stage switched to replace in this session (its queue
-- dropped, its hidden columns too, which drops the cached record) and back.
SELECT incview.set_engine('rc_tag', 'replace');
INSERT INTO rc_ev (tag, v) VALUES ('t1', 5);
SELECT is(incview.refresh('rc_tag'), 1::bigint, 'replace: the key refreshed');
SELECT incview.set_engine('rc_tag', 'delta');
INSERT INTO rc_ev (tag, v) VALUES ('t5', 5);
SELECT is(incview.refresh('rc_tag'), 1::bigint, 'delta again: the new queue folded');
SELECT is((SELECT row(missing, extra)::text FROM incview.verify('rc_tag')), '(0,0)', 'the table equals its query');

SELECT * FROM finish();
ROLLBACK;
