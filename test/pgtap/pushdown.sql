-- Push-down proof: for every query shape users write, the scoped refresh of a batch reads
-- the large sources through their scope index; where a shape cannot be pushed down,
-- incview.explain says so in words. Also: a source reached through a plain view.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pg_incview;
SET LOCAL incview.default_policy = manual;
SET LOCAL client_min_messages = warning;
SELECT plan(18);

CREATE TABLE products (id int PRIMARY KEY, name text, reminder interval);
INSERT INTO products SELECT g, 'p' || g, (g % 12 + 1) * interval '1 month' FROM generate_series(1, 200) g;
CREATE TABLE meds (id serial PRIMARY KEY, patient_id int, product_id int, at timestamptz);
CREATE TABLE shots (id serial PRIMARY KEY, patient_id int, product_id int, at timestamptz);
CREATE TABLE orders (id serial PRIMARY KEY, patient_id int, product_id int, at timestamptz);
INSERT INTO meds (patient_id, product_id, at)
  SELECT g % 8000, g % 200 + 1, timestamptz '2024-01-01' + g * interval '1 minute' FROM generate_series(1, 80000) g;
INSERT INTO shots (patient_id, product_id, at)
  SELECT g % 8000, g % 190 + 1, timestamptz '2024-01-01' + g * interval '2 minutes' FROM generate_series(1, 40000) g;
INSERT INTO orders (patient_id, product_id, at)
  SELECT g % 8000, g % 180 + 1, timestamptz '2024-01-01' + g * interval '3 minutes' FROM generate_series(1, 80000) g;
CREATE INDEX ON meds (patient_id);
CREATE INDEX ON shots (patient_id);
CREATE INDEX ON orders (patient_id);
ANALYZE products, meds, shots, orders;

CREATE FUNCTION pg_temp.pushed(stage text, source text) RETURNS boolean LANGUAGE sql AS $$
  SELECT incview.explain(stage) LIKE '%' || source || ': index scan: the batch''s scope filter is pushed down%'
$$;

-- The vet stage (UNION ALL of three sources + DISTINCT ON + join): a 100-key batch.
SELECT incview.create_stage('vet',
  $$SELECT DISTINCT ON (e.patient_id, e.product_id) e.patient_id, e.product_id, p.name, e.at + p.reminder AS due
    FROM (SELECT patient_id, product_id, at FROM meds
          UNION ALL SELECT patient_id, product_id, at FROM shots
          UNION ALL SELECT patient_id, product_id, at FROM orders) e
    JOIN products p ON p.id = e.product_id
    ORDER BY e.patient_id, e.product_id, e.at DESC$$, ARRAY['patient_id']);
SELECT ok(incview.explain('vet') LIKE '%scoped refresh query for a batch of 100 keys%', 'explain plans a 100-key batch');
SELECT ok(pg_temp.pushed('vet', 'meds') AND pg_temp.pushed('vet', 'shots') AND pg_temp.pushed('vet', 'orders'),
  'UNION ALL + DISTINCT ON + join: every large source read through its index');
SELECT ok(incview.explain('vet') NOT LIKE '%Seq Scan on meds%' AND incview.explain('vet') NOT LIKE '%Seq Scan on orders%',
  'no sequential scan of a large source');

SELECT incview.create_stage('agg', 'SELECT patient_id, count(*) AS n, max(at) AS last FROM meds GROUP BY patient_id',
  ARRAY['patient_id']);
SELECT ok(pg_temp.pushed('agg', 'meds'), 'GROUP BY the scope: pushed down');

SELECT incview.create_stage('win',
  $$SELECT patient_id, product_id, at, row_number() OVER (PARTITION BY patient_id ORDER BY at DESC) AS rn FROM meds$$,
  ARRAY['patient_id']);
SELECT ok(pg_temp.pushed('win', 'meds'), 'window partitioned by the scope: pushed down');

SELECT incview.create_stage('lat',
  $$SELECT pt.patient_id, last.product_id, last.at
    FROM (SELECT DISTINCT patient_id FROM shots) pt
    CROSS JOIN LATERAL (SELECT m.product_id, m.at FROM meds m WHERE m.patient_id = pt.patient_id
                        ORDER BY m.at DESC LIMIT 1) last$$,
  ARRAY['patient_id']);
SELECT ok(pg_temp.pushed('lat', 'shots') AND pg_temp.pushed('lat', 'meds'), 'LATERAL: pushed down');

SELECT incview.create_stage('cte',
  $$WITH recent AS (SELECT patient_id, product_id FROM orders WHERE at > timestamptz '2024-01-10')
    SELECT patient_id, count(DISTINCT product_id) AS products FROM recent GROUP BY patient_id$$,
  ARRAY['patient_id']);
SELECT ok(pg_temp.pushed('cte', 'orders'), 'a plain (inlined) CTE: pushed down');

-- Shapes that cannot be pushed down are named as such.
SELECT incview.create_stage('win_bad',
  $$SELECT patient_id, at, rank() OVER (ORDER BY at) AS global_rank FROM meds$$, ARRAY['patient_id']);
SELECT ok(incview.explain('win_bad') LIKE '%meds: NOT CONSTRAINED by the batch''s scope filter%',
  'a window over all rows cannot be pushed down, and explain says so');
SELECT is((SELECT scope_pushdown FROM incview.stage WHERE name = 'win_bad'), false,
  'create_stage recorded that its scopes are not independent');
SELECT ok(incview.explain('win_bad') LIKE '%engine: auto (batches use full)%', 'so engine auto rebuilds it in full');
SELECT is((SELECT scope_pushdown FROM incview.stage WHERE name = 'win'), true, 'a window partitioned by the scope is fine');
SELECT incview.create_stage('cte_bad',
  $$WITH recent AS MATERIALIZED (SELECT patient_id, product_id FROM orders)
    SELECT patient_id, count(*) AS n FROM recent GROUP BY patient_id$$, ARRAY['patient_id']);
SELECT ok(incview.explain('cte_bad') LIKE '%orders: NOT CONSTRAINED%', 'a MATERIALIZED CTE is a fence, and explain says so');

-- All stay correct after a change: the global rank of win_bad changes for every patient,
-- which only a rebuild gets right.
UPDATE meds SET at = at + interval '10 days' WHERE patient_id IN (5, 6, 7);
SELECT is((SELECT sum(incview.refresh(name)) FROM incview.stage WHERE name IN ('agg', 'win')), 6::numeric,
  'three scopes refreshed in each of the two scoped meds stages');
SELECT is((SELECT engine FROM incview.refresh_log WHERE stage = 'win_bad' ORDER BY id DESC LIMIT 1), 'full',
  'win_bad refreshed by a rebuild')
  FROM (SELECT incview.refresh('win_bad')) r;
SELECT is((SELECT string_agg(row(missing, extra)::text, ' ' ORDER BY name) FROM incview.stage s, incview.verify(s.name)
           WHERE name IN ('agg', 'win', 'win_bad')), '(0,0) (0,0) (0,0)', 'all correct');

-- A plain view is seen through: its tables are the sources.
CREATE VIEW recent_meds AS SELECT patient_id, product_id, at FROM meds WHERE at > timestamptz '2024-01-01';
SELECT incview.create_stage('via_view', 'SELECT patient_id, count(*) AS n FROM recent_meds GROUP BY patient_id',
  ARRAY['patient_id']);
SELECT is((SELECT array_agg(source::text) FROM incview.stage_source ss JOIN incview.stage s ON s.id = ss.stage_id
           WHERE s.name = 'via_view'), ARRAY['meds'], 'a stage over a view has the view''s table as its source');
INSERT INTO meds (patient_id, product_id, at) VALUES (11, 3, now());
SELECT is(incview.refresh('via_view'), 1::bigint, 'a write to the table under the view dirties the stage');
SELECT is((SELECT row(missing, extra)::text FROM incview.verify('via_view')), '(0,0)', 'and refresh makes it fresh');

SELECT * FROM finish();
ROLLBACK;
