-- Stages under DDL, like views (issue 11, item 5): each DDL statement against what a stage
-- reads and against a stage's own table. Refused naming the stage (its definition view
-- incview_stage.<name>), followed (renames), or, with CASCADE / a dropped table, the stage
-- goes cleanly: catalog rows, queued keys, capture triggers, table, view.
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_incview;
SET incview.default_policy = manual;
SELECT plan(57);

-- sqlstate: message / detail of a statement's error ('no error' when it succeeds)
CREATE FUNCTION pg_temp.ddl_error(cmd text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text; det text;
BEGIN
  EXECUTE cmd;
  RETURN 'no error';
EXCEPTION WHEN others THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
  RETURN st || ': ' || msg || ' / ' || det;
END $$;
CREATE FUNCTION pg_temp.fresh(stage text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
  PERFORM incview.refresh(stage);
  SELECT * INTO r FROM incview.verify(stage);
  RETURN r.missing = 0 AND r.extra = 0;
END $$;
CREATE FUNCTION pg_temp.stage_rows(stage text) RETURNS bigint LANGUAGE sql AS $$
  SELECT (SELECT count(*) FROM incview.stage s WHERE s.name = stage)
       + (SELECT count(*) FROM incview.stage_source ss WHERE ss.stage_id NOT IN (SELECT id FROM incview.stage))
       + (SELECT count(*) FROM incview.queued_keys q WHERE q.stage_id NOT IN (SELECT id FROM incview.stage))
       + (SELECT count(*) FROM incview.stage_state t WHERE t.stage_id NOT IN (SELECT id FROM incview.stage))
$$;
CREATE FUNCTION pg_temp.capture_triggers(rel text) RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FROM pg_trigger WHERE tgrelid = to_regclass(rel) AND tgname LIKE 'incview_capture_%'
$$;

CREATE TABLE visits (id int PRIMARY KEY, patient_id int NOT NULL, amount int NOT NULL, note text);
INSERT INTO visits SELECT g, g % 10, g, 'n' FROM generate_series(1, 200) g;
CREATE FUNCTION doubled(int) RETURNS int IMMUTABLE LANGUAGE sql AS 'SELECT $1 * 2';
SELECT incview.create_stage('per_patient',
  'SELECT patient_id, sum(doubled(amount)) AS total, count(*) AS n FROM visits GROUP BY patient_id',
  ARRAY['patient_id']);

SELECT is((SELECT definition::text FROM incview.stage WHERE name = 'per_patient'), 'incview_stage.per_patient',
          'a stage keeps its query also as the view incview_stage.<name>');
SELECT is((SELECT relowner::regrole::text FROM pg_class WHERE oid = 'incview_stage.per_patient'::regclass),
          current_user::text, 'owned by the stage''s owner');
SELECT ok(NOT has_schema_privilege('public', 'incview_stage', 'USAGE'), 'members of PUBLIC have no rights on its schema');

-- What the query reads cannot go from under it.
SELECT alike(pg_temp.ddl_error('DROP TABLE visits'),
            '2BP01: cannot drop table visits because other objects depend on it / view incview_stage.per_patient depends on table visits',
            'DROP TABLE of a source is refused, naming the stage');
SELECT alike(pg_temp.ddl_error('ALTER TABLE visits DROP COLUMN amount'),
            '2BP01: % / view incview_stage.per_patient depends on column amount of table visits',
            'DROP COLUMN of a column the query reads is refused, naming the stage');
SELECT alike(pg_temp.ddl_error('ALTER TABLE visits ALTER COLUMN amount TYPE bigint'),
            '0A000: cannot alter type of a column used by a view or rule / rule _RETURN on view incview_stage.per_patient depends on column "amount"',
            'ALTER COLUMN TYPE of a column the query reads is refused, naming the stage');
SELECT alike(pg_temp.ddl_error('DROP FUNCTION doubled(int)'),
            '2BP01: % / view incview_stage.per_patient depends on function doubled(integer)',
            'DROP FUNCTION of a function the query calls is refused');
SELECT is(pg_temp.ddl_error('ALTER TABLE visits DROP COLUMN note'), 'no error',
          'a column the query does not read can be dropped');
SELECT ok(pg_temp.fresh('per_patient'), 'the stage is intact after the refused DDL');

-- Renames are followed.
ALTER TABLE visits RENAME COLUMN amount TO amt;
SELECT ok((SELECT query ~ 'amt' AND query !~ 'amount' FROM incview.stage WHERE name = 'per_patient'),
          'RENAME COLUMN: the stored query follows');
INSERT INTO visits VALUES (1001, 3, 50);
SELECT ok(pg_temp.fresh('per_patient'), 'and writes are captured and refreshed');
ALTER TABLE visits RENAME TO visit;
SELECT ok((SELECT query ~ 'FROM visit\M' FROM incview.stage WHERE name = 'per_patient'), 'RENAME TABLE: the stored query follows');
INSERT INTO visit VALUES (1002, 4, 50);
SELECT ok(pg_temp.fresh('per_patient'), 'and writes to the renamed table are captured and refreshed');
ALTER FUNCTION doubled(int) RENAME TO twice;
SELECT ok((SELECT query ~ 'twice' FROM incview.stage WHERE name = 'per_patient'), 'RENAME of a function the query calls is followed');
SELECT ok(pg_temp.fresh('per_patient'), 'and the stage refreshes');

-- A renamed scope column of a source captured by column name is read under its new name.
ALTER TABLE visit RENAME COLUMN patient_id TO pid;
SELECT is((SELECT mapping_kind || ': ' || mapping FROM incview.stage_source WHERE source = 'visit'::regclass),
          'lookup: SELECT changed."pid" AS "patient_id"', 'RENAME of a scope column: capture reads it under the new name');
SELECT ok((SELECT query ~ 'pid AS patient_id' FROM incview.stage WHERE name = 'per_patient'),
          'the query keeps its output column names');
UPDATE visit SET amt = amt + 1 WHERE id = 7;
SELECT is((SELECT array_agg(key ORDER BY key::text) FROM incview.queued_keys), ARRAY['[7]'::jsonb],
          'a write after the rename queues exactly its scope');
SELECT ok(pg_temp.fresh('per_patient'), 'and refreshes it');

-- SET SCHEMA and a renamed schema.
CREATE SCHEMA clinic;
ALTER TABLE visit SET SCHEMA clinic;
SELECT ok((SELECT query ~ 'clinic\.visit' FROM incview.stage WHERE name = 'per_patient'),
          'SET SCHEMA: the query names the table where it now is');
ALTER SCHEMA clinic RENAME TO clinic2;
SELECT ok((SELECT query ~ 'clinic2\.visit' FROM incview.stage WHERE name = 'per_patient'), 'a renamed schema is followed');
INSERT INTO clinic2.visit VALUES (1003, 5, 50);
SELECT ok(pg_temp.fresh('per_patient'), 'and the stage refreshes there');

-- A lookup mapping that no longer fits its source: every change dirties every scope, loudly.
CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL);
CREATE TABLE order_lines (order_id int NOT NULL, amount int NOT NULL);
INSERT INTO orders SELECT g, g % 7 FROM generate_series(1, 50) g;
INSERT INTO order_lines SELECT g % 50 + 1, g FROM generate_series(1, 300) g;
SELECT incview.create_stage('customer_totals',
  'SELECT o.customer_id, sum(l.amount) AS total FROM orders o JOIN order_lines l ON l.order_id = o.id GROUP BY 1',
  ARRAY['customer_id']);
SELECT incview.map_source('customer_totals', 'order_lines', 'SELECT o.customer_id FROM orders o WHERE o.id = changed.order_id');
SELECT ok(pg_temp.fresh('customer_totals'), 'a stage with a lookup mapping');
SELECT lives_ok($$ALTER TABLE order_lines RENAME COLUMN order_id TO order_ref$$,
  'RENAME of a column a lookup mapping reads succeeds (with a WARNING naming the stage and the source)');
SELECT is((SELECT mapping_kind FROM incview.stage_source WHERE source = 'order_lines'::regclass), 'all',
          'and the source dirties every scope from now on');
INSERT INTO order_lines VALUES (3, 1000);
SELECT ok(pg_temp.fresh('customer_totals'), 'so a write is never missed (no writer fails in the capture trigger)');
SELECT lives_ok($$SELECT incview.map_source('customer_totals', 'order_lines',
                  'SELECT o.customer_id FROM orders o WHERE o.id = changed.order_ref')$$, 'the owner maps it again');
INSERT INTO order_lines VALUES (4, 1000);
SELECT ok(pg_temp.fresh('customer_totals'), 'and it is captured by key again');

-- A table only the mapping reads (not the query) can be dropped: the mapping falls back.
CREATE TABLE customer_of (order_id int PRIMARY KEY, customer_id int);
INSERT INTO customer_of SELECT id, customer_id FROM orders;
SELECT incview.map_source('customer_totals', 'order_lines', 'SELECT c.customer_id FROM customer_of c WHERE c.order_id = changed.order_ref');
SELECT is(pg_temp.ddl_error('DROP TABLE customer_of'), 'no error', 'DROP TABLE of a table only a mapping reads succeeds');
SELECT is((SELECT mapping_kind FROM incview.stage_source WHERE source = 'order_lines'::regclass), 'all',
          'and the mapping falls back to every scope');
SELECT lives_ok('INSERT INTO order_lines VALUES (5, 10)', 'so writes to the source do not fail in the capture trigger');
SELECT ok(pg_temp.fresh('customer_totals'), 'and reach the stage');

-- The stage's own table.
SELECT alike(pg_temp.ddl_error('ALTER TABLE per_patient DROP COLUMN total'),
            '2BP01: cannot drop column "total" of table public.per_patient: it is a column of stage "per_patient"%',
            'DROP COLUMN on the stage''s table is refused');
SELECT alike(pg_temp.ddl_error('ALTER TABLE per_patient RENAME COLUMN total TO t'),
            '0A000: cannot rename column "total" of table public.per_patient: it is a column of stage "per_patient"%',
            'RENAME COLUMN on the stage''s table is refused');
SELECT alike(pg_temp.ddl_error('ALTER TABLE per_patient ALTER COLUMN total TYPE numeric'),
            '0A000: cannot change the type of column "total" of table public.per_patient: it is a column of stage "per_patient"%',
            'ALTER COLUMN TYPE on the stage''s table is refused');
ALTER TABLE per_patient RENAME TO per_patient_t;
SELECT is((SELECT target::text FROM incview.stages WHERE name = 'per_patient'), 'per_patient_t',
          'RENAME of the stage''s table: the stage follows');
INSERT INTO clinic2.visit VALUES (1004, 6, 50);
SELECT ok(pg_temp.fresh('per_patient'), 'and refreshes into it');

-- A stage reading another stage's table.
SELECT incview.create_stage('big_patients', 'SELECT patient_id, total FROM per_patient_t WHERE total > 1000',
                            ARRAY['patient_id']);
SELECT alike(pg_temp.ddl_error('DROP TABLE per_patient_t'),
            '2BP01: % / view incview_stage.big_patients depends on table per_patient_t',
            'DROP TABLE of a stage''s table that another stage reads is refused, naming that stage');
SELECT alike(pg_temp.ddl_error($$SELECT incview.drop_stage('per_patient')$$), '2BP01: cannot drop stage "per_patient"%',
            'so is drop_stage without cascade');

-- alter_stage re-creates the view: its dependencies are the new query's.
CREATE TABLE extra (patient_id int, bonus int);
SELECT lives_ok($$SELECT incview.alter_stage('customer_totals',
  'SELECT o.customer_id, sum(l.amount) AS total FROM orders o JOIN order_lines l ON l.order_ref = o.id GROUP BY 1 HAVING sum(l.amount) > 0')$$,
  'alter_stage');
SELECT is((SELECT pg_get_viewdef('incview_stage.customer_totals'::regclass) ~ 'HAVING'), true, 'the view holds the new query');

-- DROP ... CASCADE takes the stage along, cleanly.
SELECT is(pg_temp.ddl_error('DROP TABLE orders CASCADE'), 'no error', 'DROP TABLE of a source with CASCADE succeeds');
SELECT is(pg_temp.stage_rows('customer_totals'), 0::bigint, 'the stage''s catalog rows and queued keys are gone');
SELECT is(to_regclass('public.customer_totals'), NULL, 'its table is gone');
SELECT is(to_regclass('incview_stage.customer_totals'), NULL, 'its view is gone');
-- (In this file's transaction block the triggers of a source no stage reads stay idle until
-- the table is free: docs "Idle capture triggers".)
SELECT is(incview.drop_idle_capture() >= 1 AND pg_temp.capture_triggers('order_lines') = 0, true,
          'the capture triggers on its other source are idle, and drop_idle_capture removes them');

-- The stage's table dropped by hand: the stage does not stay half-registered.
SELECT incview.create_stage('notes', 'SELECT patient_id, count(*) AS c FROM extra GROUP BY 1', ARRAY['patient_id']);
INSERT INTO extra VALUES (1, 1);
SELECT is(pg_temp.ddl_error('DROP TABLE notes'), 'no error', 'DROP TABLE of a stage''s table succeeds');
SELECT is(pg_temp.stage_rows('notes'), 0::bigint, 'and takes the stage with it (catalog rows, queued keys)');
SELECT is(to_regclass('incview_stage.notes'), NULL, 'its view');
SELECT is(incview.drop_idle_capture() >= 1 AND pg_temp.capture_triggers('extra') = 0, true,
          'and the capture triggers on its source are idle (removed by drop_idle_capture)');
DROP TABLE extra;

-- A source dropped with CASCADE under a stage that other stages read: they go too.
SELECT is(pg_temp.ddl_error('DROP TABLE clinic2.visit CASCADE'), 'no error', 'DROP TABLE ... CASCADE under a stage of stages');
SELECT is((SELECT count(*) FROM incview.stage), 0::bigint, 'the stage and the stage reading its table are gone');
SELECT is((SELECT count(*) FROM pg_class WHERE relname IN ('per_patient_t', 'big_patients')), 0::bigint, 'with their tables');
SELECT is((SELECT count(*) FROM pg_class WHERE relnamespace = 'incview_stage'::regnamespace), 0::bigint, 'and their views');

-- drop_stage removes the view; a name that cannot name a view is refused up front.
CREATE TABLE t (k int, v int);
SELECT incview.create_stage('s1', 'SELECT k, sum(v) AS v FROM t GROUP BY k', ARRAY['k']);
SELECT incview.drop_stage('s1');
SELECT is(to_regclass('incview_stage.s1'), NULL, 'drop_stage drops the view');
SELECT is(pg_temp.ddl_error('DROP TABLE t'), 'no error', 'and its sources are free again');
CREATE TABLE t (k int, v int);
SELECT throws_ok(format($$SELECT incview.create_stage(%L, 'SELECT k, v FROM t', ARRAY['k'])$$, repeat('x', 64)),
                 '42622', NULL, 'a stage name longer than 63 bytes is refused');

SELECT * FROM finish();
ROLLBACK;
