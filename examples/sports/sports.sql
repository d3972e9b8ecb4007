-- Seed 002 (sports analytics): aggregates over a huge event table, partitioned by the
-- domain context (season_competition). Run in a database with pg_incview:
--   psql -d mydb -f examples/sports/sports.sql
SET client_min_messages = warning;
CREATE TABLE events (id bigserial PRIMARY KEY, season_competition_id int, game_id int, team_id int,
                     parameter_id int, value numeric);
CREATE INDEX ON events (season_competition_id, game_id);
INSERT INTO events (season_competition_id, game_id, team_id, parameter_id, value)
SELECT 1 + g % 4, g % 60, g % 8, g % 6, (g * 7919) % 1000 FROM generate_series(1, 200000) g;

-- One row per (season_competition, game, team, parameter); a game's rows depend only on
-- that game's events, so the scope is (season_competition_id, game_id).
SELECT incview.create_stage('game_stats',
  $$SELECT season_competition_id, game_id, team_id, parameter_id,
           sum(value) AS total, avg(value) AS mean, count(*) AS n
    FROM events GROUP BY 1, 2, 3, 4$$,
  scope        => ARRAY['season_competition_id', 'game_id'],
  unique_key   => ARRAY['season_competition_id', 'game_id', 'team_id', 'parameter_id'],
  partition_by => 'list (season_competition_id)',
  indexes      => ARRAY['(parameter_id, game_id)']);
ANALYZE game_stats;

\echo "AVG/SUM of parameter 3 over these games, grouped by team": one partition is read
SELECT incview.explain('game_stats',
  'SELECT team_id, sum(total) / sum(n) AS avg, sum(total) FROM game_stats
   WHERE season_competition_id = 2 AND parameter_id = 3 AND game_id IN (2, 6, 10) GROUP BY team_id');

\echo A correction to one game: only that game's scope is re-derived, in its partition
UPDATE events SET value = value + 1 WHERE season_competition_id = 3 AND game_id = 6;
SELECT incview.refresh('game_stats');
SELECT * FROM incview.verify('game_stats');

\echo A whole competition rebuilt beside the table and swapped in
SELECT incview.rebuild_partition('game_stats', '2');
