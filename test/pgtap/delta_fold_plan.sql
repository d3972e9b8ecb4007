-- The fixed cost of a delta refresh (issue 12 item 4, issue 13's one-row target): a session
-- keeps the plan of a stage's fold statement (spi_exec_kept), and a refresh with nothing
-- queued does not run the fold at all (the delta probe in dirty_summary). What could break with a kept plan is
-- a plan of tables that are gone: the queue is dropped and made again under the same name
-- by set_engine, and a new CREATE EXTENSION gives a new stage the same id, hence the same
-- queue name and the very same fold text. Everything here runs in one session (and one
-- transaction, so the probe must also see this transaction's own deltas).
BEGIN;
CREATE EXTENSION IF NOT EXISTS pg_incview;
SET LOCAL client_min_messages = warning;
SELECT plan(16);

CREATE TABLE fp_ev (id bigserial PRIMARY KEY, tag text, v int);
INSERT INTO fp_ev (tag, v) SELECT 't' || (i % 4), i FROM generate_series(1, 200) i;
SELECT incview.create_stage('fp_tag', 'SELECT tag, count(*) AS n, sum(v) AS s FROM fp_ev GROUP BY tag',
                            ARRAY['tag'], engine => 'delta');
SELECT incview.set_policy('fp_tag', 'manual');
CREATE TEMP TABLE fp_logged AS SELECT count(*) AS n FROM incview.refresh_log WHERE stage = 'fp_tag';

SELECT ok((SELECT fold NOT LIKE '%fp_ev%' FROM incview.delta_stage), 'count/sum: the fold does not read the source');

INSERT INTO fp_ev (tag, v) VALUES ('t1', 1000), ('t9', 7);
SELECT is(incview.refresh('fp_tag'), 2::bigint, 'this transaction''s deltas: two groups folded');
SELECT is((SELECT row(missing, extra)::text FROM incview.verify('fp_tag')), '(0,0)', 'the table equals its query');
SELECT is((SELECT count(*) FROM incview.refresh_log WHERE stage = 'fp_tag') - (SELECT n FROM fp_logged), 1::bigint,
          'the fold is logged');

-- Nothing queued: 0 scopes, no fold, no refresh_log row.
SELECT is(incview.refresh('fp_tag'), 0::bigint, 'nothing queued: 0');
SELECT is((SELECT count(*) FROM incview.refresh_log WHERE stage = 'fp_tag') - (SELECT n FROM fp_logged), 1::bigint,
          'nothing queued: nothing logged');

-- The queue dropped and made again under the same name, in this session with a kept plan.
SELECT incview.set_engine('fp_tag', 'replace');
SELECT incview.set_engine('fp_tag', 'delta');
UPDATE fp_ev SET v = v + 1 WHERE tag = 't2';
DELETE FROM fp_ev WHERE tag = 't9';
SELECT is(incview.refresh('fp_tag'), 2::bigint, 'after set_engine replace/delta: the new queue is folded');
SELECT is((SELECT row(missing, extra)::text FROM incview.verify('fp_tag')), '(0,0)', 'the table equals its query');
SELECT is(incview.delta_dirty_groups((SELECT id FROM incview.stage WHERE name = 'fp_tag')), 0::bigint,
          'the queue is empty');

-- A new extension: the stage gets the same id, so the same queue name and fold text.
CREATE TEMP TABLE fp_before AS SELECT s.id, d.fold FROM incview.stage s JOIN incview.delta_stage d ON d.stage_id = s.id;
SELECT incview.drop_stage('fp_tag');
DROP EXTENSION pg_incview CASCADE;
CREATE EXTENSION pg_incview;
SELECT incview.create_stage('fp_tag', 'SELECT tag, count(*) AS n, sum(v) AS s FROM fp_ev GROUP BY tag',
                            ARRAY['tag'], engine => 'delta');
SELECT incview.set_policy('fp_tag', 'manual');
SELECT is((SELECT fold FROM incview.delta_stage), (SELECT fold FROM fp_before),
          'a new extension: the same fold text as the dropped stage''s');
SELECT is((SELECT id FROM incview.stage WHERE name = 'fp_tag'), (SELECT id FROM fp_before), 'and the same id');
INSERT INTO fp_ev (tag, v) VALUES ('t3', 5), ('t10', 1);
SELECT is(incview.refresh('fp_tag'), 2::bigint, 'the new queue is folded, into the new table');
SELECT is((SELECT row(missing, extra)::text FROM incview.verify('fp_tag')), '(0,0)', 'the table equals its query');
SELECT is((SELECT n FROM fp_tag WHERE tag = 't10'), 1::bigint, 'the new group is there');

-- A fold that re-derives (min): it carries the source query and still folds exactly.
SELECT incview.create_stage('fp_min', 'SELECT tag, count(*) AS n, min(v) AS lo FROM fp_ev GROUP BY tag',
                            ARRAY['tag'], engine => 'delta');
DELETE FROM fp_ev WHERE id = (SELECT id FROM fp_ev WHERE tag = 't1' ORDER BY v, id LIMIT 1);
SELECT ok(incview.refresh('fp_min') > 0, 'a deleted minimum is re-derived');
SELECT is((SELECT row(missing, extra)::text FROM incview.verify('fp_min')), '(0,0)', 'the table equals its query');

SELECT * FROM finish();
ROLLBACK;
