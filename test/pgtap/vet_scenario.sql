-- End-to-end test of the demo scenario (the veterinary-clinic scenario, seed 000, examples/vet): register the
-- patient_product_due stage, change one patient, refresh exactly that scope.
-- Runs in one transaction and rolls back. Run: pg_prove -d <db with pgtap> test/pgtap/vet_scenario.sql
BEGIN;
CREATE EXTENSION IF NOT EXISTS pg_incview;
SELECT plan(27);
SET LOCAL client_min_messages = warning;

-- ------------------------------------------------------------- schema (= examples/vet/schema.sql)
CREATE TABLE locations (id bigint PRIMARY KEY, name text NOT NULL);
CREATE TABLE patients (id bigint PRIMARY KEY, location_id bigint NOT NULL REFERENCES locations, name text NOT NULL);
CREATE TABLE products (id bigint PRIMARY KEY, name text NOT NULL, reminder_interval interval);
CREATE TABLE medications (id bigserial PRIMARY KEY, patient_id bigint NOT NULL, product_id bigint NOT NULL, given_at timestamptz NOT NULL);
CREATE TABLE immunizations (id bigserial PRIMARY KEY, patient_id bigint NOT NULL, product_id bigint NOT NULL, given_at timestamptz NOT NULL);
CREATE TABLE order_items (id bigserial PRIMARY KEY, patient_id bigint NOT NULL, product_id bigint NOT NULL, ordered_at timestamptz NOT NULL);
CREATE INDEX ON medications (patient_id);
CREATE INDEX ON immunizations (patient_id);
CREATE INDEX ON order_items (patient_id);

-- ------------------------------------------------------------- data: 50 patients, deterministic
-- Patients 10, 20, ... have no events. Product 20 (a vaccine) is never used by the
-- generator: the test gives it to patient 7 later. Products with id % 5 = 0 have no
-- reminder interval (next_due_at NULL).
INSERT INTO locations SELECT l, 'Clinic ' || l FROM generate_series(1, 5) l;
INSERT INTO patients SELECT p, 1 + p % 5, 'Pet ' || p FROM generate_series(1, 50) p;
INSERT INTO products
SELECT pr, CASE WHEN pr = 20 THEN 'Rabies vaccine' ELSE 'Product ' || pr END,
       CASE WHEN pr % 5 = 0 AND pr <> 20 THEN NULL ELSE (30 * pr) * interval '1 day' END
FROM generate_series(1, 20) pr;
INSERT INTO medications (patient_id, product_id, given_at)
SELECT p, 1 + (hashint8(i * 4 + 1)::bigint + 2147483648) % 19,
       timestamptz '2020-01-01 00:00+00' + ((hashint8(i * 4 + 2)::bigint + 2147483648) % 157766400) * interval '1 second'
FROM (SELECT i, 1 + (hashint8(i * 4)::bigint + 2147483648) % 50 AS p FROM generate_series(1, 500) i) g
WHERE p % 10 <> 0 ORDER BY i;
INSERT INTO immunizations (patient_id, product_id, given_at)
SELECT p, 1 + (hashint8(i * 4 + 1)::bigint + 2147483648) % 19,
       timestamptz '2020-01-01 00:00+00' + ((hashint8(i * 4 + 2)::bigint + 2147483648) % 157766400) * interval '1 second'
FROM (SELECT i, 1 + (hashint8(i * 4)::bigint + 2147483648) % 50 AS p FROM generate_series(100001, 100250) i) g
WHERE p % 10 <> 0 ORDER BY i;
INSERT INTO order_items (patient_id, product_id, ordered_at)
SELECT p, 1 + (hashint8(i * 4 + 1)::bigint + 2147483648) % 19,
       timestamptz '2020-01-01 00:00+00' + ((hashint8(i * 4 + 2)::bigint + 2147483648) % 157766400) * interval '1 second'
FROM (SELECT i, 1 + (hashint8(i * 4)::bigint + 2147483648) % 50 AS p FROM generate_series(200001, 200500) i) g
WHERE p % 10 <> 0 ORDER BY i;
-- patient 7 surely has medications (one of them will be moved)
INSERT INTO medications (patient_id, product_id, given_at) VALUES
  (7, 3, '2019-06-01 08:00+00'), (7, 4, '2021-03-01 08:00+00');

-- The stage query once more, as a plain view: what the stage table must contain.
CREATE TEMP VIEW expected_due AS
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
    ORDER BY e.patient_id, e.product_id, e.happened_at DESC, e.kind;

-- ------------------------------------------------------------- register (= examples/vet/stage.sql)
SELECT lives_ok($sql$
  SELECT incview.create_stage(
    name   => 'patient_product_due',
    query  => $q$
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
    $q$,
    scope      => ARRAY['patient_id'],
    unique_key => ARRAY['patient_id','product_id'])
$sql$, 'create_stage registers patient_product_due');

SELECT has_table('public', 'patient_product_due', 'target table public.patient_product_due exists');
SELECT has_column('public', 'patient_product_due', 'patient_id',   'target has patient_id');
SELECT has_column('public', 'patient_product_due', 'product_id',   'target has product_id');
SELECT has_column('public', 'patient_product_due', 'product_name', 'target has product_name');
SELECT has_column('public', 'patient_product_due', 'last_at',      'target has last_at');
SELECT has_column('public', 'patient_product_due', 'last_kind',    'target has last_kind');
SELECT has_column('public', 'patient_product_due', 'next_due_at',  'target has next_due_at');
SELECT ok(EXISTS (SELECT 1 FROM incview.stages WHERE name = 'patient_product_due'),
          'incview.stages lists the stage');

SELECT is((SELECT count(*) FROM patient_product_due), (SELECT count(*) FROM expected_due),
          'row count equals the query''s');
SELECT ok((SELECT count(*) FROM patient_product_due) > 100, 'the stage is not trivially small');
SELECT bag_eq(
  'SELECT patient_id, product_id, product_name, last_at, last_kind, next_due_at FROM patient_product_due',
  'SELECT patient_id, product_id, product_name, last_at, last_kind, next_due_at FROM expected_due',
  'populated rows equal the query''s rows');
SELECT results_eq($$SELECT missing, extra FROM incview.verify('patient_product_due')$$,
                  $$VALUES (0::bigint, 0::bigint)$$, 'verify after create: missing 0, extra 0');
SELECT is((SELECT count(*) FROM patient_product_due WHERE patient_id % 10 = 0), 0::bigint,
          'patients without events have no rows');

-- ------------------------------------------------------------- change patient 7
SELECT count(*) AS rows_before FROM patient_product_due WHERE patient_id = 7 \gset
SELECT count(*) AS log_before FROM incview.refresh_log WHERE stage = 'patient_product_due' \gset
SELECT id AS moved_med, product_id AS moved_product
FROM medications WHERE patient_id = 7 ORDER BY given_at, id LIMIT 1 \gset
CREATE TEMP TABLE others_before AS
  SELECT patient_id, product_id, product_name, last_at, last_kind, next_due_at
  FROM patient_product_due WHERE patient_id <> 7;

INSERT INTO immunizations (patient_id, product_id, given_at) VALUES (7, 20, '2025-01-15 10:00+00');
UPDATE medications SET given_at = '2025-02-01 09:00+00' WHERE id = :moved_med;

SELECT is((SELECT count(*) FROM patient_product_due WHERE patient_id = 7 AND product_id = 20), 0::bigint,
          'before refresh: the new product is not in the stage yet (stale)');
SELECT results_eq($$SELECT missing, extra FROM incview.verify('patient_product_due')$$,
                  $$VALUES (2::bigint, 1::bigint)$$,
                  'before refresh: verify sees 2 missing rows and 1 extra row');
SELECT bag_eq(
  'SELECT patient_id, product_id, product_name, last_at, last_kind, next_due_at FROM patient_product_due WHERE patient_id <> 7',
  'SELECT patient_id, product_id, product_name, last_at, last_kind, next_due_at FROM expected_due WHERE patient_id <> 7',
  'before refresh: every other patient still matches the query');
SELECT ok((SELECT dirty_scopes FROM incview.stages WHERE name = 'patient_product_due') >= 1,
          'capture queued a dirty scope');

-- ------------------------------------------------------------- refresh exactly patient 7
SELECT is(incview.refresh_scopes('patient_product_due', '[7]'), 1::bigint,
          'refresh_scopes refreshes one scope');

SELECT results_eq(
  'SELECT last_kind, last_at, next_due_at FROM patient_product_due WHERE patient_id = 7 AND product_id = 20',
  $$VALUES ('immunization'::text, timestamptz '2025-01-15 10:00+00', timestamptz '2025-01-15 10:00+00' + interval '600 days')$$,
  'the new immunization appears with its next due date');
SELECT results_eq(
  'SELECT last_kind, last_at FROM patient_product_due WHERE patient_id = 7 AND product_id = ' || :moved_product,
  $$VALUES ('medication'::text, timestamptz '2025-02-01 09:00+00')$$,
  'the moved medication is now the latest event of its product');
SELECT is((SELECT count(*) FROM patient_product_due WHERE patient_id = 7), :rows_before + 1::bigint,
          'patient 7 has one row more');
SELECT bag_eq(
  'SELECT patient_id, product_id, product_name, last_at, last_kind, next_due_at FROM patient_product_due WHERE patient_id = 7',
  'SELECT patient_id, product_id, product_name, last_at, last_kind, next_due_at FROM expected_due WHERE patient_id = 7',
  'patient 7''s rows equal the query''s');
SELECT bag_eq(
  'SELECT patient_id, product_id, product_name, last_at, last_kind, next_due_at FROM patient_product_due WHERE patient_id <> 7',
  'SELECT * FROM others_before',
  'other patients'' rows are untouched');
SELECT results_eq($$SELECT missing, extra FROM incview.verify('patient_product_due')$$,
                  $$VALUES (0::bigint, 0::bigint)$$, 'verify after refresh: missing 0, extra 0');
SELECT ok((SELECT count(*) FROM incview.refresh_log WHERE stage = 'patient_product_due') > :log_before,
          'refresh_log got a row');
SELECT ok((SELECT dirty_scopes FROM incview.stages WHERE name = 'patient_product_due') = 0,
          'no dirty scope left after refreshing it');

SELECT * FROM finish();
ROLLBACK;
