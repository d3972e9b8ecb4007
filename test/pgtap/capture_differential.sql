-- Randomized differential test of capture + refresh: random writes to the sources of
-- five stages (veterinary model, a composite (org_id, cluster) scope, an unnest-mapped tag
-- scope), then refresh, then incview.verify must find the stage table equal to its query.
-- Every engine (replace, diff, full, auto) gets the same kind of workload: inserts,
-- updates that move rows between scopes and set scope columns to NULL, deletes, updates
-- touching most scopes (capture_all_ratio markers), and occasionally TRUNCATE.
-- Reproducible: each round seeds random() with setseed(). Odd rounds refresh in batches
-- of 5 keys, even rounds with the default batch size.
-- Runs in one transaction and rolls back (no background refresher can see the stages).
BEGIN;
CREATE EXTENSION IF NOT EXISTS pg_incview;
SET LOCAL client_min_messages = warning;

\set rounds 12
-- 4 engines x :rounds rounds x (5 stages + 1 queue check), 5 checks after create,
-- 5 staleness checks, 5 engine checks, 5 checks that the workload reached its paths
SELECT plan(4 * :rounds * 6 + 5 + 5 + 5 + 5);

-- ------------------------------------------------------------------ schema
CREATE TABLE locations (id bigint PRIMARY KEY, name text NOT NULL);
CREATE TABLE patients (id bigint PRIMARY KEY, location_id bigint, name text NOT NULL);
CREATE TABLE products (id bigint PRIMARY KEY, name text NOT NULL, reminder_interval interval);
CREATE TABLE medications (id bigserial PRIMARY KEY, patient_id bigint, product_id bigint NOT NULL,
                          given_at timestamptz NOT NULL);
CREATE TABLE immunizations (id bigserial PRIMARY KEY, patient_id bigint, product_id bigint NOT NULL,
                            given_at timestamptz NOT NULL);
CREATE TABLE order_items (id bigserial PRIMARY KEY, patient_id bigint, product_id bigint NOT NULL,
                          ordered_at timestamptz NOT NULL);
CREATE TABLE orders (id bigserial PRIMARY KEY, patient_id bigint, placed_at timestamptz NOT NULL);
CREATE TABLE order_lines (id bigserial PRIMARY KEY, order_id bigint NOT NULL, product_id bigint,
                          qty int NOT NULL, price numeric(10,2) NOT NULL);
CREATE INDEX ON medications (patient_id);
CREATE INDEX ON medications (product_id);
CREATE INDEX ON immunizations (patient_id);
CREATE INDEX ON immunizations (product_id);
CREATE INDEX ON order_items (patient_id);
CREATE INDEX ON order_items (product_id);
CREATE INDEX ON orders (patient_id);
CREATE INDEX ON order_lines (order_id);
-- seed 004 (notification service): reports per (org_id, cluster); cluster may be NULL
CREATE TABLE reports (id bigserial PRIMARY KEY, org_id int NOT NULL, cluster text,
                      notified_at timestamptz NOT NULL, payload jsonb);
CREATE INDEX ON reports (org_id, cluster);
-- seed 003 (pixels and URL tags): pixels with tags
CREATE TABLE pixels (id bigserial PRIMARY KEY, tags text[], hits int NOT NULL);

-- deterministic pseudo-random integer in [0, n)
CREATE FUNCTION pg_temp.h(salt int, i bigint, n bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT (hashint8(i * 16 + salt)::bigint + 2147483648) % n $$;

INSERT INTO locations SELECT l, 'Clinic ' || l FROM generate_series(1, 10) l;
INSERT INTO patients
SELECT p, CASE WHEN p % 37 = 0 THEN NULL ELSE 1 + pg_temp.h(1, p, 10) END, 'Pet ' || p
FROM generate_series(1, 300) p;
INSERT INTO products
SELECT pr, 'Product ' || pr, CASE WHEN pr % 7 = 0 THEN NULL ELSE (30 * pr) * interval '1 day' END
FROM generate_series(1, 30) pr;
INSERT INTO medications (patient_id, product_id, given_at)
SELECT CASE WHEN i % 97 = 0 THEN NULL ELSE 1 + pg_temp.h(2, i, 300) END, 1 + pg_temp.h(3, i, 30),
       timestamptz '2020-01-01 00:00+00' + pg_temp.h(4, i, 1500) * interval '1 day'
FROM generate_series(1, 1200) i;
INSERT INTO immunizations (patient_id, product_id, given_at)
SELECT 1 + pg_temp.h(5, i, 300), 1 + pg_temp.h(6, i, 30),
       timestamptz '2020-01-01 00:00+00' + pg_temp.h(7, i, 1500) * interval '1 day'
FROM generate_series(1, 600) i;
INSERT INTO order_items (patient_id, product_id, ordered_at)
SELECT 1 + pg_temp.h(8, i, 300), 1 + pg_temp.h(9, i, 30),
       timestamptz '2020-01-01 00:00+00' + pg_temp.h(10, i, 1500) * interval '1 day'
FROM generate_series(1, 900) i;
INSERT INTO orders (patient_id, placed_at)
SELECT 1 + pg_temp.h(11, i, 300), timestamptz '2021-01-01 00:00+00' + i * interval '1 hour'
FROM generate_series(1, 500) i;
INSERT INTO order_lines (order_id, product_id, qty, price)
SELECT 1 + pg_temp.h(12, i, 500), 1 + pg_temp.h(13, i, 30), 1 + pg_temp.h(14, i, 5), (1 + pg_temp.h(15, i, 9999)) / 100.0
FROM generate_series(1, 1200) i;
INSERT INTO reports (org_id, cluster, notified_at, payload)
SELECT 1 + pg_temp.h(16, i, 25),
       CASE WHEN i % 11 = 0 THEN NULL ELSE 'c' || pg_temp.h(17, i, 6) END,
       timestamptz '2022-01-01 00:00+00' + pg_temp.h(18, i, 100000) * interval '1 minute',
       jsonb_build_object('i', i)
FROM generate_series(1, 800) i;
INSERT INTO pixels (tags, hits)
SELECT ARRAY(SELECT 't' || pg_temp.h(19, i * 8 + k, 25) FROM generate_series(1, 1 + pg_temp.h(20, i, 4)) k),
       pg_temp.h(21, i, 100)
FROM generate_series(1, 300) i;

-- ------------------------------------------------------------------ stages
-- 1. latest event per (patient, product) and next due date; products mapped by lookup
SELECT incview.create_stage('due', $q$
    SELECT DISTINCT ON (e.patient_id, e.product_id)
           e.patient_id, e.product_id, p.name AS product_name,
           e.happened_at AS last_at, e.kind AS last_kind,
           e.happened_at + p.reminder_interval AS next_due_at
    FROM (SELECT patient_id, product_id, given_at AS happened_at, 'medication'::text AS kind FROM medications
          UNION ALL
          SELECT patient_id, product_id, given_at, 'immunization' FROM immunizations
          UNION ALL
          SELECT patient_id, product_id, ordered_at, 'order_item' FROM order_items) e
    JOIN products p ON p.id = e.product_id
    ORDER BY e.patient_id, e.product_id, e.happened_at DESC, e.kind
  $q$, ARRAY['patient_id'], ARRAY['patient_id', 'product_id']);
SELECT incview.map_source('due', 'products', $m$
    SELECT x.patient_id FROM medications x WHERE x.product_id = changed.id
    UNION SELECT x.patient_id FROM immunizations x WHERE x.product_id = changed.id
    UNION SELECT x.patient_id FROM order_items x WHERE x.product_id = changed.id
  $m$);

-- 2. order totals per patient; order_lines mapped through orders
SELECT incview.create_stage('order_totals', $q$
    SELECT o.patient_id, count(DISTINCT o.id) AS orders, sum(l.qty * l.price) AS total,
           max(o.placed_at) AS last_order
    FROM orders o JOIN order_lines l ON l.order_id = o.id
    GROUP BY o.patient_id
  $q$, ARRAY['patient_id'], ARRAY['patient_id']);
SELECT incview.map_source('order_totals', 'order_lines',
  'SELECT o.patient_id FROM orders o WHERE o.id = changed.order_id');

-- 3. census per location (NULL location: one scope); locations mapped by their id
SELECT incview.create_stage('census', $q$
    SELECT p.location_id, l.name AS location_name, count(*) AS patients, max(p.name) AS max_name
    FROM patients p LEFT JOIN locations l ON l.id = p.location_id
    GROUP BY p.location_id, l.name
  $q$, ARRAY['location_id'], ARRAY['location_id']);
SELECT incview.map_source('census', 'locations', 'SELECT changed.id');

-- 4. seed 004 (notification service): latest report per (org_id, cluster)
SELECT incview.create_stage('latest_report', $q$
    SELECT DISTINCT ON (org_id, cluster) org_id, cluster, id AS report_id, notified_at, payload
    FROM reports
    ORDER BY org_id, cluster, notified_at DESC, id DESC
  $q$, ARRAY['org_id', 'cluster'], ARRAY['org_id', 'cluster']);

-- 5. seed 003 (pixels and URL tags): pixels per tag, mapped by unnest
SELECT incview.create_stage('tag_stats', $q$
    SELECT t.tag, count(*) AS pixels, sum(p.hits) AS hits, min(p.id) AS first_pixel
    FROM pixels p CROSS JOIN LATERAL unnest(p.tags) AS t(tag)
    GROUP BY t.tag
  $q$, ARRAY['tag'], ARRAY['tag']);
SELECT incview.map_source('tag_stats', 'pixels', 'SELECT unnest(changed.tags)');

CREATE TEMP TABLE stage_names (name text PRIMARY KEY);
INSERT INTO stage_names VALUES ('due'), ('order_totals'), ('census'), ('latest_report'), ('tag_stats');

SELECT is((SELECT row(missing, extra)::text FROM incview.verify(name)), '(0,0)', 'after create: ' || name)
FROM stage_names ORDER BY name;

-- ------------------------------------------------------------------ random writes
-- One round: n random statements. Patient ids go a little past 300 and sometimes NULL;
-- clusters sometimes NULL; tags sometimes contain NULL.
CREATE FUNCTION pg_temp.mutate(seed int, n int) RETURNS void LANGUAGE plpgsql AS $f$
DECLARE
  k int;
  r double precision;
  pid bigint;
BEGIN
  PERFORM setseed(((seed::bigint * 7919) % 10007) / 10007.0 - 0.5);
  FOR k IN 1 .. n LOOP
    r := random();
    -- the last statement of every third round touches most scopes of one stage (more
    -- than capture_all_ratio: one marker); of another third, truncates a source
    IF k = n AND seed % 3 = 0 THEN
      r := 0.825 + 0.02 * ((seed / 3) % 4);         -- each of the four bulk statements in turn
    ELSIF k = n AND seed % 3 = 1 THEN
      r := 0.91;
    ELSIF r >= 0.82 THEN
      r := CASE WHEN random() < 0.3 THEN 0.95 ELSE random() * 0.82 END;
    END IF;
    pid := CASE WHEN random() < 0.07 THEN NULL ELSE 1 + floor(random() * 310)::bigint END;
    IF r < 0.07 THEN       -- insert events for one patient
      INSERT INTO medications (patient_id, product_id, given_at)
      SELECT pid, 1 + floor(random() * 32)::bigint,
             timestamptz '2020-01-01 00:00+00' + floor(random() * 1600) * interval '1 day'
      FROM generate_series(1, 1 + floor(random() * 3)::int);
    ELSIF r < 0.12 THEN    -- move some immunizations to another patient (or to NULL)
      UPDATE immunizations SET patient_id = pid
      WHERE id IN (SELECT id FROM immunizations ORDER BY random() LIMIT 1 + floor(random() * 3)::int);
    ELSIF r < 0.16 THEN    -- change event times
      UPDATE order_items SET ordered_at = ordered_at + (floor(random() * 400) - 200) * interval '1 day'
      WHERE id IN (SELECT id FROM order_items ORDER BY random() LIMIT 1 + floor(random() * 5)::int);
    ELSIF r < 0.20 THEN    -- delete a patient's medications
      DELETE FROM medications WHERE patient_id IS NOT DISTINCT FROM pid;
    ELSIF r < 0.23 THEN    -- move a medication to another product (maybe one that does not exist)
      UPDATE medications SET product_id = 1 + floor(random() * 32)::bigint
      WHERE id IN (SELECT id FROM medications ORDER BY random() LIMIT 2);
    ELSIF r < 0.26 THEN    -- products: reminder change, rename, delete/re-insert
      UPDATE products SET reminder_interval = CASE WHEN random() < 0.3 THEN NULL
                                                   ELSE floor(1 + random() * 900) * interval '1 day' END,
                          name = name || '*'
      WHERE id = 1 + floor(random() * 30)::bigint;
    ELSIF r < 0.28 THEN
      IF random() < 0.5 THEN
        DELETE FROM products WHERE id = 1 + floor(random() * 32)::bigint;
      ELSE
        INSERT INTO products
        SELECT g, 'Product ' || g, g * interval '10 days' FROM generate_series(1, 32) g
        ON CONFLICT (id) DO NOTHING;
      END IF;
    ELSIF r < 0.32 THEN    -- orders: move an order to another patient (or NULL)
      UPDATE orders SET patient_id = pid WHERE id = 1 + floor(random() * 520)::bigint;
    ELSIF r < 0.36 THEN    -- a new order with lines
      WITH o AS (INSERT INTO orders (patient_id, placed_at)
                 VALUES (pid, timestamptz '2023-01-01 00:00+00' + floor(random() * 1000) * interval '1 hour')
                 RETURNING id)
      INSERT INTO order_lines (order_id, product_id, qty, price)
      SELECT o.id, 1 + floor(random() * 30)::bigint, 1 + floor(random() * 4)::int, round((random() * 100)::numeric, 2)
      FROM o, generate_series(1, 1 + floor(random() * 3)::int);
    ELSIF r < 0.40 THEN    -- order lines: change quantity, move to another order
      UPDATE order_lines SET qty = qty + 1, order_id = CASE WHEN random() < 0.5 THEN order_id
                                                            ELSE 1 + floor(random() * 520)::bigint END
      WHERE id IN (SELECT id FROM order_lines ORDER BY random() LIMIT 1 + floor(random() * 3)::int);
    ELSIF r < 0.43 THEN    -- delete an order (its lines stay, orphaned) or some lines
      IF random() < 0.5 THEN
        DELETE FROM orders WHERE id = 1 + floor(random() * 520)::bigint;
      ELSE
        DELETE FROM order_lines WHERE id IN (SELECT id FROM order_lines ORDER BY random() LIMIT 3);
      END IF;
    ELSIF r < 0.48 THEN    -- patients move between locations (or to NULL), new patients
      UPDATE patients SET location_id = CASE WHEN random() < 0.1 THEN NULL ELSE 1 + floor(random() * 12)::bigint END
      WHERE id IN (SELECT id FROM patients ORDER BY random() LIMIT 1 + floor(random() * 4)::int);
    ELSIF r < 0.50 THEN
      INSERT INTO patients
      SELECT coalesce(max(id), 0) + 1, 1 + floor(random() * 12)::bigint, 'New ' || (random() * 1000)::int
      FROM patients;
      DELETE FROM patients WHERE id = 1 + floor(random() * 300)::bigint;
    ELSIF r < 0.52 THEN    -- locations: rename, add, delete
      IF random() < 0.6 THEN
        UPDATE locations SET name = name || '+' WHERE id = 1 + floor(random() * 12)::bigint;
      ELSIF random() < 0.5 THEN
        INSERT INTO locations VALUES (11 + floor(random() * 2)::bigint, 'Annex') ON CONFLICT (id) DO NOTHING;
      ELSE
        DELETE FROM locations WHERE id = 1 + floor(random() * 12)::bigint;
      END IF;
    ELSIF r < 0.60 THEN    -- reports: new report in a (maybe new) scope
      INSERT INTO reports (org_id, cluster, notified_at, payload)
      SELECT 1 + floor(random() * 27)::int,
             CASE WHEN random() < 0.15 THEN NULL ELSE 'c' || floor(random() * 7)::int END,
             timestamptz '2022-01-01 00:00+00' + floor(random() * 110000) * interval '1 minute',
             jsonb_build_object('r', k, 'seed', seed)
      FROM generate_series(1, 1 + floor(random() * 3)::int);
    ELSIF r < 0.66 THEN    -- reports move between scopes: cluster (maybe to NULL) or org
      UPDATE reports SET cluster = CASE WHEN random() < 0.25 THEN NULL ELSE 'c' || floor(random() * 7)::int END,
                         org_id = CASE WHEN random() < 0.3 THEN 1 + floor(random() * 27)::int ELSE org_id END
      WHERE id IN (SELECT id FROM reports ORDER BY random() LIMIT 1 + floor(random() * 4)::int);
    ELSIF r < 0.69 THEN    -- reports: newer notification, payload change
      UPDATE reports SET notified_at = notified_at + floor(random() * 50000) * interval '1 minute',
                         payload = payload || jsonb_build_object('u', k)
      WHERE id IN (SELECT id FROM reports ORDER BY random() LIMIT 1 + floor(random() * 3)::int);
    ELSIF r < 0.72 THEN
      DELETE FROM reports WHERE id IN (SELECT id FROM reports ORDER BY random() LIMIT 1 + floor(random() * 4)::int);
    ELSIF r < 0.77 THEN    -- pixels: retag (moves between tag scopes, sometimes a NULL tag)
      UPDATE pixels SET tags = ARRAY(SELECT CASE WHEN random() < 0.05 THEN NULL ELSE 't' || floor(random() * 27)::int END
                                     FROM generate_series(1, floor(random() * 4)::int)),
                        hits = hits + 1
      WHERE id IN (SELECT id FROM pixels ORDER BY random() LIMIT 1 + floor(random() * 3)::int);
    ELSIF r < 0.80 THEN
      INSERT INTO pixels (tags, hits)
      SELECT ARRAY['t' || floor(random() * 27)::int, 't' || floor(random() * 27)::int], floor(random() * 100)::int
      FROM generate_series(1, 1 + floor(random() * 2)::int);
    ELSIF r < 0.82 THEN
      DELETE FROM pixels WHERE id IN (SELECT id FROM pixels ORDER BY random() LIMIT 2);
    ELSIF r < 0.84 THEN    -- bulk: most scopes at once (capture_all_ratio marker for big stages)
      UPDATE medications SET given_at = given_at + interval '1 hour' WHERE random() < 0.8;
    ELSIF r < 0.86 THEN
      UPDATE reports SET payload = payload || '{"bulk": true}' WHERE random() < 0.9;
    ELSIF r < 0.88 THEN
      UPDATE orders SET placed_at = placed_at + interval '1 minute' WHERE random() < 0.9;
    ELSIF r < 0.90 THEN    -- bulk move: many patients' order items shift to the next patient
      UPDATE order_items SET patient_id = patient_id + 1 WHERE random() < 0.3;
    ELSIF r < 0.92 THEN    -- TRUNCATE a source (each in turn), then refill it a little
      CASE ((seed - 1) / 3) % 4
        WHEN 0 THEN TRUNCATE immunizations;
                    INSERT INTO immunizations (patient_id, product_id, given_at)
                    SELECT 1 + floor(random() * 300)::bigint, 1 + floor(random() * 30)::bigint,
                           timestamptz '2024-01-01 00:00+00' + g * interval '1 day'
                    FROM generate_series(1, 50) g;
        WHEN 1 THEN TRUNCATE pixels;
                    INSERT INTO pixels (tags, hits)
                    SELECT ARRAY['t' || floor(random() * 27)::int], g FROM generate_series(1, 40) g;
        WHEN 2 THEN TRUNCATE order_lines;
                    INSERT INTO order_lines (order_id, product_id, qty, price)
                    SELECT 1 + floor(random() * 520)::bigint, 1, 1, 9.99 FROM generate_series(1, 300);
        ELSE        TRUNCATE reports;
                    INSERT INTO reports (org_id, cluster, notified_at)
                    SELECT 1 + floor(random() * 25)::int, 'c' || floor(random() * 6)::int,
                           timestamptz '2024-01-01 00:00+00' + g * interval '1 minute'
                    FROM generate_series(1, 300) g;
      END CASE;
    ELSE                   -- a no-op update (rows rewritten, nothing changes)
      UPDATE immunizations SET given_at = given_at
      WHERE id IN (SELECT id FROM immunizations ORDER BY random() LIMIT 3);
    END IF;
  END LOOP;
END
$f$;

-- Per round: how stale each stage was before refresh (proves the writes matter).
CREATE TEMP TABLE stale (engine text, round int, stage text, missing bigint, extra bigint,
                         dirty_scopes bigint, all_dirty boolean);

CREATE FUNCTION pg_temp.round(engine text, rnd int) RETURNS SETOF text LANGUAGE plpgsql AS $f$
DECLARE
  s text;
BEGIN
  PERFORM pg_temp.mutate(rnd + 1000 * (array_position(ARRAY['replace', 'diff', 'full', 'auto'], engine)), 20);
  -- odd rounds refresh in batches of 5 keys (keyset pagination over NULL and composite keys)
  PERFORM set_config('incview.batch_size', CASE WHEN rnd % 2 = 1 THEN '5' ELSE '1000' END, true);
  FOR s IN SELECT name FROM stage_names ORDER BY name LOOP
    INSERT INTO stale
    SELECT round.engine, rnd, s, v.missing, v.extra, st.dirty_scopes, st.all_dirty
    FROM incview.verify(s) v, incview.stages st WHERE st.name = s;
    PERFORM incview.refresh(s);
    RETURN NEXT is((SELECT row(missing, extra)::text FROM incview.verify(s)), '(0,0)',
                   format('round %s engine %s: %s equals its query after refresh', rnd, engine, s));
  END LOOP;
  RETURN NEXT is((SELECT count(*) FROM incview.queued_keys), 0::bigint,
                 format('round %s engine %s: the dirty queue is empty after refresh', rnd, engine));
END
$f$;

-- ------------------------------------------------------------------ the engines
SELECT incview.set_engine(name, 'replace') FROM stage_names;
SELECT max(id) AS log_replace FROM incview.refresh_log \gset
SELECT pg_temp.round('replace', r) FROM generate_series(1, :rounds) r;

SELECT incview.set_engine(name, 'diff') FROM stage_names;
SELECT max(id) AS log_diff FROM incview.refresh_log \gset
SELECT pg_temp.round('diff', r) FROM generate_series(1, :rounds) r;

SELECT incview.set_engine(name, 'full') FROM stage_names;
SELECT max(id) AS log_full FROM incview.refresh_log \gset
SELECT pg_temp.round('full', r) FROM generate_series(1, :rounds) r;

SELECT incview.set_engine(name, 'auto') FROM stage_names;
SELECT max(id) AS log_auto FROM incview.refresh_log \gset
SELECT pg_temp.round('auto', r) FROM generate_series(1, :rounds) r;
SELECT max(id) AS log_end FROM incview.refresh_log \gset

-- ------------------------------------------------------------------ the workload was real
SELECT cmp_ok((SELECT count(*) FROM stale WHERE stage = name AND (missing > 0 OR extra > 0)), '>=', :rounds::bigint,
              name || ' was stale before refresh in at least a quarter of the rounds')
FROM stage_names ORDER BY name;

-- the engine each stage was set to is the one that ran (or a full rebuild on a marker)
SELECT is((SELECT array_agg(DISTINCT l.engine ORDER BY l.engine) FROM incview.refresh_log l
           WHERE l.id > :log_replace AND l.id <= :log_diff),
          ARRAY['full', 'replace'], 'replace rounds ran replace batches, and full rebuilds on markers');
SELECT is((SELECT array_agg(DISTINCT l.engine ORDER BY l.engine) FROM incview.refresh_log l
           WHERE l.id > :log_diff AND l.id <= :log_full),
          ARRAY['diff'], 'diff rounds ran only the diff engine (markers rebuild by diffing everything)');
SELECT is((SELECT array_agg(DISTINCT l.engine ORDER BY l.engine) FROM incview.refresh_log l
           WHERE l.id > :log_full AND l.id <= :log_auto),
          ARRAY['full'], 'full rounds ran only full rebuilds');
SELECT is((SELECT array_agg(DISTINCT l.engine ORDER BY l.engine) FROM incview.refresh_log l
           WHERE l.id > :log_auto AND l.id <= :log_end),
          ARRAY['full', 'replace'], 'auto rounds ran replace batches (no stage reads these) and full rebuilds');
SELECT is((SELECT count(*) FROM incview.refresh_log l WHERE l.id > :log_replace AND l.error IS NOT NULL), 0::bigint,
          'no refresh logged an error');

-- the every-scope paths were reached: markers from TRUNCATE and from bulk statements
-- (census has 13 scopes and no truncated source: it never gets one)
SELECT is((SELECT array_agg(stage ORDER BY stage) FROM (
             SELECT stage FROM stale WHERE all_dirty GROUP BY stage HAVING count(DISTINCT engine) = 4) x),
          ARRAY['due', 'latest_report', 'order_totals', 'tag_stats'],
          'due, latest_report, order_totals and tag_stats had an every-scope marker under every engine');
SELECT ok((SELECT count(*) FROM stale WHERE NOT all_dirty AND dirty_scopes > 20) > 0,
          'some rounds refreshed more than 20 scopes by key');
SELECT ok((SELECT count(*) FROM incview.refresh_log l WHERE l.id > :log_replace AND l.engine IN ('replace', 'diff')
           AND l.scopes = 5) >= 20,
          'odd rounds refreshed in many batches of 5 keys');
SELECT ok((SELECT sum(l.scopes) FROM incview.refresh_log l WHERE l.id > :log_replace) > 1000,
          'more than a thousand scopes were refreshed in all');
SELECT ok((SELECT sum(l.rows_updated) FROM incview.refresh_log l WHERE l.id > :log_diff AND l.id <= :log_full
           AND l.engine = 'diff') > 0,
          'the diff engine updated rows in place');

SELECT * FROM finish();
ROLLBACK;
