-- DDL on the sources (issue 19, item 4): a partition manager's pattern on a range-
-- partitioned source — monthly partitions created ahead, old ones dropped, a filled table
-- attached, one detached, a partition truncated, writes through the parent and straight
-- into partitions — never leaves a stage stale or broken. One stage is refreshed by hand
-- after each step, one continuous stage is kept fresh by the background scheduler.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_incview;
SET incview.default_policy = manual;
SELECT plan(26);
\ir lib/wait_until.sql

CREATE TABLE events (at timestamptz NOT NULL, patient_id int NOT NULL, v int NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE events_2026_01 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
CREATE TABLE events_2026_02 PARTITION OF events FOR VALUES FROM ('2026-02-01') TO ('2026-03-01');
INSERT INTO events SELECT timestamptz '2026-01-01' + g * interval '1 hour', g % 30, g FROM generate_series(1, 1000) g;
SELECT incview.create_stage('per_patient', 'SELECT patient_id, count(*) AS n, sum(v) AS total FROM events GROUP BY patient_id',
                            ARRAY['patient_id']);
SELECT incview.create_stage('per_patient_bg', 'SELECT patient_id, count(*) AS n, sum(v) AS total FROM events GROUP BY patient_id',
                            ARRAY['patient_id']);
SELECT incview.set_policy('per_patient_bg', 'continuous');

CREATE FUNCTION pg_temp.fresh(stage text) RETURNS boolean LANGUAGE sql AS $$
  SELECT v.missing = 0 AND v.extra = 0 FROM incview.verify(stage) v
$$;
CREATE FUNCTION pg_temp.refreshed_fresh() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  PERFORM incview.refresh('per_patient');
  RETURN pg_temp.fresh('per_patient');
END $$;

-- A partition created ahead (as pg_partman does), then written straight into.
CREATE TABLE events_2026_03 PARTITION OF events FOR VALUES FROM ('2026-03-01') TO ('2026-04-01');
SELECT ok((SELECT count(*) FROM pg_trigger WHERE tgrelid = 'events_2026_03'::regclass AND tgname LIKE 'incview_capture_%') = 4,
          'a new partition gets capture triggers the moment it exists');
SELECT ok(EXISTS (SELECT 1 FROM incview.stage_source ss JOIN incview.stage s ON s.id = ss.stage_id
                  WHERE s.name = 'per_patient' AND ss.source = 'events_2026_03'::regclass),
          'and becomes a source of the stages reading its parent');
INSERT INTO events_2026_03 VALUES ('2026-03-05', 7, 1000);
SELECT ok(EXISTS (SELECT 1 FROM incview.queued_keys q JOIN incview.stage s ON s.id = q.stage_id
                  WHERE s.name = 'per_patient' AND q.key = '[7]'), 'a write straight into the new partition is captured');
SELECT ok(pg_temp.refreshed_fresh(), 'and refreshed');
INSERT INTO events VALUES ('2026-03-06', 8, 500);
SELECT ok(pg_temp.refreshed_fresh(), 'a write through the parent into the new partition too');
SELECT ok(pg_temp.wait_until($$pg_temp.fresh('per_patient_bg')$$, '20 s'), 'the continuous stage stays fresh');

CREATE FUNCTION pg_temp.queued(stage text) RETURNS SETOF jsonb LANGUAGE sql AS $$
  SELECT q.key FROM incview.queued_keys q JOIN incview.stage s ON s.id = q.stage_id WHERE s.name = stage
$$;

-- Retention by dropping the oldest partition: no DML; its stages get the scopes of its rows.
CREATE TEMP TABLE jan_keys AS SELECT DISTINCT jsonb_build_array(patient_id) AS key FROM events_2026_01;
DROP TABLE events_2026_01;
SELECT set_eq($$SELECT * FROM pg_temp.queued('per_patient')$$, $$SELECT key FROM jan_keys$$,
              'DROP of a source partition queues exactly the scopes of its rows (no "every scope" marker)');
SELECT ok(NOT EXISTS (SELECT 1 FROM incview.stage_source ss WHERE NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = ss.source)),
          'the dropped partition leaves incview.stage_source');
SELECT ok(pg_temp.refreshed_fresh(), 'the refresh removes the dropped rows');
SELECT lives_ok($$SELECT incview.rebuild('per_patient')$$, 'and rebuild no longer fails on a dangling OID');
SELECT ok(pg_temp.wait_until($$pg_temp.fresh('per_patient_bg')$$, '20 s'), 'the continuous stage too');

-- A filled table attached, then written into directly.
CREATE TABLE events_2026_04 (at timestamptz NOT NULL, patient_id int NOT NULL, v int NOT NULL);
INSERT INTO events_2026_04 SELECT timestamptz '2026-04-01' + g * interval '1 hour', g % 40, 3 FROM generate_series(1, 200) g;
ALTER TABLE events ATTACH PARTITION events_2026_04 FOR VALUES FROM ('2026-04-01') TO ('2026-05-01');
SELECT set_eq($$SELECT * FROM pg_temp.queued('per_patient')$$, $$SELECT jsonb_build_array(g) FROM generate_series(0, 39) g$$,
              'ATTACH queues exactly the scopes of the attached rows');
SELECT ok(pg_temp.refreshed_fresh(), 'ATTACH of a filled table: its rows reach the stage');
INSERT INTO events_2026_04 VALUES ('2026-04-20', 39, 7);
SELECT ok(pg_temp.refreshed_fresh(), 'and the attached partition is captured from then on');

-- DETACH: its rows leave the source.
ALTER TABLE events DETACH PARTITION events_2026_02;
SELECT set_eq($$SELECT * FROM pg_temp.queued('per_patient')$$,
              $$SELECT DISTINCT jsonb_build_array(patient_id) FROM events_2026_02$$,
              'DETACH queues exactly the scopes of the detached rows');
SELECT ok(pg_temp.refreshed_fresh(), 'DETACH: the detached rows leave the stage');
INSERT INTO events_2026_02 VALUES ('2026-02-10', 1, 1);  -- no longer a source: must not matter
SELECT ok(pg_temp.refreshed_fresh(), 'writes into the detached table do not disturb the stage');

-- A small partition of a few scopes dropped: only those scopes are queued; a mapping
-- declared on the parent (lookup) is applied to the dropped rows too.
CREATE TABLE events_2026_06 PARTITION OF events FOR VALUES FROM ('2026-06-01') TO ('2026-07-01');
INSERT INTO events VALUES ('2026-06-02', 100, 5), ('2026-06-03', 101, 6), ('2026-06-04', 100, 7);
SELECT ok(pg_temp.refreshed_fresh(), 'a small partition filled');
DROP TABLE events_2026_06;
SELECT set_eq($$SELECT * FROM pg_temp.queued('per_patient')$$, $$VALUES ('[100]'::jsonb), ('[101]')$$,
              'DROP of a small partition queues only its two scopes');
SELECT ok(pg_temp.refreshed_fresh(), 'and the refresh of those two removes its rows');
SELECT incview.create_stage('by_bucket', 'SELECT patient_id / 10 AS bucket, count(*) AS n FROM events GROUP BY 1',
                            ARRAY['bucket']);
SELECT incview.map_source('by_bucket', 'events', 'SELECT changed.patient_id / 10');
CREATE TABLE events_2026_07 PARTITION OF events FOR VALUES FROM ('2026-07-01') TO ('2026-08-01');
INSERT INTO events VALUES ('2026-07-02', 55, 1), ('2026-07-03', 57, 1);
SELECT incview.refresh('by_bucket');
DROP TABLE events_2026_07;
SELECT set_eq($$SELECT * FROM pg_temp.queued('by_bucket')$$, $$VALUES ('[5]'::jsonb)$$,
              'a lookup mapping maps the dropped rows to their scopes');
SELECT is((SELECT incview.refresh('by_bucket') >= 0 AND (SELECT missing + extra FROM incview.verify('by_bucket')) = 0), true,
          'and the stage is fresh after its refresh');
SELECT incview.drop_stage('by_bucket');

-- TRUNCATE of one partition.
TRUNCATE events_2026_03;
SELECT ok(pg_temp.refreshed_fresh(), 'TRUNCATE of a partition');
SELECT ok(pg_temp.wait_until($$pg_temp.fresh('per_patient_bg')$$, '20 s'), 'the continuous stage followed every step');
SELECT is((SELECT status FROM incview.stages WHERE name = 'per_patient'), 'idle', 'and nothing reads stale');

-- DDL on unrelated tables is untouched (and costs a catalog lookup, nothing more).
CREATE TABLE unrelated (a int) PARTITION BY LIST (a);
CREATE TABLE unrelated_1 PARTITION OF unrelated FOR VALUES IN (1);
SELECT is((SELECT count(*) FROM pg_trigger WHERE tgrelid = 'unrelated_1'::regclass), 0::bigint,
          'a partition of a table no stage reads gets no trigger');
DROP TABLE unrelated;

SELECT incview.drop_stage('per_patient');
SELECT incview.drop_stage('per_patient_bg');
DROP TABLE events, events_2026_02;
SELECT * FROM finish();
