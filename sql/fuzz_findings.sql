-- Findings of the hostile-input generator (test/scenario/hostile_input.sh), one case each,
-- kept here so they fail fast and alone if they come back.
SET incview.default_policy = manual;
CREATE TABLE src (id int, grp int);
INSERT INTO src SELECT g, g % 3 FROM generate_series(1, 9) g;
SELECT incview.create_stage('up', 'SELECT grp, count(*) AS n FROM src GROUP BY grp', ARRAY['grp']);
SELECT incview.create_stage('down', 'SELECT grp, n FROM up', ARRAY['grp']);
-- Nothing half-made: sources and capture triggers as they were.
CREATE FUNCTION pg_temp.sources() RETURNS text LANGUAGE sql AS $$
  SELECT string_agg(s.name || '<-' || ss.source::text, ', ' ORDER BY s.name, ss.source::text)
         || format(' (capture triggers: %s)', (SELECT count(*) FROM pg_trigger WHERE tgfoid = 'incview.capture()'::regprocedure))
  FROM incview.stage_source ss JOIN incview.stage s ON s.id = ss.stage_id
$$;
SELECT pg_temp.sources();

-- 1. pg_incview's own tables are never sources. Capture on the dirty queue fired on its own
--    inserts without end ("stack depth limit exceeded" on every later write to any source).
SELECT incview.map_source('up', 'incview.dirty_scope', NULL);
SELECT incview.add_source('up', 'incview.stage');
SELECT incview.create_stage('q', 'SELECT stage_id, count(*) AS n FROM incview.dirty_scope GROUP BY 1', ARRAY['stage_id']);
SELECT incview.alter_stage('up', 'SELECT grp, count(*) AS n FROM src WHERE grp NOT IN (SELECT stage_id FROM incview.dirty_scope) GROUP BY grp');
SELECT pg_temp.sources();
UPDATE src SET grp = grp WHERE id = 1;   -- a write still just queues its key
SELECT count(DISTINCT (stage_id, key)) AS queued FROM incview.queued_keys;

-- 2. A declared source closes no cycle: a stage's own table, or a table downstream of it
--    (map_source took both; refreshes then re-dirtied the stage forever).
SELECT incview.map_source('up', 'up', NULL);
SELECT incview.add_source('up', 'down', 'SELECT changed.grp FROM changed');
SELECT pg_temp.sources();
-- (up has 3 scopes and 1 is dirty: above incview.full_refresh_ratio, so auto rebuilds it by
-- storage swap, and a swap gives down an "every scope" marker: its 3 scopes.)
SELECT incview.refresh('up'), incview.refresh('down');
SELECT stage, missing, extra FROM (VALUES ('up'), ('down')) v(stage), incview.verify(stage);
SELECT incview.drop_stage('up', cascade => true);
