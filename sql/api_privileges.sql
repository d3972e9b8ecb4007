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
SELECT key FROM incview.dirty_scope ORDER BY key;

SET ROLE incview_owner;
SELECT incview.refresh('balances');
SELECT * FROM incview.verify('balances');
SELECT incview.drop_stage('balances');
RESET ROLE;
DROP TABLE events;
REVOKE CREATE ON SCHEMA public FROM incview_owner;
DROP ROLE incview_owner, incview_other, incview_writer;
