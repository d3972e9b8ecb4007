-- Bad storage options get a clear ERROR explaining why, and leave nothing behind.
SET incview.default_policy = manual;
SET client_min_messages = warning;
CREATE TABLE ev (sc int, game int, team int, v numeric, at timestamptz, label text);
INSERT INTO ev SELECT g % 3, g % 10, g % 4, g, timestamptz '2024-01-01' + g * interval '1 day', 'x' FROM generate_series(1, 50) g;
CREATE FUNCTION pg_temp.err(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN EXECUTE sql; RETURN 'no error';
EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END $$;

-- partition_by
SELECT incview.create_stage('s', 'SELECT sc, game, sum(v) AS t FROM ev GROUP BY 1, 2', ARRAY['sc', 'game'],
  partition_by => 'list (season)');
SELECT incview.create_stage('s', 'SELECT sc, game, sum(v) AS t FROM ev GROUP BY 1, 2', ARRAY['game'],
  partition_by => 'list (sc)');
SELECT incview.create_stage('s', 'SELECT sc, game, sum(v) AS t FROM ev GROUP BY 1, 2', ARRAY['game'],
  partition_by => 'hash (sc) 8');
SELECT incview.create_stage('s', 'SELECT sc, game, sum(v) AS t FROM ev GROUP BY 1, 2', ARRAY['sc'],
  partition_by => 'tree (sc)');
SELECT incview.create_stage('s', 'SELECT sc, game, sum(v) AS t FROM ev GROUP BY 1, 2', ARRAY['sc'],
  partition_by => 'hash (sc)');
SELECT incview.create_stage('s', 'SELECT sc, date_trunc(''day'', at) AS day FROM ev GROUP BY 1, 2', ARRAY['sc'],
  partition_by => 'range (day)');
SELECT pg_temp.err($$SELECT incview.create_stage('s', 'SELECT sc, date_trunc(''day'', at) AS day FROM ev GROUP BY 1, 2',
  ARRAY['sc'], partition_by => 'range (day) 1 fortnight')$$);
SELECT incview.create_stage('s', 'SELECT sc, date_trunc(''day'', at) AS day FROM ev GROUP BY 1, 2', ARRAY['sc'],
  partition_by => 'range (day) 1 month 3 days');
SELECT incview.create_stage('s', 'SELECT sc, date_trunc(''day'', at) AS day FROM ev GROUP BY 1, 2', ARRAY['sc'],
  partition_by => 'range (day) -1 month');
SELECT incview.create_stage('s', 'SELECT sc, label FROM ev GROUP BY 1, 2', ARRAY['sc'],
  partition_by => 'range (label) 1 month');
SELECT count(*) AS stages, to_regclass('s') IS NULL AS no_table FROM incview.stage;

-- indexes
SELECT incview.create_stage('s', 'SELECT sc, game, sum(v) AS t FROM ev GROUP BY 1, 2', ARRAY['sc'],
  indexes => ARRAY['t DESC); DROP TABLE ev; --']);
SELECT incview.create_stage('s', 'SELECT sc, game, sum(v) AS t FROM ev GROUP BY 1, 2', ARRAY['sc'],
  indexes => ARRAY['(game) WHERE t > 0']);
SELECT pg_temp.err($$SELECT incview.create_stage('s', 'SELECT sc, game, sum(v) AS t FROM ev GROUP BY 1, 2',
  ARRAY['sc'], indexes => ARRAY['nope DESC'])$$);
SELECT count(*) AS stages, to_regclass('s') IS NULL AS no_table, (SELECT count(*) FROM ev) AS ev_rows FROM incview.stage;
SELECT incview.create_stage('s', 'SELECT sc, game, sum(v) AS t, max(at) AS last_at FROM ev GROUP BY 1, 2', ARRAY['sc'],
  indexes => ARRAY['t DESC']) IS NOT NULL AS created;
SELECT incview.add_index('s', 't DESC');
SELECT incview.drop_index('s', 'no_such_index');

-- retention
SELECT incview.set_retention('s', 'nope', '30 days');
SELECT incview.set_retention('s', 'game', '30 days');
SELECT incview.set_retention('s', 'last_at', '-30 days');
SELECT incview.set_retention('s', NULL, '30 days');
SELECT incview.rebuild_partition('s', '1');
SELECT incview.drop_stage('s');
