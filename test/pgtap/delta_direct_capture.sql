-- Direct capture (core/delta_direct.hpp, issue 13's writer-cost target): a one-row INSERT,
-- UPDATE or DELETE on a single-table delta stage without WHERE, whose group keys and aggregate
-- arguments are plain columns, queues the row built in C instead of running the capture
-- statement. It must queue exactly what the statement queues. Differential: two identical
-- tables with the same stages; the same writes go to dd_a with incview.delta_capture_direct
-- on and to dd_b with it off (the statement). The queues must hold the same rows (value by
-- value, numeric scales and float bits included), and after a refresh both stages equal their
-- query. What could break: a partial's type or sign (int4 sum as int8, int8 sum as numeric,
-- avg over real as double precision), NULL semantics (count(x), sum of NULL), the numeric
-- scale kept for a delete, min/max columns, a rolled-back savepoint, a DELETE; for an UPDATE:
-- one combined row when the row stays in its group (none when its partials cancel out, as the
-- statement's HAVING drops it), two when it moves, the statement where the key's equality is
-- not identity (numeric 1.0 = 1.00, a nondeterministic collation), NULL keys and values, the
-- old value of a min/max, a numeric scale, HOT and non-HOT updates.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pg_incview;
SET LOCAL client_min_messages = error;  -- several explicit delta stages on one source WARN
SET LOCAL incview.default_policy = manual;
SELECT plan(60);

CREATE TABLE dd_a (id serial PRIMARY KEY, k text, g int, i2 smallint, i4 int, i8 bigint, nu numeric,
                   nf numeric(10,2), r real, d float8, note text);
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
  ('numk', 'SELECT nu, count(*) AS n, sum(i4) AS s, max(r) AS mr FROM %s GROUP BY nu', true),
  ('whr', 'SELECT k, count(*) AS n, sum(i4) AS s FROM %s WHERE i4 > 0 GROUP BY k', false),
  ('expr', 'SELECT lower(k) AS lk, count(*) AS n, sum(i2 + 1) AS s FROM %s GROUP BY lower(k)', false);
SELECT count(incview.create_stage('dd_' || s.name || '_' || t, format(s.q, 'dd_' || t), ARRAY[s.name_key],
                                  engine => 'delta'))
FROM (SELECT name, q, CASE name WHEN 'ints' THEN 'k' WHEN 'hav' THEN 'k' WHEN 'whr' THEN 'k' WHEN 'expr' THEN 'lk'
                                WHEN 'numk' THEN 'nu' ELSE 'g' END AS name_key FROM dd_shape) s, unnest(ARRAY['a', 'b']) t;

CREATE FUNCTION pg_temp.queue_of(stage text) RETURNS text LANGUAGE sql AS $$
  SELECT d.queue::text FROM incview.delta_stage d JOIN incview.stage s ON s.id = d.stage_id WHERE s.name = stage $$;
CREATE FUNCTION pg_temp.queued(stage text) RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY EXECUTE format('SELECT q::text FROM %s q', pg_temp.queue_of(stage));
END $$;

SELECT is((SELECT array_agg(s.name ORDER BY s.name) FROM dd_shape s JOIN incview.stage st ON st.name = 'dd_' || s.name || '_a'
           JOIN incview.delta_capture c ON c.stage_id = st.id WHERE (c.direct IS NOT NULL) <> s.direct),
          NULL, 'the plain single-table shapes have direct parts, WHERE and expressions do not');

-- The same writes on either table: one-row statements (direct where the stage allows it), a
-- multi-row INSERT and UPDATE (statements), a one-row INSERT and UPDATE rolled back with their
-- savepoint. Ids 1-40 only: the two tables' serial columns share one sequence.
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
  -- one-row UPDATEs
  EXECUTE format('UPDATE %I SET i4 = i4 + 5, i2 = i2 - 1, i8 = i8 * 2, nu = nu + 0.5, nf = nf - 1, r = r * 2,
                  d = d + 1 WHERE id = 8', t);                                   -- stays in its groups
  EXECUTE format('UPDATE %I SET k = ''k2'', g = 3 WHERE id = 9', t);          -- moves, its values along
  EXECUTE format('UPDATE %I SET k = NULL, g = NULL WHERE id = 10', t);        -- into the NULL groups
  EXECUTE format('UPDATE %I SET i4 = 3, nu = 0.125, d = 2 WHERE id = 10', t); -- within them
  EXECUTE format('UPDATE %I SET k = ''k1'', g = 2 WHERE id = 10', t);         -- out of them
  EXECUTE format('UPDATE %I SET i2 = NULL, i4 = NULL, i8 = NULL, nu = NULL, nf = NULL, r = NULL, d = NULL
                  WHERE id = 11', t);                                           -- values to NULL
  EXECUTE format('UPDATE %I SET i4 = 11, nu = 11.5, d = 11 WHERE id = 11', t); -- and back
  EXECUTE format('UPDATE %I SET i4 = 100000 WHERE id = 4', t);   -- ext: the min of (0, k1) (40) goes away
  EXECUTE format('UPDATE %I SET d = -1 WHERE id = 36', t);       -- ext: the max of (0, k0) goes away
  EXECUTE format('UPDATE %I SET nu = 1.50 WHERE id = 13', t);    -- numeric: a scale,
  EXECUTE format('UPDATE %I SET nu = 1.5 WHERE id = 13', t);     -- the same value in a smaller one
  EXECUTE format('UPDATE %I SET k = k, nu = nu WHERE id = 14', t);  -- a no-op
  EXECUTE format('UPDATE %I SET note = ''x'' WHERE id = 15', t);    -- a column no stage reads (HOT)
  EXECUTE format('UPDATE %I SET id = id + 1000, i4 = 1 WHERE id = 16', t);  -- the primary key: not HOT
  EXECUTE format('UPDATE %I SET i4 = i4 + 1 WHERE id IN (17, 18)', t);     -- two rows: the statement
  BEGIN
    EXECUTE format('INSERT INTO %I (k, g, i4, nu) VALUES (''gone'', 3, 99, 9.999)', t);
    EXECUTE format('UPDATE %I SET k = ''gone'', i4 = 98 WHERE id = 19', t);
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
SELECT ok(pg_stat_get_xact_tuples_hot_updated('dd_a'::regclass) > 0 AND
          pg_stat_get_xact_tuples_updated('dd_a'::regclass) > pg_stat_get_xact_tuples_hot_updated('dd_a'::regclass),
          'the writes made HOT and non-HOT updates');

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
SELECT lives_ok($$UPDATE dd_a SET i4 = 5 WHERE k = 'probe'$$, 'direct: a one-row UPDATE within its group');
SELECT is(array(SELECT q FROM pg_temp.queued('dd_probe') q ORDER BY q), '{"(probe,0,0,4)","(probe,1,1,1)"}',
          'direct: one combined row (count 0, sum +4)');
SELECT lives_ok($$UPDATE dd_a SET k = 'probe2' WHERE k = 'probe'$$, 'direct: a one-row UPDATE moving between groups');
SELECT is(array(SELECT q FROM pg_temp.queued('dd_probe') q ORDER BY q),
          '{"(probe,-1,-1,-5)","(probe,0,0,4)","(probe,1,1,1)","(probe2,1,1,5)"}',
          'direct: the old group''s row and the new group''s');
SELECT lives_ok($$UPDATE dd_a SET note = 'x' WHERE k = 'probe2'$$, 'direct: an UPDATE of a column the stage does not read');
SELECT lives_ok($$UPDATE dd_a SET i4 = i4 WHERE k = 'probe2'$$, 'direct: a no-op UPDATE');
SELECT is((SELECT count(*) FROM pg_temp.queued('dd_probe')), 4::bigint, 'neither queued a row (their partials cancel)');
SELECT lives_ok($$INSERT INTO dd_a (k, i4) VALUES ('probe2', 7)$$, 'direct: another one-row insert');
SELECT throws_ok($$UPDATE dd_a SET i4 = 6 WHERE k = 'probe2'$$, '42501', NULL, 'a two-row UPDATE takes the statement');
SET LOCAL incview.delta_capture_direct = off;
SELECT throws_ok($$UPDATE dd_a SET i4 = 6 WHERE i4 = 7 AND k = 'probe2'$$, '42501', NULL,
                 'a one-row UPDATE with the setting off takes the statement');
SET LOCAL incview.delta_capture_direct = on;
SELECT lives_ok($$DELETE FROM dd_a WHERE k = 'probe2' AND i4 = 7$$, 'direct: a one-row delete');
SELECT is((SELECT count(*) FROM pg_temp.queued('dd_probe')), 6::bigint, 'direct: its row queued');
SELECT is((SELECT count(*) FROM pg_temp.queued('dd_probe') q WHERE q = '(probe2,-1,-1,-7)'), 1::bigint,
          'the delete''s row counts -1');

-- Keys whose equality is not identity: a one-row UPDATE changing them takes the statement
-- (one group or two is the GROUP BY's to say), one leaving them alone does not.
CREATE COLLATION dd_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE TABLE dd_c (id int PRIMARY KEY, nu numeric, t text COLLATE dd_ci, v int);
INSERT INTO dd_c VALUES (1, 1.0, 'abc', 1);
GRANT SELECT, TRIGGER ON dd_c TO dd_owner;
SET LOCAL ROLE dd_owner;
SELECT incview.create_stage('dd_probe_nu', 'SELECT nu, count(*) AS n, sum(v) AS s FROM public.dd_c GROUP BY nu',
                            ARRAY['nu'], engine => 'delta', target => 'dd_owner.probe_nu');
SELECT incview.create_stage('dd_probe_ci', 'SELECT t, count(*) AS n, sum(v) AS s FROM public.dd_c GROUP BY t',
                            ARRAY['t'], engine => 'delta', target => 'dd_owner.probe_ci');
RESET ROLE;
DO $$ BEGIN
  EXECUTE format('REVOKE INSERT ON %s FROM dd_owner', pg_temp.queue_of('dd_probe_nu'));
  EXECUTE format('REVOKE INSERT ON %s FROM dd_owner', pg_temp.queue_of('dd_probe_ci'));
END $$;
SELECT lives_ok($$UPDATE dd_c SET v = 2 WHERE id = 1$$, 'direct: numeric and nondeterministic keys left alone');
SELECT throws_ok($$UPDATE dd_c SET nu = 1.00 WHERE id = 1$$, '42501', NULL, 'numeric 1.0 -> 1.00: the statement');
SELECT throws_ok($$UPDATE dd_c SET nu = 2 WHERE id = 1$$, '42501', NULL, 'numeric 1.0 -> 2: the statement too');
SELECT throws_ok($$UPDATE dd_c SET t = 'ABC' WHERE id = 1$$, '42501', NULL, 'a nondeterministic collation: the statement');
SELECT is((SELECT count(*) FROM pg_temp.queued('dd_probe_nu')) + (SELECT count(*) FROM pg_temp.queued('dd_probe_ci')),
          2::bigint, 'the direct UPDATE queued one row per stage');

SELECT * FROM finish();
ROLLBACK;
