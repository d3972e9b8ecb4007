-- A delta stage with deltas queued is never shown as clean (issue 13 + the never-silently-
-- stale rule): its deltas sit in its own queue table, not in incview.dirty_scope, so
-- incview.stages counts them through incview.delta_dirty_groups. Before this, such a stage
-- showed dirty_scopes 0 and lag 0 over stale rows. Also: who may call the function.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pg_incview;
SET LOCAL client_min_messages = warning;
SELECT plan(14);

CREATE TABLE ds_ev (id bigserial PRIMARY KEY, tag text, v int);
INSERT INTO ds_ev (tag, v) SELECT 't' || (i % 5), i FROM generate_series(1, 100) i;
SELECT incview.create_stage('ds_tag', 'SELECT tag, count(*) AS n, sum(v) AS s FROM ds_ev GROUP BY tag',
                            ARRAY['tag'], engine => 'delta');
SELECT incview.create_stage('ds_plain', 'SELECT tag, count(*) AS n FROM ds_ev GROUP BY tag',
                            ARRAY['tag'], engine => 'replace');

SELECT is((SELECT dirty_scopes FROM incview.stages WHERE name = 'ds_tag'), 0::bigint, 'clean delta stage: 0 dirty');
SELECT is((SELECT lag FROM incview.stages WHERE name = 'ds_tag'), interval '0', 'clean delta stage: lag 0');

-- Three statements touching two groups (t1 twice, and a new group t9).
INSERT INTO ds_ev (tag, v) VALUES ('t1', 1);
UPDATE ds_ev SET v = v + 1 WHERE id = 1;          -- id 1 is in t1
INSERT INTO ds_ev (tag, v) VALUES ('t9', 5);
SELECT is((SELECT count(*) FROM incview.verify('ds_tag') WHERE missing + extra > 0), 1::bigint,
          'the table is stale now');
SELECT is((SELECT dirty_scopes FROM incview.stages WHERE name = 'ds_tag'), 2::bigint,
          'two groups queued: dirty_scopes 2 (distinct groups, not statements)');
SELECT ok((SELECT lag IS NULL FROM incview.stages WHERE name = 'ds_tag'),
          'lag unknown (NULL) while deltas wait, never 0');
SELECT ok((SELECT next_run IS NOT NULL FROM incview.stages WHERE name = 'ds_tag'), 'next_run shown');
SELECT is((SELECT dirty_scopes FROM incview.stages WHERE name = 'ds_plain'), 2::bigint,
          'the keyed stage on the same table agrees');

SELECT ok(incview.refresh('ds_tag') > 0, 'refresh folds the deltas');
SELECT is((SELECT dirty_scopes FROM incview.stages WHERE name = 'ds_tag'), 0::bigint, 'clean again');
SELECT is((SELECT lag FROM incview.stages WHERE name = 'ds_tag'), interval '0', 'lag 0 again');
SELECT is(incview.delta_dirty_groups((SELECT id FROM incview.stage WHERE name = 'ds_plain')), 0::bigint,
          'a stage without a delta queue: 0');

-- An attacker with nothing: sees the view like everybody, and the function answers only a
-- count for a stage id (no table name to point it at someone else's table).
CREATE ROLE ds_nobody NOLOGIN;
INSERT INTO ds_ev (tag, v) VALUES ('t2', 1);
SET LOCAL ROLE ds_nobody;
SELECT is((SELECT dirty_scopes FROM incview.stages WHERE name = 'ds_tag'), 1::bigint,
          'a role with nothing reads the count through incview.stages');
SELECT throws_ok($$SELECT incview.delta_dirty_groups('pg_authid'::regclass)$$, '42883', NULL,
                 'the function takes a stage id, not a table');
SELECT is(incview.delta_dirty_groups(-1), 0::bigint, 'an id that is no delta stage: 0');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
