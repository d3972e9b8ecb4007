-- Stages on stages (issue: the stage graph). Commits (refresh_all), so no wrapping transaction.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_incview;
-- Stages refresh only when this test says so: no race with the background scheduler.
SET incview.default_policy = manual;
SELECT plan(37);

-- Level 0 per patient, level 1 per location mapped through patients.
CREATE TABLE patients (id int PRIMARY KEY, location_id int);
CREATE TABLE meds (id serial PRIMARY KEY, patient_id int, amount int);
CREATE INDEX ON meds (patient_id);
INSERT INTO patients SELECT g, g % 5 FROM generate_series(1, 60) g;
INSERT INTO meds (patient_id, amount) SELECT g % 60 + 1, g FROM generate_series(1, 600) g;

SELECT incview.create_stage('per_patient',
  'SELECT patient_id, sum(amount) AS total, count(*) AS n FROM meds GROUP BY patient_id',
  ARRAY['patient_id'], ARRAY['patient_id'], engine => 'diff');
SELECT incview.create_stage('per_location',
  'SELECT p.location_id, sum(pp.total) AS total, count(*) AS patients
   FROM per_patient pp JOIN patients p ON p.id = pp.patient_id GROUP BY 1',
  ARRAY['location_id'], ARRAY['location_id']);
SELECT incview.map_source('per_location', 'per_patient',
  'SELECT p.location_id FROM patients p WHERE p.id = changed.patient_id');
SELECT incview.map_source('per_location', 'patients', 'SELECT changed.location_id');
SELECT incview.create_stage('top_location',
  'SELECT 1 AS one, max(total) AS best FROM per_location', ARRAY['one']);

SELECT is(incview.refresh_order(), ARRAY['per_patient', 'per_location', 'top_location'],
  'refresh order is topological: upstream before downstream');
SELECT ok(EXISTS (SELECT 1 FROM incview.stage_source ss JOIN incview.stage s ON s.id = ss.stage_id
                  WHERE s.name = 'per_location' AND ss.source = 'per_patient'::regclass),
  'a stage''s table is discovered as a source of the stage reading it');

-- One pass of refresh_all makes both levels fresh: the downstream sees upstream's new rows.
INSERT INTO meds (patient_id, amount) VALUES (7, 100000);
CALL incview.refresh_all();
SELECT is((SELECT row(missing, extra)::text FROM incview.verify('per_patient')), '(0,0)', 'upstream fresh after one refresh_all');
SELECT is((SELECT row(missing, extra)::text FROM incview.verify('per_location')), '(0,0)', 'downstream fresh in the same pass');
SELECT is((SELECT row(missing, extra)::text FROM incview.verify('top_location')), '(0,0)', 'third level fresh in the same pass');
SELECT is((SELECT count(*)::int FROM incview.queued_keys), 0, 'nothing left queued');
SELECT is((SELECT scopes::int FROM incview.refresh_log WHERE stage = 'per_location' ORDER BY id DESC LIMIT 1), 1,
  'the downstream refreshed only the one location the patient maps to');

-- diff upstream that changes nothing dirties nothing downstream (small blast radius).
UPDATE meds SET amount = amount WHERE patient_id = 8;
SELECT is((SELECT dirty_scopes::int FROM incview.stages WHERE name = 'per_patient'), 1, 'a no-op update still dirties the upstream scope');
SELECT is(incview.refresh('per_patient'), 1::bigint, 'upstream re-derives it');
SELECT is((SELECT rows_inserted + rows_updated + rows_deleted FROM incview.refresh_log
           WHERE stage = 'per_patient' ORDER BY id DESC LIMIT 1), 0::bigint, 'diff wrote no row');
SELECT is((SELECT count(*)::int FROM incview.queued_keys d JOIN incview.stage s ON s.id = d.stage_id
           WHERE s.name = 'per_location'), 0, 'so the downstream stage got no dirty scope');

-- A patient moving location dirties both locations downstream.
UPDATE patients SET location_id = 4 WHERE id = 10;   -- was 0
SELECT bag_eq($$SELECT key FROM incview.queued_keys d JOIN incview.stage s ON s.id = d.stage_id
              WHERE s.name = 'per_location'$$, $$VALUES ('[0]'::jsonb), ('[4]'::jsonb)$$,
  'a key move through the lookup dirties the old and the new location');
CALL incview.refresh_all();
SELECT is((SELECT row(missing, extra)::text FROM incview.verify('per_location')), '(0,0)', 'per_location fresh after the move');

-- Cycles are rejected, naming every stage on them, and nothing changes.
SELECT throws_ok(
  $$SELECT incview.alter_stage('per_patient', 'SELECT location_id AS patient_id, total, patients AS n FROM top_location, per_location')$$,
  '42P19', NULL, 'a redefinition closing a cycle is an error');
SELECT throws_like(
  $$SELECT incview.alter_stage('per_patient', 'SELECT t.one AS patient_id, t.best AS total, 1::bigint AS n FROM top_location t')$$,
  '%per_location -> top_location -> per_patient -> per_location%', 'the error names every stage on the cycle');
SELECT throws_ok(
  $$SELECT incview.alter_stage('per_patient', 'SELECT patient_id, total, n FROM per_patient')$$,
  '42P19', NULL, 'a stage reading its own table is a cycle of one');
SELECT is((SELECT query FROM incview.stage WHERE name = 'per_patient'),
  'SELECT patient_id, sum(amount) AS total, count(*) AS n FROM meds GROUP BY patient_id',
  'after a rejected redefinition the stage is unchanged');

-- alter_stage redefines, re-discovers sources, keeps declared mappings, rebuilds.
SELECT lives_ok($$SELECT incview.alter_stage('per_patient',
  'SELECT patient_id, sum(amount) AS total, count(*) AS n FROM meds WHERE amount > 100 GROUP BY patient_id')$$,
  'alter_stage with the same columns');
SELECT is((SELECT row(missing, extra)::text FROM incview.verify('per_patient')), '(0,0)', 'altered stage rebuilt');
CALL incview.refresh_all();
SELECT is((SELECT row(missing, extra)::text FROM incview.verify('per_location')), '(0,0)', 'downstream follows the rebuild');
SELECT is((SELECT mapping_kind FROM incview.stage_source WHERE source = 'per_patient'::regclass), 'lookup',
  'the downstream''s declared mapping of the altered table survives');
SELECT throws_ok($$SELECT incview.alter_stage('per_patient', 'SELECT patient_id, sum(amount)::int AS total FROM meds GROUP BY 1')$$,
  '0A000', NULL, 'changing columns of a table other stages read is refused');

-- drop_stage refuses while others depend, cascade drops them.
SELECT throws_like($$SELECT incview.drop_stage('per_patient')$$, '%other stages depend on it%', 'drop refused while depended on');
SELECT lives_ok($$SELECT incview.drop_stage('per_patient', cascade => true)$$, 'drop with cascade');
SELECT is((SELECT count(*)::int FROM incview.stage), 0, 'cascade dropped the whole chain');

-- alter_stage changing the columns builds the new table beside the old one and swaps it in
-- at the end: same name, indexes named as PostgreSQL would name them, declared indexes kept.
SELECT incview.create_stage('by_patient', 'SELECT patient_id, sum(amount) AS total FROM meds GROUP BY patient_id',
                            ARRAY['patient_id'], ARRAY['patient_id'], indexes => ARRAY['total']);
SELECT lives_ok($$SELECT incview.alter_stage('by_patient',
  'SELECT patient_id, sum(amount) AS total, max(amount) AS top FROM meds GROUP BY patient_id')$$,
  'alter_stage changing the columns');
SELECT is((SELECT target::text FROM incview.stage WHERE name = 'by_patient'), 'by_patient', 'the table keeps its name');
SELECT ok((SELECT top IS NOT NULL FROM by_patient LIMIT 1), 'and has the new column, filled');
SELECT is((SELECT row(missing, extra)::text FROM incview.verify('by_patient')), '(0,0)', 'the re-created stage is fresh');
SELECT is((SELECT count(*)::int FROM pg_class WHERE relname LIKE 'incview\_new\_%'), 0, 'nothing left beside it');
SELECT ok((SELECT bool_and(i.indexrelid::regclass::text LIKE 'by\_patient\_%') FROM pg_index i
           WHERE i.indrelid = 'by_patient'::regclass), 'its indexes are named after the table');
SELECT ok(EXISTS (SELECT 1 FROM incview.stage_index x JOIN pg_class c ON c.relname = x.index_name
                  WHERE x.stage_id = (SELECT id FROM incview.stage WHERE name = 'by_patient')),
          'the declared index is there under its recorded name');
SELECT incview.drop_stage('by_patient');

-- Seed 003 (RavenDB multi-map/reduce): pixels and URL containers linked by tags.
CREATE TABLE pixels (id int PRIMARY KEY, tags text[]);
CREATE TABLE url_containers (url text PRIMARY KEY, tags text[]);
INSERT INTO pixels SELECT g, CASE WHEN g % 7 = 0 THEN '{}'::text[]
                                  ELSE ARRAY['t' || (g % 11), 't' || (g % 13)] END FROM generate_series(1, 120) g;
INSERT INTO url_containers SELECT 'https://u/' || g, ARRAY['t' || (g % 11)] FROM generate_series(1, 40) g;
-- map (both collections to one shape) + reduce (group by tag); pixels without tags go to _notag_.
SELECT incview.create_stage('tag_reduce',
  $$SELECT tag, array_agg(DISTINCT pixel_id ORDER BY pixel_id) FILTER (WHERE pixel_id IS NOT NULL) AS pixels,
           array_agg(DISTINCT url ORDER BY url) FILTER (WHERE url IS NOT NULL) AS urls
    FROM (SELECT coalesce(t, '_notag_') AS tag, p.id AS pixel_id, NULL::text AS url
          FROM pixels p LEFT JOIN LATERAL unnest(p.tags) AS t ON true
          UNION ALL
          SELECT t, NULL, u.url FROM url_containers u, unnest(u.tags) AS t) m
    GROUP BY tag$$,
  ARRAY['tag'], ARRAY['tag']);
SELECT incview.map_source('tag_reduce', 'pixels',
  $$SELECT t FROM unnest(changed.tags) AS t UNION SELECT '_notag_' WHERE coalesce(cardinality(changed.tags), 0) = 0$$);
SELECT incview.map_source('tag_reduce', 'url_containers', 'SELECT unnest(changed.tags)');
-- transform: pixel -> the URLs sharing a tag with it.
SELECT incview.create_stage('pixel_urls',
  $$SELECT p AS pixel_id, array_agg(DISTINCT u ORDER BY u) AS urls
    FROM tag_reduce r, unnest(r.pixels) AS p, unnest(r.urls) AS u GROUP BY p$$,
  ARRAY['pixel_id'], ARRAY['pixel_id']);
SELECT incview.map_source('pixel_urls', 'tag_reduce', 'SELECT unnest(changed.pixels)');

DO $$
BEGIN
  PERFORM setseed(0.3);
  FOR i IN 1..40 LOOP
    CASE (random() * 5)::int
      WHEN 0 THEN UPDATE pixels SET tags = ARRAY['t' || (random() * 12)::int] WHERE id = 1 + (random() * 119)::int;
      WHEN 1 THEN UPDATE pixels SET tags = '{}' WHERE id = 1 + (random() * 119)::int;
      WHEN 2 THEN INSERT INTO pixels VALUES (1000 + i, ARRAY['t' || (random() * 12)::int, 'new']) ON CONFLICT DO NOTHING;
      WHEN 3 THEN DELETE FROM url_containers WHERE url = 'https://u/' || (1 + (random() * 39)::int);
      WHEN 4 THEN INSERT INTO url_containers VALUES ('https://n/' || i, ARRAY['t' || (random() * 12)::int, 'new'])
                  ON CONFLICT DO NOTHING;
      ELSE DELETE FROM pixels WHERE id = 1 + (random() * 119)::int;
    END CASE;
  END LOOP;
END $$;
SELECT ok((SELECT count(*) FROM incview.queued_keys) > 0, 'random pixel/url changes queued tag scopes');
CALL incview.refresh_all();
SELECT is((SELECT row(missing, extra)::text FROM incview.verify('tag_reduce')), '(0,0)', 'map/reduce stage fresh after random changes');
SELECT is((SELECT row(missing, extra)::text FROM incview.verify('pixel_urls')), '(0,0)', 'transform stage on top fresh in the same pass');
SELECT ok(EXISTS (SELECT 1 FROM tag_reduce WHERE tag = '_notag_' AND cardinality(pixels) > 0), 'untagged pixels reduce under _notag_');
SELECT alike(incview.graph_dot(), '%"stage:tag_reduce" -> "stage:pixel_urls"%', 'graph_dot draws the stage-to-stage edge');

SELECT * FROM finish();
