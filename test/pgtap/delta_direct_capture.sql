-- Direct capture (core/delta_direct.hpp, issue 13's writer-cost target): a one-row INSERT or
-- DELETE on a single-table delta stage without WHERE, whose group keys and aggregate
-- arguments are plain columns, queues the row built in C instead of running the capture
-- statement. It must queue exactly what the statement queues. Differential: two identical
-- tables with the same stages; the same writes go to dd_a with incview.delta_capture_direct
-- on and to dd_b with it off (the statement). The queues must hold the same rows (value by
-- value, numeric scales and float bits included), and after a refresh both stages equal their
-- query. What could break: a partial's type or sign (int4 sum as int8, int8 sum as numeric,
-- avg over real as double precision), NULL semantics (count(x), sum of NULL), the numeric
-- scale kept for a delete, min/max columns, a rolled-back savepoint, a DELETE.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pg_incview;
SET LOCAL client_min_messages = error;  -- several explicit delta stages on one source WARN
SET LOCAL incview.default_policy = manual;
SELECT plan(40);

CREATE TABLE dd_a (id serial PRIMARY KEY, k text, g int, i2 smallint, i4 int, i8 bigint, nu numeric,
                   nf numeric(10,2), r real, d float8);
INSERT INTO dd_a (k, g, i2, i4, i8, nu, nf, r, d)
  SELECT 'k' || (s % 3), s % 4, s, s * 10, s * 1000000000000, s / 7.0, s / 3.0, s / 9.0, s / 11.0
  FROM generate_series(1, 40) s;
CREATE TABLE dd_b (LIKE dd_a INCLUDING ALL);
INSERT INTO dd_b SELECT * FROM dd_a;

-- The shapes, as templates over the table; the last two are not direct (WHERE, an expression).
CREATE TEMP TABLE dd_shape (name text PRIMARY KEY, q text, direct boolean);
INSERT INTO dd_shape VALUES
  ('ints', 'SELECT k, count(*) AS n, count(i4) AS c, sum(i4) AS s4, sum(i2) AS s2, sum(i8) AS s8, avg(i4) AS a4,
            avg(i8) AS a8 FROM %s GROUP BY k', true),
  ('nums', 'SELECT g, sum(nu) AS sn, avg(nu) AS an, sum(nf) AS snf, avg(nf) AS anf, sum(r) AS sr, avg(r) AS ar,
            sum(d) AS sd, avg(d) AS ad FROM %s GROUP BY g', true),
  ('ext', 'SELECT g, k, min(i4) AS lo, max(d) AS hi, max(k) AS mk, min(nu) AS mn, count(*) AS n FROM %s GROUP BY g, k', true),
  ('hav', 'SELECT k, count(*) AS n, sum(i4) AS s FROM %s GROUP BY k HAVING count(*) > 14', true),
  ('whr', 'SELECT k, count(*) AS n, sum(i4) AS s FROM %s WHERE i4 > 0 GROUP BY k', false),
  ('expr', 'SELECT lower(k) AS lk, count(*) AS n, sum(i2 + 1) AS s FROM %s GROUP BY lower(k)', false);
SELECT count(incview.create_stage('dd_' || s.name || '_' || t, format(s.q, 'dd_' || t), ARRAY[s.name_key],
                                  engine => 'delta'))
FROM (SELECT name, q, CASE name WHEN 'ints' THEN 'k' WHEN 'hav' THEN 'k' WHEN 'whr' THEN 'k' WHEN 'expr' THEN 'lk'
                                ELSE 'g' END AS name_key FROM dd_shape) s, unnest(ARRAY['a', 'b']) t;

CREATE FUNCTION pg_temp.queue_of(stage text) RETURNS text LANGUAGE sql AS $$
  SELECT d.queue::text FROM incview.delta_stage d JOIN incview.stage s ON s.id = d.stage_id WHERE s.name = stage $$;
CREATE FUNCTION pg_temp.queued(stage text) RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY EXECUTE format('SELECT q::text FROM %s q', pg_temp.queue_of(stage));
END $$;

SELECT is((SELECT array_agg(s.name ORDER BY s.name) FROM dd_shape s JOIN incview.stage st ON st.name = 'dd_' || s.name || '_a'
           JOIN incview.delta_capture c ON c.stage_id = st.id WHERE (c.direct IS NOT NULL) <> s.direct),
          NULL, 'the plain single-table shapes have direct parts, WHERE and expressions do not');

-- The same writes on either table: one-row statements (direct where the stage allows it), an
-- UPDATE moving a row between groups and a multi-row INSERT (statements), a one-row INSERT
-- rolled back with its savepoint.
CREATE FUNCTION pg_temp.writes(t text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('INSERT INTO %I (k, g, i2, i4, i8, nu, nf, r, d) VALUES (''k1'', 1, 7, 70, 7, 1.5, 1.25, 0.1, 0.1)', t);
  EXECUTE format('INSERT INTO %I (k, g, i2, i4, i8, nu, nf, r, d) VALUES (''k1'', 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL)', t);
  EXECUTE format('INSERT INTO %I (k, g) VALUES (NULL, NULL)', t);
  EXECUTE format('INSERT INTO %I (k, g, i2, i4, i8, nu, r, d) VALUES (''knew'', 9, 32767, 2147483647,
                  9223372036854775807, 12.3456789, 3.4e30, 1e100)', t);
  EXECUTE format('INSERT INTO %I (k, g, i2, i4, i8, nu, r, d) VALUES (''knew'', 9, -32768, -2147483648,
                  -9223372036854775808, -0.000001, -1e-30, -1e-300)', t);
  EXECUTE format('INSERT INTO %I (k, g, nu, d) VALUES (''k2'', 5, 1e16, 1e16)', t);
  EXECUTE format('DELETE FROM %I WHERE id = 5', t);                     -- nu 0.714..., a long scale
  EXECUTE format('DELETE FROM %I WHERE id = 6', t);
  EXECUTE format('DELETE FROM %I WHERE k IS NULL', t);                  -- the NULL-key row
  EXECUTE format('UPDATE %I SET k = ''k0'', g = 0, i4 = i4 + 1 WHERE id = 7', t);   -- moves between groups
  EXECUTE format('INSERT INTO %I (k, g, i4, nu) VALUES (''k0'', 0, 1, 2.5), (''k1'', 1, 2, NULL)', t);
  BEGIN
    EXECUTE format('INSERT INTO %I (k, g, i4, nu) VALUES (''gone'', 3, 99, 9.999)', t);
    RAISE EXCEPTION 'roll back';
  EXCEPTION WHEN raise_exception THEN NULL;
  END;
  EXECUTE format('DELETE FROM %I WHERE id = 1', t);
END $$;
SET LOCAL incview.delta_capture_direct = on;
SELECT pg_temp.writes('dd_a');
SET LOCAL incview.delta_capture_direct = off;
SELECT pg_temp.writes('dd_b');
SET LOCAL incview.delta_capture_direct = on;

SELECT is((SELECT count(*) FROM (SELECT pg_temp.queued('dd_' || s.name || '_a') EXCEPT ALL
                                 SELECT pg_temp.queued('dd_' || s.name || '_b')) x) +
          (SELECT count(*) FROM (SELECT pg_temp.queued('dd_' || s.name || '_b') EXCEPT ALL
                                 SELECT pg_temp.queued('dd_' || s.name || '_a')) x), 0::bigint,
          s.name || ': the direct queue rows are the statement''s, value by value')
FROM dd_shape s ORDER BY s.name;
SELECT cmp_ok((SELECT count(*) FROM pg_temp.queued('dd_' || s.name || '_a')), '>=', 6::bigint,
              s.name || ': the writes queued rows')
FROM dd_shape s ORDER BY s.name;

SELECT incview.refresh('dd_' || s.name || '_' || t) IS NOT NULL FROM dd_shape s, unnest(ARRAY['a', 'b']) t;
CREATE FUNCTION pg_temp.rows_of(tab text) RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY EXECUTE format('SELECT t::text FROM %I t', tab);
END $$;
SELECT is((SELECT count(*) FROM (SELECT pg_temp.rows_of('dd_' || s.name || '_a') EXCEPT ALL
                                 SELECT pg_temp.rows_of('dd_' || s.name || '_b')) x) +
          (SELECT count(*) FROM (SELECT pg_temp.rows_of('dd_' || s.name || '_b') EXCEPT ALL
                                 SELECT pg_temp.rows_of('dd_' || s.name || '_a')) x), 0::bigint,
          s.name || ': the folded tables are equal, hidden columns included')
FROM dd_shape s ORDER BY s.name;
SELECT is((SELECT row(v.missing, v.extra)::text FROM incview.verify('dd_' || s.name || '_' || t) v), '(0,0)',
          'dd_' || s.name || '_' || t || ': equal to its query after the fold')
FROM dd_shape s, unnest(ARRAY['a', 'b']) t WHERE s.name <> 'nums' ORDER BY s.name, t;
-- float sums: equal to the query within a relative 1e-9 (docs/engines.md, "Exactness"), numeric exactly
CREATE FUNCTION pg_temp.nums_diff(t text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
  EXECUTE format($q$
    SELECT count(*) FROM (SELECT g, sum(nu) AS sn, avg(nu) AS an, sum(nf) AS snf, avg(nf) AS anf, sum(r) AS sr,
                                 avg(r) AS ar, sum(d) AS sd, avg(d) AS ad FROM %I GROUP BY g) q
    FULL JOIN %I s ON coalesce(s.g, -1) = coalesce(q.g, -1)
    WHERE q.g IS DISTINCT FROM s.g OR q.sn::text IS DISTINCT FROM s.sn::text OR q.an::text IS DISTINCT FROM s.an::text
       OR q.snf::text IS DISTINCT FROM s.snf::text OR q.anf::text IS DISTINCT FROM s.anf::text
       OR abs(q.sr::float8 - s.sr::float8) > 1e-6 * greatest(abs(q.sr::float8), 1) OR abs(q.ar - s.ar) > 1e-9 * greatest(abs(q.ar), 1)
       OR abs(q.sd - s.sd) > 1e-9 * greatest(abs(q.sd), 1) OR abs(q.ad - s.ad) > 1e-9 * greatest(abs(q.ad), 1)
       OR (q.sd IS NULL) <> (s.sd IS NULL) OR (q.sr IS NULL) <> (s.sr IS NULL)$q$, 'dd_' || t, 'dd_nums_' || t)
  INTO n;
  RETURN n;
END $$;
SELECT is(pg_temp.nums_diff(t), 0::bigint, 'dd_nums_' || t || ': equal to its query (floats within 1e-9)')
FROM unnest(ARRAY['a', 'b']) t;

-- Rows still to come: the rolled-back one is in neither queue nor table.
SELECT is((SELECT count(*) FROM dd_ints_a WHERE k = 'gone'), 0::bigint, 'the rolled-back insert left no group');

-- The direct path ran (and the statement did not): the stage owner may not insert into its
-- queue here, which only the statement (run as the owner) needs.
CREATE ROLE dd_owner;
GRANT SELECT, TRIGGER ON dd_a TO dd_owner;
CREATE SCHEMA dd_owner AUTHORIZATION dd_owner;
SET LOCAL ROLE dd_owner;
SELECT incview.create_stage('dd_probe', 'SELECT k, count(*) AS n, sum(i4) AS s FROM public.dd_a GROUP BY k',
                            ARRAY['k'], engine => 'delta', target => 'dd_owner.probe');
RESET ROLE;
DO $$ BEGIN EXECUTE format('REVOKE INSERT ON %s FROM dd_owner', pg_temp.queue_of('dd_probe')); END $$;
SELECT lives_ok($$INSERT INTO dd_a (k, i4) VALUES ('probe', 1)$$, 'direct: a one-row insert queues without the owner''s INSERT right');
SELECT is((SELECT count(*) FROM pg_temp.queued('dd_probe')), 1::bigint, 'direct: one row queued');
SET LOCAL incview.delta_capture_direct = off;
SELECT throws_ok($$INSERT INTO dd_a (k, i4) VALUES ('probe', 2)$$, '42501', NULL,
                 'the statement (setting off) runs as the owner: refused here');
SET LOCAL incview.delta_capture_direct = on;
SELECT throws_ok($$INSERT INTO dd_a (k, i4) VALUES ('probe', 3), ('probe', 4)$$, '42501', NULL,
                 'two rows take the statement');
SELECT throws_ok($$UPDATE dd_a SET i4 = 5 WHERE k = 'probe'$$, '42501', NULL, 'an UPDATE takes the statement');
SELECT lives_ok($$DELETE FROM dd_a WHERE k = 'probe'$$, 'direct: a one-row delete');
SELECT is((SELECT count(*) FROM pg_temp.queued('dd_probe')), 2::bigint, 'direct: its row queued');
SELECT is((SELECT count(*) FROM pg_temp.queued('dd_probe') q WHERE q LIKE '(probe,-1,%'), 1::bigint,
          'the delete''s row counts -1');

SELECT * FROM finish();
ROLLBACK;
