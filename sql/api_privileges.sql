-- Only a stage's owner changes or refreshes it; writers need no privilege on our tables.
-- Stages refresh only when these tests say so (no background scheduler race).
SET incview.default_policy = manual;
CREATE ROLE incview_owner LOGIN;
CREATE ROLE incview_other LOGIN;
CREATE ROLE incview_writer LOGIN;
GRANT CREATE ON SCHEMA public TO incview_owner;
CREATE TABLE events (id serial, account_id int, amount int);
ALTER TABLE events OWNER TO incview_owner;
GRANT INSERT, SELECT ON events TO incview_writer;
GRANT USAGE ON SEQUENCE events_id_seq TO incview_writer;
INSERT INTO events (account_id, amount) VALUES (1, 10), (2, 20);

SET ROLE incview_owner;
SELECT incview.create_stage('balances',
  'SELECT account_id, sum(amount) AS balance FROM events GROUP BY account_id', ARRAY['account_id']);
SELECT tableowner FROM pg_tables WHERE tablename = 'balances';
RESET ROLE;

-- Catalog tables are read-only to everyone but through the functions.
SET ROLE incview_other;
SELECT name FROM incview.stages;
INSERT INTO incview.stage (name, query, scope, columns, target, owner)
  VALUES ('x', 'SELECT 1', '{a}', '{a}', 'events', 'incview_other');
DELETE FROM incview.dirty_scope;
SELECT incview.refresh('balances');
SELECT incview.refresh_scopes('balances', '[1]');
SELECT incview.set_engine('balances', 'full');
SELECT incview.drop_stage('balances');
RESET ROLE;

-- A writer with no privilege on schema incview's tables still records dirty keys.
SET ROLE incview_writer;
INSERT INTO events (account_id, amount) VALUES (3, 30);
RESET ROLE;
-- (balances' keys only: a scheduler pass may have just collected a record for a stage an
-- earlier test dropped, leaving an orphan key for a moment; test/scenario/orphan_keys.sh)
SELECT DISTINCT q.key FROM incview.queued_keys q JOIN incview.stage s ON s.id = q.stage_id AND s.name = 'balances'
ORDER BY key;

SET ROLE incview_owner;
SELECT incview.refresh('balances');
SELECT * FROM incview.verify('balances');
RESET ROLE;

-- Source privileges are checked for the stage's owner, every time (docs/security.md):
-- SELECT on every source, ownership or TRIGGER on every source table.
CREATE TABLE secret (account_id int, v int);
SET ROLE incview_other;
SELECT incview.create_stage('peek', 'SELECT account_id, v FROM secret', ARRAY['account_id'], populate => false);
RESET ROLE;
GRANT SELECT ON secret TO incview_other, incview_owner;
SET ROLE incview_other;
SELECT incview.create_stage('peek', 'SELECT account_id, v FROM secret', ARRAY['account_id'], populate => false);
RESET ROLE;
SET ROLE incview_owner;
SELECT incview.map_source('balances', 'secret', 'SELECT changed.account_id');
RESET ROLE;

-- incview.capture() runs only as pg_incview's own triggers.
CREATE TABLE not_a_source (account_id int);
CREATE TRIGGER fake AFTER INSERT ON not_a_source FOR EACH STATEMENT EXECUTE FUNCTION incview.capture();
INSERT INTO not_a_source VALUES (1);
DROP TABLE not_a_source;

-- capture_all_ratio is for superusers.
SET ROLE incview_writer;
SET incview.capture_all_ratio = 0;
RESET ROLE;

-- Definitions, mappings, errors and history are visible to the owner's role only;
-- incview.stages lists every stage.
SET ROLE incview_other;
SELECT count(*) AS stages_seen FROM incview.stage;
SELECT count(*) AS log_rows_seen FROM incview.refresh_log;
SELECT name, status, last_error FROM incview.stages;
RESET ROLE;
SET ROLE incview_owner;
SELECT name, query FROM incview.stage;
SELECT count(*) > 0 AS log_rows_seen FROM incview.refresh_log;
RESET ROLE;

-- A table owner who disables or drops pg_incview's triggers leaves the stage 'stale', not
-- 'idle'; verify warns; rebuild re-creates dropped triggers.
ALTER TABLE events DISABLE TRIGGER incview_capture_ins;
SELECT name, status, capture_off, last_error FROM incview.stages;
SET ROLE incview_owner;
SELECT incview.refresh('balances');
SELECT * FROM incview.verify('balances');
RESET ROLE;
ALTER TABLE events ENABLE TRIGGER incview_capture_ins;
DROP TRIGGER incview_capture_del ON events;
SELECT name, status, capture_off FROM incview.stages;
SET ROLE incview_owner;
SELECT incview.rebuild('balances');
SELECT name, status, capture_off FROM incview.stages;
SELECT incview.drop_stage('balances');
RESET ROLE;
DROP TABLE secret;
DROP TABLE events;
REVOKE CREATE ON SCHEMA public FROM incview_owner;
DROP ROLE incview_owner, incview_other, incview_writer;
