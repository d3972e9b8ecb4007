-- Helper objects for bench/run.sh, created in the benchmark database after
-- examples/vet/schema.sql + data.sql and before the stage. Everything lives in schema
-- "bench"; the vet tables and the stage are never changed by this file.
\set ON_ERROR_STOP on
SET client_min_messages = warning;

CREATE SCHEMA bench;

-- Sizes of the freshly loaded data. Benchmark rows get medication ids > base_med_id, so
-- "DELETE FROM medications WHERE id > base_med_id" always returns to the loaded data.
CREATE TABLE bench.meta AS
SELECT (SELECT max(id) FROM medications)    AS base_med_id,
       (SELECT count(*) FROM medications)   AS base_meds,
       (SELECT count(*) FROM patients)      AS n_patients,
       (SELECT count(*) FROM products)      AS n_products,
       -- statements that dirty more than incview.capture_all_ratio (0.5) of a stage's scopes
       -- queue one "every scope" marker; changes are applied in chunks of at most 20% of
       -- the patients (and at most 10,000) so that the dirty keys themselves are queued.
       least(10000, greatest(1, (SELECT count(*) FROM patients) / 5))::int AS chunk;

-- A fixed pseudo-random order of all patients. "k patients" are always ranks 1..k, so the
-- sets are nested: the patients of a smaller k are part of every larger one.
CREATE TABLE bench.pick AS
SELECT (row_number() OVER (ORDER BY hashint8(id * 31 + 7), id))::int AS rank, id AS patient_id
FROM patients;
ALTER TABLE bench.pick ADD PRIMARY KEY (rank);
CREATE UNIQUE INDEX ON bench.pick (patient_id);
ANALYZE bench.pick;

-- Raw measurements (exported to bench/out/raw.csv at the end).
CREATE TABLE bench.raw (
  id         serial PRIMARY KEY,
  experiment text NOT NULL,           -- build | refresh | wal | pgbench | bulk | check | profile
  method     text NOT NULL,
  variant    text NOT NULL DEFAULT '',
  k          bigint,                  -- dirty patients
  share      float8,                  -- k / patients
  rep        int,
  ms         float8,                  -- wall time of the timed statements, commit included
  wal_bytes  bigint,                  -- pg_current_wal_insert_lsn() difference
  tps        float8,
  rows_del   bigint,                  -- from incview.refresh_log (pg_incview methods)
  rows_ins   bigint,
  rows_upd   bigint,
  engines    text,                    -- refresh_log.engine values of the run
  note       text,
  at         timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE VIEW bench.med AS
SELECT experiment, method, variant, k, share,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)        AS ms,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY wal_bytes) AS wal_bytes,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY tps)       AS tps,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY rows_del + rows_ins + rows_upd) AS rows_written,
       min(ms) AS min_ms, max(ms) AS max_ms, count(*) AS n,
       string_agg(DISTINCT engines, ',') AS engines
FROM bench.raw
GROUP BY experiment, method, variant, k, share;

-- The product a benchmark medication of patient p names (fixed per patient).
CREATE FUNCTION bench.product_for(p bigint) RETURNS bigint
LANGUAGE sql STABLE AS $$
  SELECT 1 + (hashint8(p * 13 + 5)::bigint + 2147483648) % (SELECT n_products FROM bench.meta)
$$;

-- Patients of ranks 1..k as an array literal, for the hand-written floor.
CREATE FUNCTION bench.ids(k bigint) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT '{' || coalesce(string_agg(patient_id::text, ',' ORDER BY patient_id), '') || '}'
  FROM bench.pick WHERE rank <= k
$$;

-- The change of round r to patients of ranks 1..k: each gets one new medication, the
-- latest of all its events (2025-01-01 + r minutes), and loses the benchmark medication of
-- the previous round. So every round changes exactly one (patient, product) row per
-- patient, and medications keeps its size. Chunked statements: see bench.meta.chunk.
CREATE FUNCTION bench.apply_change(k bigint, r int) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  m  bench.meta;
  lo bigint := 1;
  hi bigint;
BEGIN
  SELECT * INTO m FROM bench.meta;
  WHILE lo <= k LOOP
    hi := least(k, lo + m.chunk - 1);
    DELETE FROM medications
    WHERE id > m.base_med_id
      AND patient_id IN (SELECT patient_id FROM bench.pick WHERE rank BETWEEN lo AND hi);
    INSERT INTO medications (patient_id, product_id, given_at)
    SELECT patient_id, bench.product_for(patient_id),
           timestamptz '2025-01-01 00:00:00+00' + r * interval '1 minute'
    FROM bench.pick WHERE rank BETWEEN lo AND hi
    ORDER BY patient_id;
    lo := hi + 1;
  END LOOP;
END
$$;

-- Rows of `tbl` for patients of ranks 1..k that differ from the stage query (multiset
-- difference both ways): 0 when that part of the table is correct.
CREATE FUNCTION bench.check_scoped(tbl regclass, k bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  q text;
  n bigint;
BEGIN
  SELECT regexp_replace(query, ';\s*$', '') INTO q FROM incview.stage WHERE name = 'patient_product_due';
  EXECUTE format($f$
    WITH t AS MATERIALIZED (
           SELECT ROW(x.*)::text AS r FROM %s x
           WHERE x.patient_id = ANY (ARRAY(SELECT patient_id FROM bench.pick WHERE rank <= $1))),
         q AS MATERIALIZED (
           SELECT ROW(s.*)::text AS r FROM (%s) s
           WHERE s.patient_id = ANY (ARRAY(SELECT patient_id FROM bench.pick WHERE rank <= $1)))
    SELECT (SELECT count(*) FROM (SELECT r FROM t EXCEPT ALL SELECT r FROM q) a)
         + (SELECT count(*) FROM (SELECT r FROM q EXCEPT ALL SELECT r FROM t) b)$f$, tbl, q)
  INTO n USING k;
  RETURN n;
END
$$;

-- WAL experiment: n dirty patients (with loaded medications); the first ones ("real") get
-- a real change (a new latest medication) so that about 1% of the refreshed rows change,
-- the others only a no-op UPDATE of one of their medications (dirty, nothing to change).
CREATE TABLE bench.wal_set (ord int PRIMARY KEY, patient_id bigint NOT NULL, touch_id bigint NOT NULL,
                            real boolean NOT NULL DEFAULT false);

CREATE FUNCTION bench.prepare_wal(n int, target regclass) RETURNS TABLE (patients int, rows_refreshed bigint, rows_changed int)
LANGUAGE plpgsql AS $$
DECLARE
  base bigint := (SELECT base_med_id FROM bench.meta);
  r bigint;
  c int;
BEGIN
  TRUNCATE bench.wal_set;
  INSERT INTO bench.wal_set (ord, patient_id, touch_id)
  SELECT row_number() OVER (ORDER BY p.rank), p.patient_id, t.touch_id
  FROM bench.pick p
  CROSS JOIN LATERAL (SELECT min(m.id) AS touch_id FROM medications m
                      WHERE m.patient_id = p.patient_id AND m.id <= base) t
  WHERE t.touch_id IS NOT NULL
  ORDER BY p.rank LIMIT n;
  EXECUTE format('SELECT count(*) FROM %s WHERE patient_id IN (SELECT patient_id FROM bench.wal_set)', target)
  INTO r;
  c := greatest(1, round(r / 100.0))::int;
  UPDATE bench.wal_set SET real = (ord <= c);
  ANALYZE bench.wal_set;
  RETURN QUERY SELECT (SELECT count(*)::int FROM bench.wal_set), r, c;
END
$$;

CREATE FUNCTION bench.apply_wal_change(r int) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  base bigint := (SELECT base_med_id FROM bench.meta);
BEGIN
  DELETE FROM medications
  WHERE id > base AND patient_id IN (SELECT patient_id FROM bench.wal_set WHERE real);
  INSERT INTO medications (patient_id, product_id, given_at)
  SELECT patient_id, bench.product_for(patient_id),
         timestamptz '2025-01-01 00:00:00+00' + r * interval '1 minute'
  FROM bench.wal_set WHERE real ORDER BY patient_id;
  UPDATE medications m SET given_at = m.given_at
  FROM bench.wal_set w WHERE NOT w.real AND m.id = w.touch_id;
END
$$;

-- Formatting for RESULTS.md.
CREATE FUNCTION bench.fmt_ms(x float8) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN x IS NULL THEN '–'
              WHEN x < 10 THEN to_char(x, 'FM990.00') || ' ms'
              WHEN x < 1000 THEN to_char(x, 'FM990.0') || ' ms'
              ELSE to_char(x / 1000, 'FM999990.0') || ' s' END
$$;

CREATE FUNCTION bench.fmt_x(x float8) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN x IS NULL THEN '–'
              WHEN x < 10 THEN to_char(x, 'FM990.00') || '×'
              WHEN x < 100 THEN to_char(x, 'FM990.0') || '×'
              ELSE to_char(round(x), 'FM999G999G990') || '×' END
$$;

CREATE FUNCTION bench.fmt_bytes(x float8) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN x IS NULL THEN '–' ELSE pg_size_pretty(x::bigint) END
$$;

CREATE FUNCTION bench.fmt_share(s float8) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN s >= 0.01 THEN to_char(s * 100, 'FM990') || '%'
              WHEN s >= 0.0001 THEN to_char(s * 100, 'FM990.099') || '%'
              ELSE to_char(s * 100, 'FM0.09999') || '%' END
$$;

-- One freshness probe: a medication dated in the future (so it becomes the latest event of
-- its (patient, product) row) is committed, then the stage is polled every millisecond
-- until that row shows it. Returns commit -> visible in the stage, in ms (NULL after 30 s).
CREATE PROCEDURE bench.lag_probe(p bigint, pr bigint, i int, INOUT lag_ms float8 DEFAULT NULL)
LANGUAGE plpgsql AS $$
DECLARE
  ts       timestamptz := timestamptz '2031-01-01 00:00:00+00' + i * interval '1 second';
  t0       timestamptz;
BEGIN
  INSERT INTO medications (patient_id, product_id, given_at) VALUES (p, pr, ts);
  COMMIT;
  t0 := clock_timestamp();
  WHILE NOT EXISTS (SELECT 1 FROM patient_product_due d
                    WHERE d.patient_id = p AND d.product_id = pr AND d.last_at = ts) LOOP
    IF clock_timestamp() > t0 + interval '30 s' THEN
      lag_ms := NULL;  -- not refreshed within 30 s: the caller records a timeout
      RETURN;
    END IF;
    PERFORM pg_sleep(0.001);
  END LOOP;
  lag_ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
END
$$;
