-- Focused tests of capture (which scope keys a write queues) and of refresh bookkeeping:
-- key moves, NULL keys, several stages on one source, unnest and lookup mappings, NULL
-- mappings and unmapped sources (markers), capture_all_ratio, TRUNCATE, COPY, upsert, a
-- writer without rights on incview's tables, refresh_log counts, the diff engine's no-op,
-- refresh_all in batches across commits, a failing batch.
--
-- Not wrapped in one transaction: CALL incview.refresh_all() commits. The database is
-- thrown away after the file. Stages are switched to the manual policy when the
-- extension has set_policy, so no background refresher can consume their queues.
CREATE EXTENSION IF NOT EXISTS pg_incview;
-- Stages refresh only when this test says so: no race with the background scheduler.
SET incview.default_policy = manual;
SET client_min_messages = warning;
SELECT plan(124);

-- ------------------------------------------------------------------ helpers
-- The distinct keys queued for a stage, as text, sorted; the marker shows as 'ALL'.
CREATE FUNCTION pg_temp.queued(stage text) RETURNS text[] LANGUAGE sql AS $$
  SELECT coalesce(array_agg(DISTINCT coalesce(d.key::text, 'ALL') ORDER BY coalesce(d.key::text, 'ALL')), '{}')
  FROM incview.queued_keys d JOIN incview.stage s ON s.id = d.stage_id WHERE s.name = stage
$$;
-- Queue rows (not distinct) of a stage.
CREATE FUNCTION pg_temp.queue_rows(stage text) RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FROM incview.queued_keys d JOIN incview.stage s ON s.id = d.stage_id WHERE s.name = stage
$$;
CREATE FUNCTION pg_temp.verified(stage text) RETURNS text LANGUAGE sql AS $$
  SELECT row(missing, extra)::text FROM incview.verify(stage)
$$;
-- The latest refresh_log row of a stage, as (engine, scopes, deleted, inserted, updated).
CREATE FUNCTION pg_temp.last_log(stage text) RETURNS text LANGUAGE sql AS $$
  SELECT row(l.engine, l.scopes, l.rows_deleted, l.rows_inserted, l.rows_updated)::text
  FROM incview.refresh_log l WHERE l.stage = last_log.stage ORDER BY l.id DESC LIMIT 1
$$;
-- Refresh every stage (between sections), returns nothing.
CREATE FUNCTION pg_temp.settle() RETURNS void LANGUAGE sql AS $$
  SELECT FROM (SELECT incview.refresh(name) FROM incview.stage) x
$$;
CREATE FUNCTION pg_temp.manual(stage text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF to_regprocedure('incview.set_policy(text,text,interval,time without time zone,interval)') IS NOT NULL THEN
    EXECUTE 'SELECT incview.set_policy($1, ''manual'')' USING stage;
  END IF;
END
$$;

-- ------------------------------------------------------------------ schema + data
CREATE TABLE medications (id bigserial PRIMARY KEY, patient_id bigint, product_id bigint NOT NULL,
                          given_at timestamptz NOT NULL);
INSERT INTO medications (patient_id, product_id, given_at)
SELECT 1 + i % 20, 1 + i % 7, timestamptz '2024-01-01 00:00+00' + i * interval '1 hour'
FROM generate_series(1, 200) i;

CREATE TABLE reports (id bigserial PRIMARY KEY, org_id int NOT NULL, cluster text,
                      notified_at timestamptz NOT NULL, payload text);
INSERT INTO reports (org_id, cluster, notified_at, payload)
SELECT 1 + i % 4, CASE WHEN i % 5 = 0 THEN NULL ELSE 'c' || i % 3 END,
       timestamptz '2024-01-01 00:00+00' + i * interval '1 minute', 'r' || i
FROM generate_series(1, 60) i;

CREATE TABLE pixels (id bigserial PRIMARY KEY, tags text[] NOT NULL, hits int NOT NULL);
INSERT INTO pixels (tags, hits) VALUES ('{a,b}', 1), ('{b,c}', 2), ('{c}', 3), ('{d}', 4), ('{a,d}', 5);

CREATE TABLE orders (id bigint PRIMARY KEY, patient_id bigint);
CREATE TABLE order_lines (id bigserial PRIMARY KEY, order_id bigint NOT NULL, qty int NOT NULL);
INSERT INTO orders SELECT o, 10 + o FROM generate_series(1, 8) o;
INSERT INTO order_lines (order_id, qty) SELECT 1 + i % 8, i FROM generate_series(1, 40) i;

CREATE TABLE products (id bigint PRIMARY KEY, name text NOT NULL);
INSERT INTO products SELECT p, 'Product ' || p FROM generate_series(1, 7) p;

-- 200 patients with two events each: a stage with 200 scopes (capture_all_ratio applies)
CREATE TABLE visits (id bigserial PRIMARY KEY, patient_id bigint NOT NULL, minutes int NOT NULL);
INSERT INTO visits (patient_id, minutes) SELECT 1 + i % 200, i FROM generate_series(1, 400) i;

-- ------------------------------------------------------------------ stages
BEGIN;
SELECT incview.create_stage('med_count', $$
  SELECT patient_id, count(*) AS n, max(given_at) AS last_at FROM medications GROUP BY patient_id
$$, ARRAY['patient_id'], ARRAY['patient_id']);
SELECT incview.create_stage('med_by_product', $$
  SELECT product_id, count(*) AS n, count(DISTINCT patient_id) AS patients FROM medications GROUP BY product_id
$$, ARRAY['product_id'], ARRAY['product_id']);
SELECT incview.create_stage('latest_report', $$
  SELECT DISTINCT ON (org_id, cluster) org_id, cluster, id AS report_id, notified_at, payload
  FROM reports ORDER BY org_id, cluster, notified_at DESC, id DESC
$$, ARRAY['org_id', 'cluster'], ARRAY['org_id', 'cluster']);
SELECT incview.create_stage('tag_count', $$
  SELECT t.tag, count(*) AS pixels, sum(p.hits) AS hits
  FROM pixels p CROSS JOIN LATERAL unnest(p.tags) AS t(tag) GROUP BY t.tag
$$, ARRAY['tag'], ARRAY['tag']);
SELECT incview.create_stage('order_qty', $$
  SELECT o.patient_id, count(*) AS lines, sum(l.qty) AS qty
  FROM orders o JOIN order_lines l ON l.order_id = o.id GROUP BY o.patient_id
$$, ARRAY['patient_id'], ARRAY['patient_id']);
SELECT incview.create_stage('med_names', $$
  SELECT m.patient_id, string_agg(DISTINCT p.name, ', ' ORDER BY p.name) AS names
  FROM medications m JOIN products p ON p.id = m.product_id GROUP BY m.patient_id
$$, ARRAY['patient_id'], ARRAY['patient_id']);
SELECT incview.create_stage('visit_minutes', $$
  SELECT patient_id, sum(minutes) AS minutes, count(*) AS visits FROM visits GROUP BY patient_id
$$, ARRAY['patient_id'], ARRAY['patient_id']);
SELECT pg_temp.manual(name) FROM incview.stage;
COMMIT;

SELECT is((SELECT count(*) FROM incview.stage), 7::bigint, 'seven stages registered');
SELECT is((SELECT count(*) FROM incview.queued_keys), 0::bigint, 'the queue starts empty');

-- ------------------------------------------------------------------ key move
SELECT id AS med_of_1 FROM medications WHERE patient_id = 1 ORDER BY id LIMIT 1 \gset
UPDATE medications SET patient_id = 2 WHERE id = :med_of_1;
SELECT is(pg_temp.queued('med_count'), ARRAY['[1]', '[2]'], 'key move 1 -> 2 dirties [1] and [2]');
SELECT is(pg_temp.queued('med_by_product'), (SELECT ARRAY['[' || product_id || ']'] FROM medications WHERE id = :med_of_1),
          'the same update dirties its product in med_by_product (unchanged product: one key)');
SELECT isnt(pg_temp.verified('med_count'), '(0,0)', 'med_count is stale before refresh');
SELECT is(incview.refresh('med_count'), 2::bigint, 'refresh re-derives two scopes');
SELECT is(pg_temp.verified('med_count'), '(0,0)', 'med_count equals its query after the move');
SELECT is((SELECT n FROM med_count WHERE patient_id = 2) - (SELECT n FROM med_count WHERE patient_id = 1), 2::bigint,
          'patient 2 has two medications more than patient 1 now');
SELECT is(pg_temp.queued('med_count'), '{}'::text[], 'med_count''s queue is empty after refresh');
SELECT is(incview.refresh('med_by_product'), 1::bigint, 'med_by_product refreshes its one key');

-- ------------------------------------------------------------------ NULL scope keys
INSERT INTO medications (patient_id, product_id, given_at) VALUES (NULL, 3, '2025-01-01 00:00+00');
SELECT is(pg_temp.queued('med_count'), ARRAY['[null]'], 'a NULL patient_id is captured as [null]');
SELECT is(incview.refresh('med_count'), 1::bigint, 'the NULL scope refreshes as one scope');
SELECT is((SELECT n FROM med_count WHERE patient_id IS NULL), 1::bigint, 'the NULL scope has its row');
SELECT is(pg_temp.verified('med_count'), '(0,0)', 'med_count equals its query with a NULL scope');
UPDATE medications SET patient_id = 3 WHERE patient_id IS NULL;
SELECT is(pg_temp.queued('med_count'), ARRAY['[3]', '[null]'], 'moving NULL -> 3 dirties [null] and [3]');
SELECT is(incview.refresh('med_count'), 2::bigint, 'two scopes refreshed');
SELECT is((SELECT count(*) FROM med_count WHERE patient_id IS NULL), 0::bigint, 'the NULL scope''s row is gone');
SELECT is(pg_temp.verified('med_count'), '(0,0)', 'med_count equals its query again');
SELECT is(incview.refresh('med_by_product'), 1::bigint, 'med_by_product: product 3 refreshed (insert and update)');

-- composite scope with a NULL part
INSERT INTO reports (org_id, cluster, notified_at, payload) VALUES (9, NULL, '2025-01-01 00:00+00', 'new');
UPDATE reports SET cluster = NULL WHERE id = 1;   -- (2, 'c1') -> (2, NULL)
SELECT is(pg_temp.queued('latest_report'), ARRAY['[2, "c1"]', '[2, null]', '[9, null]'],
          'composite keys: [9, null] for the insert, [2, "c1"] and [2, null] for the move');
SELECT is(incview.refresh('latest_report'), 3::bigint, 'three composite scopes refreshed');
SELECT is((SELECT payload FROM latest_report WHERE org_id = 9 AND cluster IS NULL), 'new',
          'the (9, NULL) scope has its report');
SELECT is(pg_temp.verified('latest_report'), '(0,0)', 'latest_report equals its query');

-- ------------------------------------------------------------------ several stages on one source
SELECT pg_temp.settle();
INSERT INTO medications (patient_id, product_id, given_at) VALUES (5, 6, '2025-02-01 00:00+00');
SELECT is(pg_temp.queued('med_count'), ARRAY['[5]'], 'med_count gets [5]');
SELECT is(pg_temp.queued('med_by_product'), ARRAY['[6]'], 'med_by_product gets [6] from the same insert');
SELECT is(pg_temp.queued('med_names'), ARRAY['[5]'], 'med_names gets [5] from the same insert');
SELECT is(pg_temp.queued('visit_minutes'), '{}'::text[], 'a stage on other sources gets nothing');
SELECT is(incview.refresh('med_count') + incview.refresh('med_by_product') + incview.refresh('med_names'), 3::bigint,
          'each of the three stages refreshes one scope');
SELECT is(pg_temp.verified('med_count') || pg_temp.verified('med_by_product') || pg_temp.verified('med_names'),
          '(0,0)(0,0)(0,0)', 'the three stages equal their queries');

-- ------------------------------------------------------------------ unnest mapping (the pixels-and-URL-tags scenario, seed 003)
SELECT is((SELECT mapping_kind FROM incview.stage_source WHERE source = 'pixels'::regclass), 'all',
          'pixels has no column tag: unmapped, every scope');
SELECT lives_ok($$SELECT incview.map_source('tag_count', 'pixels', 'SELECT unnest(changed.tags)')$$,
                'map_source with an unnest mapping');
SELECT is((SELECT mapping_kind FROM incview.stage_source WHERE source = 'pixels'::regclass), 'lookup',
          'the mapping is recorded as a lookup');
UPDATE pixels SET tags = '{b,e}' WHERE tags = '{a,b}';
SELECT is(pg_temp.queued('tag_count'), ARRAY['["a"]', '["b"]', '["e"]'],
          'retagging {a,b} -> {b,e} dirties a, b and e (old and new tags)');
DELETE FROM pixels WHERE tags = '{c}';
SELECT is(pg_temp.queued('tag_count'), ARRAY['["a"]', '["b"]', '["c"]', '["e"]'], 'deleting {c} adds c');
SELECT is(incview.refresh('tag_count'), 4::bigint, 'four tags refreshed');
SELECT is(pg_temp.verified('tag_count'), '(0,0)', 'tag_count equals its query');
SELECT is((SELECT pixels FROM tag_count WHERE tag = 'e'), 1::bigint, 'tag e appeared');

-- ------------------------------------------------------------------ lookup mapping
SELECT is((SELECT mapping_kind FROM incview.stage_source WHERE source = 'order_lines'::regclass), 'all',
          'order_lines has no patient_id: unmapped');
SELECT lives_ok($$SELECT incview.map_source('order_qty', 'order_lines',
                    'SELECT o.patient_id FROM orders o WHERE o.id = changed.order_id')$$,
                'map order_lines to patients through orders');
INSERT INTO order_lines (order_id, qty) VALUES (3, 100);
SELECT is(pg_temp.queued('order_qty'), ARRAY['[13]'], 'a line of order 3 dirties its patient 13');
UPDATE order_lines SET order_id = 5 WHERE order_id = 4;
SELECT is(pg_temp.queued('order_qty'), ARRAY['[13]', '[14]', '[15]'], 'moving lines 4 -> 5 dirties patients 14 and 15');
UPDATE orders SET patient_id = 30 WHERE id = 6;
SELECT is(pg_temp.queued('order_qty'), ARRAY['[13]', '[14]', '[15]', '[16]', '[30]'],
          'orders has patient_id: moving order 6 dirties 16 and 30');
SELECT is(incview.refresh('order_qty'), 5::bigint, 'five patients refreshed');
SELECT is(pg_temp.verified('order_qty'), '(0,0)', 'order_qty equals its query');

-- mapping NULL: any change is a marker
SELECT lives_ok($$SELECT incview.map_source('order_qty', 'order_lines', NULL)$$, 'map_source with NULL');
SELECT is((SELECT mapping_kind FROM incview.stage_source WHERE source = 'order_lines'::regclass), 'all',
          'the NULL mapping is recorded as every scope');
UPDATE order_lines SET qty = qty + 1 WHERE id = 1;
SELECT is(pg_temp.queued('order_qty'), ARRAY['ALL'], 'a change to a NULL-mapped source queues the marker');
SELECT ok((SELECT all_dirty FROM incview.stages WHERE name = 'order_qty'), 'stages.all_dirty is true');
SELECT cmp_ok(incview.refresh('order_qty'), '>', 0::bigint, 'refresh after a marker');
SELECT is((SELECT engine FROM incview.refresh_log WHERE stage = 'order_qty' ORDER BY id DESC LIMIT 1), 'full',
          'the marker made refresh rebuild the stage');
SELECT is(pg_temp.verified('order_qty'), '(0,0)', 'order_qty equals its query after the rebuild');
SELECT is(pg_temp.queued('order_qty'), '{}'::text[], 'the marker is consumed');
-- an update that changes no row queues nothing
UPDATE order_lines SET qty = 0 WHERE id = -1;
SELECT is(pg_temp.queue_rows('order_qty'), 0::bigint, 'an UPDATE of no rows queues no marker');

-- ------------------------------------------------------------------ unmapped source: marker
SELECT is((SELECT row(mapping_kind, declared)::text FROM incview.stage_source
           WHERE source = 'products'::regclass AND stage_id = (SELECT id FROM incview.stage WHERE name = 'med_names')),
          '(all,f)', 'products (no patient_id) was registered unmapped for med_names');
UPDATE products SET name = 'Renamed' WHERE id = 2;
SELECT is(pg_temp.queued('med_names'), ARRAY['ALL'], 'a change to an unmapped source queues the marker');
SELECT is(pg_temp.queued('med_count'), '{}'::text[], 'stages not reading products get nothing');
SELECT cmp_ok(incview.refresh('med_names'), '>', 0::bigint, 'refresh after the marker');
SELECT is(pg_temp.verified('med_names'), '(0,0)', 'med_names shows the renamed product');

-- ------------------------------------------------------------------ capture_all_ratio
SELECT is((SELECT count(*) FROM visit_minutes), 200::bigint, 'visit_minutes has 200 scopes');
UPDATE visits SET minutes = minutes + 1;   -- all 200 patients
SELECT is(pg_temp.queued('visit_minutes'), ARRAY['ALL'], 'updating all 200 scopes queues one marker');
SELECT is(pg_temp.queue_rows('visit_minutes'), 1::bigint, '... and no keys');
SELECT is(incview.refresh('visit_minutes'), 200::bigint, 'the rebuild reports 200 scopes');
SELECT is(pg_temp.last_log('visit_minutes'), '(full,200,200,200,0)', 'refresh_log: full rebuild of 200 rows');
SELECT is(pg_temp.verified('visit_minutes'), '(0,0)', 'visit_minutes equals its query');

UPDATE visits SET minutes = minutes + 1 WHERE patient_id <= 50;   -- 25%: keys
SELECT is(pg_temp.queue_rows('visit_minutes'), 50::bigint, '50 of 200 scopes: 50 keys, no marker');
SELECT is(incview.refresh('visit_minutes'), 50::bigint, '50 scopes refreshed');
SELECT is(pg_temp.last_log('visit_minutes'), '(replace,50,50,50,0)', 'no stage reads it: auto used replace');
-- Once another stage reads it, auto writes only real changes (diff).
SELECT incview.create_stage('visit_total', 'SELECT 1 AS one, sum(minutes) AS m FROM visit_minutes', ARRAY['one']);

SET incview.capture_all_ratio = 0.9;
UPDATE visits SET minutes = minutes + 1 WHERE patient_id <= 150;  -- 75%: keys under ratio 0.9
SELECT is(pg_temp.queue_rows('visit_minutes'), 150::bigint, 'with capture_all_ratio 0.9, 150 of 200 scopes are keys');
SELECT is(incview.refresh('visit_minutes'), 150::bigint, '150 scopes refreshed');
SELECT is((SELECT engine FROM incview.refresh_log WHERE stage = 'visit_minutes' ORDER BY id DESC LIMIT 1), 'full',
          'auto rebuilds when dirty keys exceed full_refresh_ratio (0.25 by default) of the scopes');
SET incview.full_refresh_ratio = 0.9;
UPDATE visits SET minutes = minutes + 1 WHERE patient_id <= 150;
SELECT is(incview.refresh('visit_minutes'), 150::bigint, '150 scopes refreshed again');
SELECT is(pg_temp.last_log('visit_minutes'), '(diff,150,0,0,150)', 'with full_refresh_ratio 0.9 and a reader, auto diffs by key');
RESET incview.capture_all_ratio;
RESET incview.full_refresh_ratio;
SELECT is(pg_temp.verified('visit_minutes'), '(0,0)', 'visit_minutes equals its query');

-- ------------------------------------------------------------------ TRUNCATE
TRUNCATE pixels;
SELECT is(pg_temp.queued('tag_count'), ARRAY['ALL'], 'TRUNCATE queues the marker');
SELECT lives_ok($$SELECT incview.refresh('tag_count')$$, 'refresh after TRUNCATE');
SELECT is((SELECT count(*) FROM tag_count), 0::bigint, 'tag_count is empty after TRUNCATE + refresh');
SELECT is(pg_temp.verified('tag_count'), '(0,0)', 'tag_count equals its query');

-- ------------------------------------------------------------------ COPY and upsert
COPY medications (patient_id, product_id, given_at) FROM STDIN;
7	1	2025-03-01 00:00:00+00
8	1	2025-03-02 00:00:00+00
\.
SELECT is(pg_temp.queued('med_count'), ARRAY['[7]', '[8]'], 'COPY queues the keys of the copied rows');
SELECT id AS med_of_9 FROM medications WHERE patient_id = 9 ORDER BY id LIMIT 1 \gset
INSERT INTO medications (id, patient_id, product_id, given_at)
VALUES (:med_of_9, 10, 1, '2025-04-01 00:00+00'), (100000, 11, 1, '2025-04-01 00:00+00')
ON CONFLICT (id) DO UPDATE SET patient_id = EXCLUDED.patient_id;
SELECT is(pg_temp.queued('med_count'), ARRAY['[10]', '[11]', '[7]', '[8]', '[9]'],
          'INSERT ... ON CONFLICT DO UPDATE queues the inserted key and both keys of the updated row');
SELECT is(incview.refresh('med_count'), 5::bigint, 'five scopes refreshed');
SELECT is(pg_temp.verified('med_count'), '(0,0)', 'med_count equals its query');

-- ------------------------------------------------------------------ a writer without rights on incview
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'incview_tap_writer') THEN
    CREATE ROLE incview_tap_writer NOLOGIN;
  END IF;
END $$;
GRANT SELECT, INSERT, UPDATE ON medications TO incview_tap_writer;
GRANT USAGE ON SEQUENCE medications_id_seq TO incview_tap_writer;
GRANT INSERT ON order_lines TO incview_tap_writer;
GRANT USAGE ON SEQUENCE order_lines_id_seq TO incview_tap_writer;
SELECT incview.map_source('order_qty', 'order_lines', 'SELECT o.patient_id FROM orders o WHERE o.id = changed.order_id');
CREATE SCHEMA decoy;
CREATE TABLE decoy.orders (id bigint, patient_id bigint);
INSERT INTO decoy.orders VALUES (7, 999);
GRANT USAGE ON SCHEMA decoy TO incview_tap_writer;
GRANT SELECT ON decoy.orders TO incview_tap_writer;
SET ROLE incview_tap_writer;
-- the writer's search_path must not matter: the mapping says "orders", meaning public.orders
SET search_path = decoy, public;
SELECT throws_ok('SELECT count(*) FROM incview.dirty_scope', '42501', NULL,
                 'the writer cannot read the queue');
SELECT throws_ok('SELECT count(*) FROM public.orders', '42501', NULL, 'the writer cannot read orders');
SELECT lives_ok($$INSERT INTO public.medications (patient_id, product_id, given_at) VALUES (12, 1, '2025-05-01 00:00+00')$$,
                'the writer inserts into a source');
SELECT lives_ok($$UPDATE public.medications SET patient_id = 14 WHERE patient_id = 13$$,
                'the writer moves rows between scopes');
SELECT lives_ok($$INSERT INTO public.order_lines (order_id, qty) VALUES (7, 1)$$,
                'the writer inserts into a lookup-mapped source (the mapping reads orders as the stage owner)');
RESET search_path;
RESET ROLE;
SELECT is(pg_temp.queued('med_count'), ARRAY['[12]', '[13]', '[14]'], 'the writer''s changes were queued');
SELECT is(pg_temp.queued('order_qty'), ARRAY['[17]'],
          'the lookup found order 7''s patient 17 (public.orders, not the writer''s decoy.orders)');
SELECT is(incview.refresh('med_count') + incview.refresh('order_qty'), 4::bigint, 'refreshed');
SELECT is(pg_temp.verified('med_count') || pg_temp.verified('order_qty'), '(0,0)(0,0)', 'both stages equal their queries');
DROP OWNED BY incview_tap_writer;
DROP ROLE incview_tap_writer;

-- ------------------------------------------------------------------ refresh_log and the diff engine
SELECT pg_temp.settle();
SELECT incview.set_engine('med_count', 'replace');
UPDATE medications SET given_at = given_at + interval '1 day' WHERE patient_id IN (15, 16);
SELECT is(incview.refresh('med_count'), 2::bigint, 'replace: two scopes');
SELECT is(pg_temp.last_log('med_count'), '(replace,2,2,2,0)', 'refresh_log: replace, 2 scopes, 2 deleted, 2 inserted');
SELECT ok((SELECT duration IS NOT NULL AND error IS NULL FROM incview.refresh_log WHERE stage = 'med_count'
           ORDER BY id DESC LIMIT 1), 'refresh_log has a duration and no error');

SELECT incview.set_engine('med_count', 'diff');
UPDATE medications SET given_at = given_at WHERE patient_id = 4;
SELECT is(pg_temp.queued('med_count'), ARRAY['[4]'], 'a no-op update still queues its key');
SELECT is(incview.refresh('med_count'), 1::bigint, 'diff: one scope');
SELECT is(pg_temp.last_log('med_count'), '(diff,1,0,0,0)', 'diff writes nothing for a no-op update');
UPDATE medications SET given_at = given_at + interval '1 year' WHERE id = (SELECT max(id) FROM medications WHERE patient_id = 4);
INSERT INTO medications (patient_id, product_id, given_at) VALUES (300, 1, '2025-06-01 00:00+00');
DELETE FROM medications WHERE patient_id = 6;
SELECT is(incview.refresh('med_count'), 3::bigint, 'diff: three scopes');
SELECT is(pg_temp.last_log('med_count'), '(diff,3,1,1,1)', 'diff: one row updated, one inserted, one deleted');
SELECT is(pg_temp.verified('med_count'), '(0,0)', 'med_count equals its query');

-- ------------------------------------------------------------------ refresh_all in batches
SET incview.batch_size = 7;
SELECT max(id) AS log_mark FROM incview.refresh_log \gset
UPDATE visits SET minutes = minutes + 2 WHERE patient_id <= 30;
SELECT is(pg_temp.queue_rows('visit_minutes'), 30::bigint, '30 keys queued');
CALL incview.refresh_all();
SELECT is((SELECT array_agg(scopes ORDER BY id) FROM incview.refresh_log WHERE stage = 'visit_minutes' AND id > :log_mark),
          ARRAY[7, 7, 7, 7, 2]::bigint[], 'refresh_all ran batches of 7, 7, 7, 7 and 2 scopes');
SELECT is((SELECT count(DISTINCT xmin::text) FROM incview.refresh_log WHERE stage = 'visit_minutes' AND id > :log_mark),
          5::bigint, 'each batch committed in its own transaction');
SELECT is(pg_temp.queue_rows('visit_minutes'), 0::bigint, 'the queue is empty after refresh_all');
SELECT is(pg_temp.verified('visit_minutes'), '(0,0)', 'visit_minutes equals its query after refresh_all');
RESET incview.batch_size;

-- ------------------------------------------------------------------ a failing batch
CREATE TABLE fractions (patient_id int NOT NULL, amount numeric NOT NULL, divisor numeric NOT NULL);
INSERT INTO fractions SELECT p, 10 * p, 2 FROM generate_series(1, 5) p;
BEGIN;
SELECT incview.create_stage('ratio', $$
  SELECT patient_id, sum(amount / divisor) AS total FROM fractions GROUP BY patient_id
$$, ARRAY['patient_id'], ARRAY['patient_id']);
SELECT pg_temp.manual('ratio');
SELECT incview.set_engine('ratio', 'diff');        -- batches even with every scope dirty
COMMIT;
UPDATE fractions SET amount = amount + 1;          -- all five patients
UPDATE fractions SET divisor = 0 WHERE patient_id = 3;
SET incview.batch_size = 1;
SET client_min_messages = error;                   -- the refresh WARNING
SELECT is(incview.refresh('ratio'), 4::bigint, 'refresh with one failing scope refreshes the other four');
SET client_min_messages = warning;
SELECT is(pg_temp.queued('ratio'), ARRAY['[3]'], 'the failing scope stays queued');
SELECT bag_eq($$SELECT patient_id, total FROM ratio WHERE patient_id <> 3$$,
              $$SELECT patient_id, sum(amount / divisor) FROM fractions WHERE patient_id <> 3 GROUP BY patient_id$$,
              'the keys after the failing batch were refreshed too (keyset continues)');
SELECT is((SELECT total FROM ratio WHERE patient_id = 3), 15::numeric, 'scope 3 keeps its old row');
SELECT ok((SELECT error FROM incview.refresh_log WHERE stage = 'ratio' AND error IS NOT NULL ORDER BY id DESC LIMIT 1)
          LIKE '%division by zero%', 'refresh_log records the error');
SELECT ok((SELECT last_error FROM incview.stages WHERE name = 'ratio') LIKE '%division by zero%',
          'incview.stages shows the error while a scope is stuck');
SELECT isnt((SELECT status FROM incview.stages WHERE name = 'ratio'), 'idle',
            'incview.stages does not report the stage as idle while a scope is stuck');
UPDATE fractions SET divisor = 4 WHERE patient_id = 3;
SELECT is(incview.refresh('ratio'), 1::bigint, 'after the fix the stuck scope refreshes');
SELECT is(pg_temp.verified('ratio'), '(0,0)', 'ratio equals its query');
SELECT is((SELECT row(status, last_error)::text FROM incview.stages WHERE name = 'ratio'), '(idle,)',
          'the stage is idle with no error again');
RESET incview.batch_size;

-- ------------------------------------------------------------------ a row moving between scopes, unique_key without the scope
-- unique_key (id) does not contain the scope: the row's new scope [1] is refreshed (in an
-- earlier batch) before its old scope [3] deletes it. Either create_stage refuses such a
-- unique_key, or one refresh must bring the stage up to date.
CREATE TABLE items (id int PRIMARY KEY, patient_id int NOT NULL, v int NOT NULL);
INSERT INTO items SELECT g, 1 + g % 5, g FROM generate_series(1, 20) g;
CREATE TEMP TABLE moved_row (outcome text);
SET client_min_messages = error;
DO $$
DECLARE
  n bigint;
BEGIN
  BEGIN
    PERFORM incview.create_stage('item_rows', 'SELECT id, patient_id, v FROM items', ARRAY['patient_id'], ARRAY['id']);
  EXCEPTION WHEN others THEN
    INSERT INTO moved_row VALUES ('create_stage refused it');
    RETURN;
  END;
  PERFORM pg_temp.manual('item_rows');
  PERFORM set_config('incview.batch_size', '1', true);
  UPDATE items SET patient_id = 1 WHERE id = 2;      -- scope [3] -> [1]: [1] comes first
  n := incview.refresh('item_rows');
  INSERT INTO moved_row
  SELECT format('refresh re-derived %s scopes, verify %s, errors: %s', n, pg_temp.verified('item_rows'),
                (SELECT coalesce(string_agg(error, '; '), 'none') FROM incview.refresh_log
                 WHERE stage = 'item_rows' AND error IS NOT NULL));
END
$$;
SET client_min_messages = warning;
SELECT ok((SELECT outcome FROM moved_row) IN ('create_stage refused it',
                                              'refresh re-derived 2 scopes, verify (0,0), errors: none'),
          'a row moving to a lower scope key under a unique_key without the scope: ' || (SELECT outcome FROM moved_row));

-- ------------------------------------------------------------------ float scope keys and session settings
-- The key a writer queues must not depend on the writer's settings: with
-- extra_float_digits = 0, float8out rounds to 15 digits, and the key [0.3] no longer
-- names the scope 0.30000000000000004.
CREATE TABLE readings (id int PRIMARY KEY, x float8 NOT NULL, v int NOT NULL);
INSERT INTO readings VALUES (1, 0.1, 1), (2, 0.1::float8 + 0.2::float8, 2), (3, 1.0::float8 / 3, 3), (4, 4, 4);
BEGIN;
SELECT incview.create_stage('by_x', 'SELECT x, sum(v) AS v FROM readings GROUP BY x', ARRAY['x'], ARRAY['x'],
                            engine => 'diff');
SELECT pg_temp.manual('by_x');
COMMIT;
SET extra_float_digits = 0;
UPDATE readings SET v = v + 10 WHERE id IN (2, 3);
RESET extra_float_digits;
SELECT is(incview.refresh('by_x'), 2::bigint, 'two float scopes refreshed');
SELECT is(pg_temp.verified('by_x'), '(0,0)',
          'a float scope written with extra_float_digits = 0 is refreshed (by_x equals its query)');

-- ------------------------------------------------------------------ rebuild records the scope count
-- capture_all_ratio and full_refresh_ratio compare with the stage's scope count: a stage
-- created over an empty table and rebuilt after loading must know its 200 scopes.
CREATE TABLE loads (id bigserial PRIMARY KEY, patient_id int NOT NULL, v int NOT NULL);
BEGIN;
SELECT incview.create_stage('load_sum', 'SELECT patient_id, sum(v) AS v FROM loads GROUP BY patient_id',
                            ARRAY['patient_id'], ARRAY['patient_id']);
SELECT pg_temp.manual('load_sum');
COMMIT;
INSERT INTO loads (patient_id, v) SELECT 1 + i % 200, i FROM generate_series(1, 400) i;
SELECT lives_ok($$SELECT incview.rebuild('load_sum')$$, 'rebuild after loading');
SELECT is((SELECT count(*) FROM load_sum), 200::bigint, 'load_sum has 200 scopes');
UPDATE loads SET v = v + 1;
SELECT is((SELECT row(pg_temp.queue_rows('load_sum'), all_dirty)::text FROM incview.stages WHERE name = 'load_sum'), '(1,t)',
          'after rebuild, updating all 200 scopes queues one marker (rebuild recorded the scope count)');
SELECT lives_ok($$SELECT incview.refresh('load_sum')$$, 'refresh');
SELECT is(pg_temp.verified('load_sum'), '(0,0)', 'load_sum equals its query');

-- ------------------------------------------------------------------ a mapping of the wrong type
-- A mapping returning text for a bigint scope either is refused by map_source or must
-- not wedge the stage: a good key in the same batch as a bad one still gets refreshed.
CREATE TABLE people (id bigint PRIMARY KEY, name text NOT NULL);
CREATE TABLE person_events (id bigserial PRIMARY KEY, person_id bigint NOT NULL, v int NOT NULL);
INSERT INTO people SELECT g, 'P' || g FROM generate_series(1, 40) g;
INSERT INTO person_events (person_id, v) SELECT g, g FROM generate_series(1, 40) g;
BEGIN;
SELECT incview.create_stage('person_sum', $$
  SELECT e.person_id, p.name, sum(e.v) AS v FROM person_events e JOIN people p ON p.id = e.person_id
  GROUP BY e.person_id, p.name
$$, ARRAY['person_id'], ARRAY['person_id'], engine => 'diff');
SELECT pg_temp.manual('person_sum');
COMMIT;
CREATE TEMP TABLE wrong_mapping (outcome text);
SET client_min_messages = error;
DO $$
BEGIN
  BEGIN
    PERFORM incview.map_source('person_sum', 'people', 'SELECT changed.name');
  EXCEPTION WHEN others THEN
    INSERT INTO wrong_mapping VALUES ('map_source refused it');
    RETURN;
  END;
  BEGIN
    UPDATE people SET name = 'Ann' WHERE id = 1;
  EXCEPTION WHEN others THEN
    INSERT INTO wrong_mapping VALUES ('the write was refused');
  END;
  INSERT INTO person_events (person_id, v) VALUES (8, 1000);
  PERFORM incview.refresh('person_sum');
  INSERT INTO wrong_mapping
  SELECT CASE WHEN v = 1008 THEN 'scope 8 refreshed' ELSE 'scope 8 stuck: ' || v END FROM person_sum WHERE person_id = 8;
END
$$;
SET client_min_messages = warning;
SELECT ok((SELECT outcome FROM wrong_mapping) IN ('map_source refused it', 'scope 8 refreshed'),
          'a wrong-typed mapping is refused or does not block other keys: ' || (SELECT outcome FROM wrong_mapping));

-- The queue is vacuumed and analyzed after a fixed number of changes, whatever its size.
SELECT ok((SELECT reloptions @> ARRAY['autovacuum_vacuum_scale_factor=0', 'autovacuum_analyze_scale_factor=0']
           FROM pg_class WHERE oid = 'incview.dirty_scope'::regclass),
  'incview.dirty_scope: autovacuum by a fixed number of changes, not a share of the table');

SELECT * FROM finish();
