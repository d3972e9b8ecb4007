-- Deterministic data for the veterinary model (examples/vet/schema.sql).
--   psql -v scale=1 -f data.sql     (scale defaults to 1; fractions like 0.1 work too)
-- scale 1   =   2,000 patients,  20 locations,   200 products, ~20k medications,
--               ~10k immunizations, ~20k order items
-- scale 100 = 200,000 patients, 2,000 locations, 2,000 products (capped), 2M medications,
--               1M immunizations, 2M order items
-- Pseudo-randomness is hashint8() of the row number and a per-column salt, so every run
-- with the same scale produces the same rows (and the same bigserial ids).
-- Every 20th patient (id % 20 = 0) has no events at all. Event times fall in
-- 2020-01-01 .. 2024-12-31 UTC; product popularity is skewed (low ids are common), so
-- many (patient, product) pairs repeat across the three event tables.

\if :{?scale}
\else
  \set scale 1
\endif

SET client_min_messages = warning;

-- rnd(salt, i, n): deterministic pseudo-random integer in [0, n)
CREATE FUNCTION pg_temp.rnd(salt int, i bigint, n bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT (hashint8(i * 16 + salt)::bigint + 2147483648) % n $$;

SELECT greatest(1, round(2000 * :scale))::bigint              AS n_patients,
       greatest(1, round(20 * :scale))::bigint                AS n_locations,
       least(2000, greatest(10, round(200 * :scale)))::bigint AS n_products,
       greatest(1, round(20000 * :scale))::bigint             AS n_medications,
       greatest(1, round(10000 * :scale))::bigint             AS n_immunizations,
       greatest(1, round(20000 * :scale))::bigint             AS n_order_items
\gset

INSERT INTO locations (id, name)
SELECT l, (ARRAY['Riverside','Oak Hill','Lakeview','Maple Grove','Sunnyvale','Cedar Park',
                 'Pine Ridge','Harbor','Brookside','Hillcrest'])[1 + pg_temp.rnd(1, l, 10)]
          || ' Animal Clinic #' || l
FROM generate_series(1, :n_locations) AS l;

INSERT INTO patients (id, location_id, name)
SELECT p, 1 + pg_temp.rnd(2, p, :n_locations),
       (ARRAY['Bella','Max','Luna','Charlie','Lucy','Cooper','Daisy','Milo','Bailey','Nala',
              'Rocky','Zoe','Oliver','Coco','Tucker','Willow'])[1 + pg_temp.rnd(3, p, 16)]
          || ' #' || p
FROM generate_series(1, :n_patients) AS p;

INSERT INTO products (id, name, reminder_interval)
SELECT pr,
       (ARRAY['Rabies vaccine','DHPP vaccine','Bordetella vaccine','Leptospirosis vaccine',
              'FVRCP vaccine','Heartworm preventive','Flea & tick chewable','Dewormer',
              'Dental cleaning','Senior bloodwork','Carprofen','Apoquel'])[1 + pg_temp.rnd(4, pr, 12)]
          || ' #' || pr,
       CASE WHEN pg_temp.rnd(6, pr, 10) = 0 THEN NULL            -- 10%: no reminder
            ELSE (30 * (1 + pg_temp.rnd(7, pr, 12))) * interval '1 day' END
FROM generate_series(1, :n_products) AS pr;

-- Event helpers, all inlined by the planner:
--   patient: uniform over patients, moved off the "no events" patients (id % 20 = 0);
--   product: skewed, 1 + floor(n * u^2);  time: uniform over five years.
INSERT INTO medications (patient_id, product_id, given_at)
SELECT CASE WHEN p % 20 = 0 THEN p - 1 ELSE p END,
       1 + floor(:n_products * power(pg_temp.rnd(12, i, 1000000) / 1e6, 2))::bigint,
       timestamptz '2020-01-01 00:00:00+00' + pg_temp.rnd(13, i, 157766400) * interval '1 second'
FROM (SELECT i, 1 + pg_temp.rnd(11, i, :n_patients) AS p
      FROM generate_series(1, :n_medications) AS i) g
ORDER BY i;

INSERT INTO immunizations (patient_id, product_id, given_at)
SELECT CASE WHEN p % 20 = 0 THEN p - 1 ELSE p END,
       1 + floor(:n_products * power(pg_temp.rnd(22, i, 1000000) / 1e6, 2))::bigint,
       timestamptz '2020-01-01 00:00:00+00' + pg_temp.rnd(23, i, 157766400) * interval '1 second'
FROM (SELECT i, 1 + pg_temp.rnd(21, i, :n_patients) AS p
      FROM generate_series(1, :n_immunizations) AS i) g
ORDER BY i;

INSERT INTO order_items (patient_id, product_id, ordered_at)
SELECT CASE WHEN p % 20 = 0 THEN p - 1 ELSE p END,
       1 + floor(:n_products * power(pg_temp.rnd(32, i, 1000000) / 1e6, 2))::bigint,
       timestamptz '2020-01-01 00:00:00+00' + pg_temp.rnd(33, i, 157766400) * interval '1 second'
FROM (SELECT i, 1 + pg_temp.rnd(31, i, :n_patients) AS p
      FROM generate_series(1, :n_order_items) AS i) g
ORDER BY i;

DROP FUNCTION pg_temp.rnd(int, bigint, bigint);
RESET client_min_messages;

ANALYZE locations, patients, products, medications, immunizations, order_items;
