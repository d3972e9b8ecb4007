-- The fold of the usual case (DeltaPlan::fold_fast, issue 13's one-row target): one UPDATE
-- of the groups that exist and keep a count above zero; the deltas of every other group
-- (new, vanishing, unchanged) go back into the queue in the same statement and the full
-- fold applies them. What could break: a group put back and lost or applied twice, a group
-- the UPDATE should not have written (vanishing, unchanged), NULL keys and NULL sums, a
-- failure after the put-back. After a fold that inserted or deleted a group, the backend's
-- next fold of the stage is the full one (delta_engine.cpp); "reset" below is a fold of
-- existing groups only, so that the case after it runs the fast fold first.
-- Every case ends with the table equal to its query and the queue empty.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pg_incview;
SET LOCAL client_min_messages = warning;
SELECT plan(38);

CREATE TABLE ff_ev (id bigserial PRIMARY KEY, tag text, v int, f float8);
INSERT INTO ff_ev (tag, v, f) SELECT 't' || (i % 4), i, i / 3.0 FROM generate_series(1, 200) i;
INSERT INTO ff_ev (tag, v, f) VALUES (NULL, 5, 1.5), (NULL, NULL, NULL), ('n', NULL, NULL);
SELECT incview.create_stage('ff_tag',
  'SELECT tag, count(*) AS n, count(v) AS nv, sum(v) AS s, avg(v) AS a FROM ff_ev GROUP BY tag',
  ARRAY['tag'], engine => 'delta');
SELECT incview.set_policy('ff_tag', 'manual');
CREATE TEMP TABLE ff_id AS SELECT id FROM incview.stage WHERE name = 'ff_tag';
CREATE FUNCTION pg_temp.ff_ok(stage text) RETURNS text LANGUAGE sql AS $$
  SELECT row(v.missing, v.extra)::text || ' queued ' ||
         incview.delta_dirty_groups((SELECT s.id FROM incview.stage s WHERE s.name = stage))
  FROM incview.verify(stage) v $$;

SELECT ok((SELECT fold_fast IS NOT NULL FROM incview.delta_stage WHERE stage_id = (SELECT id FROM ff_id)),
          'count/sum/avg of integers: the stage has a fast fold');

-- 1. Existing groups only: the fast fold alone, the counts of the UPDATE logged.
INSERT INTO ff_ev (tag, v) VALUES ('t1', 1000), ('t2', 7);
SELECT is(incview.refresh('ff_tag'), 2::bigint, 'two existing groups: two folded');
SELECT is(pg_temp.ff_ok('ff_tag'), '(0,0) queued 0', 'equal to the query, queue empty');
SELECT is((SELECT row(rows_updated, rows_inserted, rows_deleted)::text FROM incview.refresh_log
           WHERE stage = 'ff_tag' ORDER BY id DESC LIMIT 1), '(2,0,0)', 'logged: two rows updated');

-- 2. A new group with an existing one in the same statement: the new one is put back and
-- inserted by the full fold, the existing one updated once.
INSERT INTO ff_ev (tag, v) VALUES ('t1', 1), ('new', 3);
SELECT is(incview.refresh('ff_tag'), 2::bigint, 'a new group and an existing one: two folded');
SELECT is(pg_temp.ff_ok('ff_tag'), '(0,0) queued 0', 'equal to the query, queue empty');
SELECT is((SELECT row(n, s)::text FROM ff_tag WHERE tag = 'new'), '(1,3)', 'the new group is there once');
SELECT is((SELECT row(rows_updated, rows_inserted, rows_deleted)::text FROM incview.refresh_log
           WHERE stage = 'ff_tag' ORDER BY id DESC LIMIT 1), '(1,1,0)', 'logged: one updated, one inserted');

-- 3. The back-off: folds right after a put-back use the full fold; still exact.
INSERT INTO ff_ev (tag, v) VALUES ('t3', 2);
SELECT is(incview.refresh('ff_tag'), 1::bigint, 'after a put-back: one group folded');
SELECT is(pg_temp.ff_ok('ff_tag'), '(0,0) queued 0', 'equal to the query, queue empty');

-- 4. A group that vanishes (count to zero) next to one that stays.
DELETE FROM ff_ev WHERE tag = 'new';
UPDATE ff_ev SET v = v + 1 WHERE id = (SELECT min(id) FROM ff_ev WHERE tag = 't0');
SELECT is(incview.refresh('ff_tag'), 2::bigint, 'a vanishing group and a staying one: two folded');
SELECT is(pg_temp.ff_ok('ff_tag'), '(0,0) queued 0', 'equal to the query, queue empty');
SELECT ok(NOT EXISTS (SELECT 1 FROM ff_tag WHERE tag = 'new'), 'the vanished group is gone');

-- 5. NULL group key, through the fast fold (no other group in the batch).
INSERT INTO ff_ev (tag, v) VALUES ('t2', 1);  -- reset
SELECT incview.refresh('ff_tag');
INSERT INTO ff_ev (tag, v) VALUES (NULL, 10);
SELECT is(incview.refresh('ff_tag'), 1::bigint, 'the NULL group: one folded');
SELECT is(pg_temp.ff_ok('ff_tag'), '(0,0) queued 0', 'equal to the query, queue empty');
SELECT is((SELECT row(n, nv, s)::text FROM ff_tag WHERE tag IS NULL), '(3,2,15)', 'the NULL group updated once');

-- 6. sum and avg back to NULL: the group's last non-NULL value deleted, its rows stay.
INSERT INTO ff_ev (tag, v) VALUES ('nn', 4), ('nn', NULL);
SELECT incview.refresh('ff_tag');
INSERT INTO ff_ev (tag, v) VALUES ('t2', 1);  -- reset
SELECT incview.refresh('ff_tag');
DELETE FROM ff_ev WHERE tag = 'nn' AND v IS NOT NULL;
SELECT is(incview.refresh('ff_tag'), 1::bigint, 'the last non-NULL value deleted: one folded');
SELECT is(pg_temp.ff_ok('ff_tag'), '(0,0) queued 0', 'equal to the query, queue empty');
SELECT is((SELECT row(n, nv, s, a)::text FROM ff_tag WHERE tag = 'nn'), '(1,0,,)', 'count stays, sum and avg NULL');

-- 7. Deltas that cancel out across statements: the group's values do not change, so the
-- row is not written (no new row version), by either fold.
CREATE TEMP TABLE ff_before AS SELECT ctid::text AS tid FROM ff_tag WHERE tag = 't2';
INSERT INTO ff_ev (id, tag, v) VALUES (-1, 't2', 9);
DELETE FROM ff_ev WHERE id = -1;
SELECT is(incview.delta_dirty_groups((SELECT id FROM ff_id)), 1::bigint, 'deltas queued for t2');
SELECT incview.refresh('ff_tag');
SELECT is((SELECT ctid::text FROM ff_tag WHERE tag = 't2'), (SELECT tid FROM ff_before),
          'cancelling deltas: the row is not rewritten');
SELECT is(pg_temp.ff_ok('ff_tag'), '(0,0) queued 0', 'equal to the query, queue empty');

-- 8. Many statements over many groups in one fold, existing, new and vanishing together.
INSERT INTO ff_ev (tag, v) SELECT 'm' || (i % 7), i FROM generate_series(1, 50) i;
UPDATE ff_ev SET v = v * 2 WHERE tag IN ('t0', 't1');
UPDATE ff_ev SET tag = 'moved' WHERE tag = 't3';
DELETE FROM ff_ev WHERE tag = 'm3';
SELECT ok(incview.refresh('ff_tag') > 0, 'a mixed batch is folded');
SELECT is(pg_temp.ff_ok('ff_tag'), '(0,0) queued 0', 'equal to the query, queue empty');
SELECT ok(NOT EXISTS (SELECT 1 FROM ff_tag WHERE tag IN ('t3', 'm3')), 'the groups moved away are gone');

-- 9. Float sums: the fast fold marks the groups it writes (they may drift) like the full fold.
SELECT incview.create_stage('ff_float', 'SELECT tag, count(*) AS n, sum(f) AS sf FROM ff_ev GROUP BY tag',
                            ARRAY['tag'], engine => 'delta');
SELECT ok((SELECT fold_fast LIKE '%"__incview_folded" = true%' FROM incview.delta_stage d
           JOIN incview.stage s ON s.id = d.stage_id WHERE s.name = 'ff_float'), 'float sums: the fast fold marks');
UPDATE ff_float SET "__incview_folded" = false;
INSERT INTO ff_ev (tag, f) VALUES ('t0', 0.25);
SELECT is(incview.refresh('ff_float'), 1::bigint, 'float: one group folded');
SELECT is((SELECT string_agg(tag, ',' ORDER BY tag) FROM ff_float WHERE "__incview_folded"), 't0',
          'only the folded group is marked');
SELECT is(pg_temp.ff_ok('ff_float'), '(0,0) queued 0', 'equal to the query, queue empty');

-- 10. No fast fold where a group may need re-deriving: min/max, HAVING.
SELECT incview.create_stage('ff_min', 'SELECT tag, count(*) AS n, min(v) AS lo FROM ff_ev GROUP BY tag',
                            ARRAY['tag'], engine => 'delta');
SELECT incview.create_stage('ff_having', 'SELECT tag, sum(v) AS s FROM ff_ev GROUP BY tag HAVING count(*) > 2',
                            ARRAY['tag'], engine => 'delta');
SELECT is((SELECT count(*) FROM incview.delta_stage d JOIN incview.stage s ON s.id = d.stage_id
           WHERE s.name IN ('ff_min', 'ff_having') AND d.fold_fast IS NULL), 2::bigint,
          'min and HAVING stages have no fast fold');
DELETE FROM ff_ev WHERE id = (SELECT id FROM ff_ev WHERE tag = 't1' ORDER BY v, id LIMIT 1);
SELECT ok(incview.refresh('ff_min') > 0, 'min: folded by the full fold');
SELECT is(pg_temp.ff_ok('ff_min'), '(0,0) queued 0', 'min: equal to the query, queue empty');
SELECT ok(incview.refresh('ff_having') > 0, 'HAVING: folded by the full fold');
SELECT is(pg_temp.ff_ok('ff_having'), '(0,0) queued 0', 'HAVING: equal to the query, queue empty');

-- 11. A failing fold leaves the deltas queued (the fast fold's put-back included): the stage
-- table is made to refuse the new group's row, the refresh fails, nothing is lost.
INSERT INTO ff_ev (tag, v) VALUES ('t2', 1);  -- reset
SELECT incview.refresh('ff_tag');
ALTER TABLE ff_tag ADD CONSTRAINT ff_no_bad CHECK (tag IS DISTINCT FROM 'bad');
INSERT INTO ff_ev (tag, v) VALUES ('t1', 1), ('bad', 1);
SELECT is(incview.refresh('ff_tag'), 0::bigint, 'the fold fails: nothing folded');
SELECT is(incview.delta_dirty_groups((SELECT id FROM ff_id)), 2::bigint,
          'both deltas still queued, the existing group''s too');
ALTER TABLE ff_tag DROP CONSTRAINT ff_no_bad;
SELECT is(incview.refresh('ff_tag'), 2::bigint, 'then both are folded');
SELECT is(pg_temp.ff_ok('ff_tag'), '(0,0) queued 0', 'equal to the query, queue empty');

SELECT * FROM finish();
ROLLBACK;
