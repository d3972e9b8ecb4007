-- Stage storage (seeds 002 and 004): context partitioning, declared indexes, retention.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pg_incview;
SET LOCAL incview.default_policy = manual;
SET LOCAL client_min_messages = warning;
SELECT plan(28);

-- Seed 002 (sports analytics): half a billion event rows, aggregates per (season_competition, game, team,
-- parameter), partitioned by the season_competition context.
CREATE TABLE events (id bigserial PRIMARY KEY, season_competition_id int, game_id int, team_id int,
                     parameter_id int, value numeric);
CREATE INDEX ON events (season_competition_id, game_id);
INSERT INTO events (season_competition_id, game_id, team_id, parameter_id, value)
SELECT 1 + g % 4, g % 60, g % 8, g % 6, (g * 7919) % 1000 FROM generate_series(1, 40000) g;
SELECT lives_ok($$SELECT incview.create_stage('game_stats',
  'SELECT season_competition_id, game_id, team_id, parameter_id, sum(value) AS total, avg(value) AS mean, count(*) AS n
   FROM events GROUP BY 1, 2, 3, 4',
  scope => ARRAY['season_competition_id', 'game_id'],
  unique_key => ARRAY['season_competition_id', 'game_id', 'team_id', 'parameter_id'],
  partition_by => 'list (season_competition_id)',
  indexes => ARRAY['(parameter_id, game_id)'])$$, 'create a list-partitioned stage');
ANALYZE game_stats;
SELECT is((SELECT count(*)::int FROM pg_inherits WHERE inhparent = 'game_stats'::regclass), 4,
  'one partition per season_competition, created while populating');
SELECT is((SELECT row(missing, extra)::text FROM incview.verify('game_stats')), '(0,0)', 'populated correctly');

-- "AVG/SUM for parameter X over these games, grouped by team" reads one partition.
SELECT alike(incview.explain('game_stats',
  'SELECT team_id, sum(total) / sum(n) AS avg, sum(total) FROM game_stats
   WHERE season_competition_id = 2 AND parameter_id = 3 AND game_id IN (2, 6, 10) GROUP BY team_id'),
  '%partitions scanned: 1%', 'the per-competition read query scans one partition');

-- A change to one game refreshes that game's scope only, in its partition only.
CREATE TEMP TABLE writes_before AS
  SELECT relname, n_tup_ins + n_tup_del + n_tup_upd AS w FROM pg_stat_xact_user_tables WHERE relname LIKE 'game_stats_p_%';
UPDATE events SET value = value + 1 WHERE season_competition_id = 3 AND game_id = 6 AND id % 120 = 6;
SELECT is(incview.refresh('game_stats'), 1::bigint, 'one scope (competition 3, game 6) refreshed');
SELECT is((SELECT array_agg(a.relname ORDER BY a.relname) FROM pg_stat_xact_user_tables a JOIN writes_before b USING (relname)
           WHERE a.n_tup_ins + a.n_tup_del + a.n_tup_upd > b.w),
          (SELECT array_agg(c.relname::name) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent = 'game_stats'::regclass AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES IN (3)'),
  'only the partition of competition 3 was written');
SELECT is((SELECT row(missing, extra)::text FROM incview.verify('game_stats')), '(0,0)', 'fresh after the game refresh');

-- A new competition gets its partition during refresh (no failed insert).
INSERT INTO events (season_competition_id, game_id, team_id, parameter_id, value) VALUES (77, 1, 1, 1, 10);
SELECT is(incview.refresh('game_stats'), 1::bigint, 'the new competition''s scope refreshed');
SELECT is((SELECT count(*)::int FROM pg_inherits WHERE inhparent = 'game_stats'::regclass), 5, 'its partition was created');
SELECT is((SELECT row(missing, extra)::text FROM incview.verify('game_stats')), '(0,0)', 'fresh with the new partition');

-- One partition rebuilt beside the table and swapped in; the others are untouched.
CREATE TEMP TABLE parts_before AS
  SELECT c.relname, c.oid, pg_get_expr(c.relpartbound, c.oid) AS bound FROM pg_inherits i
  JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'game_stats'::regclass;
UPDATE events SET value = 0 WHERE season_competition_id = 2;
SELECT ok(incview.rebuild_partition('game_stats', '2') > 0, 'rebuild_partition of competition 2');
SELECT is((SELECT row(missing, extra)::text FROM incview.verify('game_stats')), '(0,0)', 'fresh after the swap');
SELECT is((SELECT count(*)::int FROM parts_before b JOIN pg_class c ON c.oid = b.oid WHERE b.bound <> 'FOR VALUES IN (2)'), 4,
  'the other partitions are the same tables');
SELECT ok(NOT EXISTS (SELECT 1 FROM parts_before b JOIN pg_class c ON c.oid = b.oid WHERE b.bound = 'FOR VALUES IN (2)'),
  'partition 2 is a new table, swapped in');
SELECT is((SELECT count(*)::int FROM incview.queued_keys d JOIN incview.stage s ON s.id = d.stage_id
           WHERE s.name = 'game_stats'), 0, 'the rebuild consumed the partition''s dirty scopes');

-- Hash partitions are made up front.
SELECT incview.create_stage('team_totals', 'SELECT team_id, sum(value) AS total FROM events GROUP BY team_id',
  ARRAY['team_id'], partition_by => 'hash (team_id) 4');
SELECT is((SELECT count(*)::int FROM pg_inherits WHERE inhparent = 'team_totals'::regclass), 4, 'four hash partitions');
SELECT is((SELECT row(missing, extra)::text FROM incview.verify('team_totals')), '(0,0)', 'hash-partitioned stage correct');

-- Seed 004 (notification service): reports per (org_id, cluster); latest report, newest N, delete older than.
CREATE TABLE reports (id bigserial PRIMARY KEY, org_id int, cluster text, notified_at timestamptz, total_risk int);
CREATE INDEX ON reports (org_id, cluster);
INSERT INTO reports (org_id, cluster, notified_at, total_risk)
SELECT g % 200, 'c' || (g % 7), now() - (g % 2000) * interval '1 hour', g % 5 FROM generate_series(1, 30000) g;
SELECT lives_ok($$SELECT incview.create_stage('report_feed',
  'SELECT r.org_id, r.cluster, r.id, r.notified_at, r.total_risk FROM reports r',
  scope => ARRAY['org_id', 'cluster'], unique_key => ARRAY['id'],
  partition_by => 'range (notified_at) 1 month',
  indexes => ARRAY['notified_at DESC', '(org_id, cluster, notified_at DESC)'])$$,
  'create a range-partitioned stage with declared indexes');
ANALYZE report_feed;
SELECT alike(incview.explain('report_feed',
  $$SELECT * FROM report_feed WHERE org_id = 42 AND cluster = 'c3' ORDER BY notified_at DESC LIMIT 1$$),
  '%(org_id, cluster, notified_at DESC)): USED%', 'latest report for (org_id, cluster) uses the declared index');
SELECT alike(incview.explain('report_feed', $$SELECT * FROM report_feed ORDER BY notified_at DESC LIMIT 10$$),
  '%(notified_at DESC): USED%', 'newest N uses the notified_at index');
SELECT alike(incview.add_index('report_feed', 'total_risk'), 'report_feed_%_idx', 'add_index names the index');
SELECT lives_ok($$SELECT incview.drop_index('report_feed', 'total_risk')$$, 'drop_index by its definition');

-- Retention: old rows go (whole partitions when possible) and refresh never re-creates them.
SELECT incview.set_retention('report_feed', 'notified_at', '30 days');
SELECT ok(incview.apply_retention('report_feed') > 0, 'apply_retention removed expired rows');
SELECT is((SELECT count(*)::int FROM report_feed WHERE notified_at < now() - interval '30 days'), 0, 'no expired row left');
SELECT ok((SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent = 'report_feed'::regclass) < 5, 'wholly expired monthly partitions were dropped');
INSERT INTO reports (org_id, cluster, notified_at, total_risk) VALUES (42, 'c3', now() - interval '90 days', 1),
                                                                       (42, 'c3', now(), 2);
SELECT is(incview.refresh('report_feed'), 1::bigint, 'the scope of the new reports refreshed');
SELECT is((SELECT count(*)::int FROM report_feed WHERE notified_at < now() - interval '30 days'), 0,
  'the refresh did not re-create the expired report');
SELECT is((SELECT row(missing, extra)::text FROM incview.verify('report_feed')), '(0,0)',
  'verify compares within the retention window');

SELECT * FROM finish();
ROLLBACK;
