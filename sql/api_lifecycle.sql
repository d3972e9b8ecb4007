-- The stage lifecycle from SQL: create, read, refresh chosen scopes, verify, drop.
-- Stages refresh only when these tests say so (no background scheduler race).
SET incview.default_policy = manual;
SET client_min_messages = warning;
CREATE TABLE visits (id serial PRIMARY KEY, patient_id int, clinic text, amount numeric, at date);
CREATE INDEX ON visits (patient_id);
INSERT INTO visits (patient_id, clinic, amount, at)
SELECT 1 + g % 20, 'c' || (g % 3), g, date '2024-01-01' + g FROM generate_series(1, 200) g;

-- Default target public.<name>, unique index on unique_key; it leads with the scope column,
-- so it also serves as the scope index (no second index on patient_id).
SELECT incview.create_stage('visit_totals',
  $$SELECT patient_id, count(*) AS visits, sum(amount) AS total, max(at) AS last_visit
    FROM visits GROUP BY patient_id$$,
  scope => ARRAY['patient_id'], unique_key => ARRAY['patient_id']);
\d visit_totals
SELECT count(*) FROM visit_totals;
SELECT * FROM incview.verify('visit_totals');
SELECT name, target, scope, unique_key, engine, status, dirty_scopes FROM incview.stages;
SELECT stage, engine, scopes, rows_inserted, error FROM incview.refresh_log ORDER BY id;

-- Change two patients; the stage is stale until refreshed.
UPDATE visits SET amount = amount + 1000 WHERE patient_id IN (3, 4);
SELECT * FROM incview.verify('visit_totals');
SELECT incview.refresh_scopes('visit_totals', '[3, 4]');
SELECT * FROM incview.verify('visit_totals');
SELECT total FROM visit_totals WHERE patient_id = 3;

-- Object form of a key; a scope that no longer has rows disappears.
DELETE FROM visits WHERE patient_id = 5;
SELECT incview.refresh_scopes('visit_totals', '[{"patient_id": 5}]');
SELECT count(*) FROM visit_totals WHERE patient_id = 5;

-- A new scope appears.
INSERT INTO visits (patient_id, clinic, amount, at) VALUES (99, 'c9', 1, '2024-06-01');
SELECT incview.refresh_scopes('visit_totals', '[99]');
SELECT * FROM visit_totals WHERE patient_id = 99;

-- refresh_where: every scope whose output rows satisfy the condition.
UPDATE visits SET amount = 0 WHERE patient_id IN (6, 7);
SELECT incview.refresh_where('visit_totals', 'patient_id BETWEEN 6 AND 7');
SELECT * FROM incview.verify('visit_totals');

-- rebuild and populate => false.
SELECT incview.rebuild('visit_totals');
SELECT incview.create_stage('visit_clinics', 'SELECT DISTINCT clinic, patient_id FROM visits',
  ARRAY['clinic'], populate => false);
SELECT count(*) FROM visit_clinics;
SELECT * FROM incview.verify('visit_clinics');
SELECT incview.rebuild('visit_clinics') > 0 AS rebuilt;
SELECT * FROM incview.verify('visit_clinics');

-- Names that need quoting: a stage name with a space, a schema-qualified target with
-- mixed case, mixed-case columns.
CREATE SCHEMA "Reporting";
SELECT incview.create_stage('My Stage',
  $$SELECT patient_id AS "PatientId", clinic AS "Clinic Name", count(*) AS "N" FROM visits
    GROUP BY 1, 2$$,
  scope => ARRAY['PatientId'], unique_key => ARRAY['PatientId', 'Clinic Name'],
  target => '"Reporting"."Per Clinic"');
SELECT count(*) > 0 AS populated FROM "Reporting"."Per Clinic";
UPDATE visits SET clinic = 'moved' WHERE patient_id = 8;
SELECT incview.refresh_scopes('My Stage', '[{"PatientId": 8}]');
SELECT * FROM incview.verify('My Stage');
SELECT "Clinic Name", "N" FROM "Reporting"."Per Clinic" WHERE "PatientId" = 8;

-- Composite scope, keys as objects or arrays, with a NULL part.
CREATE TABLE reports (org_id int, cluster text, id int, payload text);
INSERT INTO reports VALUES (1, 'a', 1, 'x'), (1, 'b', 2, 'y'), (2, 'a', 3, 'z'), (2, NULL, 4, 'n');
SELECT incview.create_stage('latest_report',
  $$SELECT DISTINCT ON (org_id, cluster) org_id, cluster, id, payload FROM reports
    ORDER BY org_id, cluster, id DESC$$,
  ARRAY['org_id', 'cluster']);
INSERT INTO reports VALUES (1, 'a', 10, 'newer'), (2, NULL, 11, 'null cluster');
SELECT incview.refresh_scopes('latest_report', '[{"org_id": 1, "cluster": "a"}, [2, null]]');
SELECT * FROM latest_report ORDER BY org_id, cluster NULLS LAST;
SELECT * FROM incview.verify('latest_report');

-- A unique key must stay within the scope: scope columns are added to it.
SELECT incview.create_stage('report_rows', 'SELECT id, org_id, payload FROM reports', ARRAY['org_id'],
  unique_key => ARRAY['id']);
SELECT unique_key FROM incview.stage WHERE name = 'report_rows';
UPDATE reports SET org_id = 1 WHERE id = 3;   -- a row moves from scope 2 to scope 1
SET incview.batch_size = 1;                   -- each scope in its own batch: 1 before 2
SELECT incview.refresh_scopes('report_rows', '[1, 2]');
RESET incview.batch_size;
SELECT * FROM incview.verify('report_rows');
SELECT incview.drop_stage('report_rows');

-- drop_stage removes the table, the catalog rows and the capture triggers.
SELECT incview.drop_stage('latest_report');
SELECT to_regclass('latest_report') IS NULL AS table_gone,
       NOT EXISTS (SELECT 1 FROM incview.stage WHERE name = 'latest_report') AS catalog_gone,
       NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'reports'::regclass) AS triggers_gone;
SELECT incview.drop_stage('My Stage');
SELECT incview.drop_stage('visit_clinics');
-- visits still feeds visit_totals: its triggers stay.
SELECT count(*) AS capture_triggers FROM pg_trigger WHERE tgrelid = 'visits'::regclass;
SELECT incview.drop_stage('visit_totals');
SELECT count(*) AS stages_left FROM incview.stage;
