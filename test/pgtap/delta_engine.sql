-- Engine delta (issue 13): randomized differential test plus the exactness cases.
-- Five qualifying shapes (count(*), count(x), sum, avg, min, max over int4, int8, numeric,
-- float8, timestamptz and text; NULL values and NULL group keys; a composite group key with a
-- WHERE clause; HAVING; a computed group key) get random inserts, updates that move rows
-- between groups and set values to NULL, deletes of single rows and of whole groups, bulk
-- updates and TRUNCATE; after every round each stage is refreshed and must equal its query
-- (incview.verify: row text, so also the types and scales; float sums within a tolerance).
-- Then: integer overflow boundaries, NULL semantics, min/max deletes, HAVING groups leaving
-- and coming back, a downstream stage seeing only the changed groups, set_engine back and
-- forth, engine auto, drop_stage, and who may touch the queue.
-- Runs in one transaction and rolls back (no background refresher sees the stages).
BEGIN;
CREATE EXTENSION IF NOT EXISTS pg_incview;
SET LOCAL client_min_messages = warning;

\set rounds 10
SELECT plan(:rounds * 6 + 5 + 27);

CREATE TABLE ev (id bigserial PRIMARY KEY, tag text, org int NOT NULL, cluster text, v int, big bigint,
                 price numeric(10,2), f float8, at timestamptz, label text);
CREATE INDEX ON ev (tag);
CREATE INDEX ON ev (org, cluster);
CREATE FUNCTION pg_temp.h(salt int, i bigint, n bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT (hashint8(i * 16 + salt)::bigint + 2147483648) % n $$;
INSERT INTO ev (tag, org, cluster, v, big, price, f, at, label)
SELECT CASE WHEN i % 41 = 0 THEN NULL ELSE 't' || pg_temp.h(1, i, 12) END,
       1 + pg_temp.h(2, i, 8),
       CASE WHEN i % 13 = 0 THEN NULL ELSE 'c' || pg_temp.h(3, i, 4) END,
       CASE WHEN i % 17 = 0 THEN NULL ELSE pg_temp.h(4, i, 1000)::int END,
       pg_temp.h(5, i, 1000000) * 1000000,
       pg_temp.h(6, i, 100000) / 100.0,
       pg_temp.h(7, i, 100000) / 7.0,
       timestamptz '2024-01-01 00:00+00' + pg_temp.h(8, i, 100000) * interval '1 minute',
       'L' || pg_temp.h(9, i, 500)
FROM generate_series(1, 2000) i;

SELECT incview.create_stage('d_tag', $q$
    SELECT tag, count(*) AS n, count(v) AS nv, sum(v) AS s, avg(v) AS a, min(v) AS lo, max(v) AS hi
    FROM ev GROUP BY tag $q$, ARRAY['tag'], engine => 'delta');
SELECT incview.create_stage('d_org', $q$
    SELECT org, cluster, count(*) AS n, sum(big) AS sb, avg(price) AS ap, sum(price) AS sp,
           min(at) AS first_at, max(label) AS last_label
    FROM ev WHERE v IS DISTINCT FROM 13 GROUP BY org, cluster $q$, ARRAY['org', 'cluster'], engine => 'delta');
SELECT incview.create_stage('d_having', $q$
    SELECT org, count(*) AS n, sum(v) AS s FROM ev GROUP BY org HAVING count(*) > 240 $q$,
    ARRAY['org'], engine => 'delta');
SELECT incview.create_stage('d_bucket', $q$
    SELECT v % 5 AS bucket, count(*) AS n, sum(big) AS sb, max(price) AS top FROM ev GROUP BY v % 5 $q$,
    ARRAY['bucket'], engine => 'delta');
SELECT incview.create_stage('d_float', $q$
    SELECT tag, sum(f) AS sf, avg(f) AS af, count(*) AS n FROM ev GROUP BY tag $q$, ARRAY['tag'], engine => 'delta');

CREATE TEMP TABLE stage_names (name text PRIMARY KEY);
INSERT INTO stage_names VALUES ('d_tag'), ('d_org'), ('d_having'), ('d_bucket');

-- float sums: equal to the query within a relative 1e-9 (the drift docs/engines.md describes)
CREATE FUNCTION pg_temp.float_diff() RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FROM (SELECT coalesce(tag, '<null>') AS g, sum(f) AS sf, avg(f) AS af, count(*) AS n FROM ev GROUP BY tag) q
  FULL JOIN (SELECT coalesce(tag, '<null>') AS g, * FROM d_float) t ON t.g = q.g
  WHERE q.n IS DISTINCT FROM t.n
     OR abs(coalesce(q.sf, 0) - coalesce(t.sf, 0)) > 1e-9 * (1 + abs(coalesce(q.sf, 0)))
     OR abs(coalesce(q.af, 0) - coalesce(t.af, 0)) > 1e-9 * (1 + abs(coalesce(q.af, 0)))
     OR (q.sf IS NULL) <> (t.sf IS NULL) $$;

SELECT is((SELECT count(*) FROM incview.delta_stage), 5::bigint, 'engine delta on for the five stages');
SELECT is((SELECT row(missing, extra)::text FROM incview.verify(name)), '(0,0)', 'after create: ' || name)
FROM stage_names ORDER BY name;

CREATE FUNCTION pg_temp.mutate(seed int, n int) RETURNS void LANGUAGE plpgsql AS $f$
DECLARE
  k int;
  r double precision;
  t text;
BEGIN
  PERFORM setseed(((seed::bigint * 7919) % 10007) / 10007.0 - 0.5);
  FOR k IN 1 .. n LOOP
    r := random();
    t := CASE WHEN random() < 0.08 THEN NULL ELSE 't' || floor(random() * 14)::int END;
    IF k = n AND seed % 5 = 4 THEN
      TRUNCATE ev;
      INSERT INTO ev (tag, org, cluster, v, big, price, f, at, label)
      SELECT 't' || (i % 5), 1 + i % 8, 'c' || (i % 3), i, i * 1000, i / 4.0, i / 3.0, now(), 'x' || i
      FROM generate_series(1, 300) i;
    ELSIF r < 0.25 THEN     -- insert 1..5 rows (values NULL sometimes, new groups sometimes)
      INSERT INTO ev (tag, org, cluster, v, big, price, f, at, label)
      SELECT t, 1 + floor(random() * 10)::int,
             CASE WHEN random() < 0.1 THEN NULL ELSE 'c' || floor(random() * 5)::int END,
             CASE WHEN random() < 0.1 THEN NULL ELSE floor(random() * 1200)::int - 100 END,
             CASE WHEN random() < 0.1 THEN NULL ELSE floor(random() * 1e12)::bigint END,
             CASE WHEN random() < 0.1 THEN NULL ELSE round((random() * 1000)::numeric, 2) END,
             CASE WHEN random() < 0.1 THEN NULL ELSE random() * 1e4 END,
             timestamptz '2023-06-01 00:00+00' + floor(random() * 300000) * interval '1 minute',
             CASE WHEN random() < 0.1 THEN NULL ELSE 'L' || floor(random() * 600)::int END
      FROM generate_series(1, 1 + floor(random() * 5)::int);
    ELSIF r < 0.40 THEN     -- move rows between groups (tag, org, cluster)
      UPDATE ev SET tag = t, org = 1 + floor(random() * 10)::int,
                    cluster = CASE WHEN random() < 0.2 THEN NULL ELSE 'c' || floor(random() * 5)::int END
      WHERE id IN (SELECT id FROM ev ORDER BY random() LIMIT 1 + floor(random() * 4)::int);
    ELSIF r < 0.55 THEN     -- change values: NULLs, the current extremes
      UPDATE ev SET v = CASE WHEN random() < 0.3 THEN NULL ELSE floor(random() * 1200)::int - 100 END,
                    price = CASE WHEN random() < 0.2 THEN NULL ELSE round((random() * 1000)::numeric, 2) END,
                    f = CASE WHEN random() < 0.2 THEN NULL ELSE random() * 1e4 END,
                    label = 'M' || floor(random() * 700)::int
      WHERE id IN (SELECT id FROM ev ORDER BY random() LIMIT 1 + floor(random() * 4)::int);
    ELSIF r < 0.65 THEN     -- delete the rows holding a group's min or max
      DELETE FROM ev WHERE id IN (SELECT DISTINCT ON (tag) id FROM ev ORDER BY tag, v DESC NULLS LAST LIMIT 3);
      DELETE FROM ev WHERE id IN (SELECT DISTINCT ON (org, cluster) id FROM ev ORDER BY org, cluster, at LIMIT 3);
    ELSIF r < 0.80 THEN     -- delete single rows
      DELETE FROM ev WHERE id IN (SELECT id FROM ev ORDER BY random() LIMIT 1 + floor(random() * 3)::int);
    ELSIF r < 0.88 THEN     -- a whole group vanishes
      DELETE FROM ev WHERE tag IS NOT DISTINCT FROM t;
    ELSIF r < 0.94 THEN     -- a bulk update touching most groups
      UPDATE ev SET v = v + 1, big = big - 7 WHERE id % 3 = seed % 3;
    ELSE                    -- the WHERE clause of d_org: rows entering and leaving it
      UPDATE ev SET v = CASE WHEN v = 13 THEN 14 ELSE 13 END
      WHERE id IN (SELECT id FROM ev ORDER BY random() LIMIT 3);
    END IF;
  END LOOP;
END $f$;

CREATE TEMP TABLE results (round int, name text, result text);
DO $$
BEGIN
  FOR r IN 1 .. 10 LOOP
    PERFORM pg_temp.mutate(r, 15);
    PERFORM incview.refresh(name) FROM stage_names;
    PERFORM incview.refresh('d_float');
    INSERT INTO results SELECT r, name, (SELECT row(missing, extra)::text FROM incview.verify(name)) FROM stage_names;
    INSERT INTO results SELECT r, 'd_float', pg_temp.float_diff()::text;
    INSERT INTO results SELECT r, 'queues', (SELECT string_agg(q, ',') FROM (
      SELECT d.queue::text AS q FROM incview.delta_stage d WHERE incview.delta_queued(d.queue)) x);
  END LOOP;
END $$;
SELECT is(result, CASE WHEN name = 'd_float' THEN '0' WHEN name = 'queues' THEN NULL ELSE '(0,0)' END,
          format('round %s: %s', round, name))
FROM results ORDER BY round, name;

-- ------------------------------------------------------------------ overflow boundaries
CREATE TABLE ov (k int, a int4, b int8);
INSERT INTO ov VALUES (1, 2147483647, 9223372036854775807), (1, 2147483647, 9223372036854775807),
                      (2, -2147483648, -9223372036854775808);
SELECT incview.create_stage('d_ov', 'SELECT k, sum(a) AS sa, sum(b) AS sb, avg(b) AS ab FROM ov GROUP BY k',
                            ARRAY['k'], engine => 'delta');
INSERT INTO ov VALUES (1, 2147483647, 9223372036854775807), (2, -2147483648, -9223372036854775808);
SELECT incview.refresh('d_ov');
SELECT is((SELECT sa::text || ' ' || sb::text FROM d_ov WHERE k = 1), '6442450941 27670116110564327421',
          'sum(int4) is int8 and sum(int8) numeric past the int8 range');
UPDATE ov SET a = -2147483648, b = -9223372036854775808 WHERE k = 1 AND ctid = (SELECT min(ctid) FROM ov WHERE k = 1);
DELETE FROM ov WHERE k = 2 AND ctid = (SELECT min(ctid) FROM ov WHERE k = 2);
SELECT incview.refresh('d_ov');
SELECT is((SELECT row(missing, extra)::text FROM incview.verify('d_ov')), '(0,0)', 'overflow boundaries: verify');

-- ------------------------------------------------------------------ NULL semantics
CREATE TABLE nv (k int, x int);
INSERT INTO nv VALUES (1, NULL), (1, NULL), (2, 5);
SELECT incview.create_stage('d_nv', 'SELECT k, count(*) AS n, count(x) AS nx, sum(x) AS s, avg(x) AS a, min(x) AS lo FROM nv GROUP BY k',
                            ARRAY['k'], engine => 'delta');
SELECT is((SELECT row(n, nx, s, a, lo)::text FROM d_nv WHERE k = 1), '(2,0,,,)', 'all-NULL group: sum, avg, min NULL');
INSERT INTO nv VALUES (1, 7);
SELECT incview.refresh('d_nv');
SELECT is((SELECT row(n, nx, s, a, lo)::text FROM d_nv WHERE k = 1), '(3,1,7,7.0000000000000000,7)', 'a non-NULL value arrives');
DELETE FROM nv WHERE x = 7;
SELECT incview.refresh('d_nv');
SELECT is((SELECT row(n, nx, s, a, lo)::text FROM d_nv WHERE k = 1), '(2,0,,,)', 'and leaves: NULL again, not 0');
UPDATE nv SET x = NULL WHERE k = 2;
SELECT incview.refresh('d_nv');
SELECT is((SELECT row(n, nx, s, a, lo)::text FROM d_nv WHERE k = 2), '(1,0,,,)', 'a value set to NULL');
DELETE FROM nv WHERE k = 2;
SELECT incview.refresh('d_nv');
SELECT is((SELECT count(*) FROM d_nv WHERE k = 2), 0::bigint, 'a group whose count reaches 0 is deleted');
SELECT is((SELECT row(missing, extra)::text FROM incview.verify('d_nv')), '(0,0)', 'NULL semantics: verify');

-- numeric of no declared scale: a delete may lower the sum's display scale
CREATE TABLE ns (k int, x numeric);
INSERT INTO ns VALUES (1, 1.50), (1, 2), (2, 1.5), (2, 2.25), (2, 3);
SELECT incview.create_stage('d_ns', 'SELECT k, sum(x) AS s, avg(x) AS a FROM ns GROUP BY k', ARRAY['k'], engine => 'delta');
DELETE FROM ns WHERE x IN (1.50, 2.25);
INSERT INTO ns VALUES (2, 0.125);
SELECT incview.refresh('d_ns');
SELECT is((SELECT string_agg(s::text, ',' ORDER BY k) FROM d_ns) || ' ' || (SELECT row(missing, extra)::text FROM incview.verify('d_ns')),
          '2,3.125 (0,0)', 'numeric sums keep the scale the query has');

-- ------------------------------------------------------------------ min/max deletes
CREATE TABLE mm (k int, x int);
INSERT INTO mm SELECT 1, g FROM generate_series(1, 10) g;
SELECT incview.create_stage('d_mm', 'SELECT k, min(x) AS lo, max(x) AS hi FROM mm GROUP BY k', ARRAY['k'], engine => 'delta');
DELETE FROM mm WHERE x IN (1, 10);
SELECT incview.refresh('d_mm');
SELECT is((SELECT lo || '-' || hi FROM d_mm), '2-9', 'deleting both extremes re-derives the group');
DELETE FROM mm WHERE x = 5;
INSERT INTO mm VALUES (1, 0);
SELECT incview.refresh('d_mm');
SELECT is((SELECT lo || '-' || hi FROM d_mm), '0-9', 'an inner delete and a new minimum fold algebraically');
SELECT is((SELECT rows_deleted FROM incview.refresh_log WHERE stage = 'd_mm' ORDER BY id DESC LIMIT 1),
          0::bigint, 'that fold updated the row in place');

-- ------------------------------------------------------------------ HAVING leaves and returns
CREATE TABLE hv (k int, x int);
INSERT INTO hv SELECT g % 2, g FROM generate_series(1, 10) g;
SELECT incview.create_stage('d_hv', 'SELECT k, count(*) AS n FROM hv GROUP BY k HAVING count(*) >= 5', ARRAY['k'], engine => 'delta');
DELETE FROM hv WHERE x = 2;
SELECT incview.refresh('d_hv');
SELECT is((SELECT string_agg(k || ':' || n, ',' ORDER BY k) FROM d_hv), '1:5', 'a group falls below HAVING');
INSERT INTO hv VALUES (0, 100);
SELECT incview.refresh('d_hv');
SELECT is((SELECT string_agg(k || ':' || n, ',' ORDER BY k) FROM d_hv), '0:5,1:5', 'and comes back');

-- ------------------------------------------------------------------ downstream
SELECT incview.create_stage('d_down', 'SELECT tag, n FROM d_tag', ARRAY['tag'], engine => 'replace');
SELECT incview.set_policy('d_down', 'manual');
INSERT INTO ev (tag, org, v) VALUES ('t3', 1, 1);
SELECT incview.refresh('d_tag');
SELECT is((SELECT count(*) FROM incview.queued_keys d JOIN incview.stage s ON s.id = d.stage_id WHERE s.name = 'd_down'),
          1::bigint, 'a downstream stage sees only the changed group');
SELECT incview.refresh('d_down');
SELECT is((SELECT row(missing, extra)::text FROM incview.verify('d_down')), '(0,0)', 'downstream: verify');

-- ------------------------------------------------------------------ re-derives settle the queue
INSERT INTO ev (tag, org, v) VALUES ('t4', 1, 1000);
SELECT incview.refresh_scopes('d_tag', '["t4"]');
SELECT is((SELECT row(missing, extra)::text FROM incview.verify('d_tag')), '(0,0)', 'refresh_scopes with a queued delta');
SELECT ok(NOT incview.delta_queued('incview.delta_' || (SELECT id FROM incview.stage WHERE name = 'd_tag')),
          'refresh_scopes folded the queue first');
INSERT INTO ev (tag, org, v) VALUES ('t4', 1, 1001);
SELECT incview.rebuild('d_tag');
SELECT incview.refresh('d_tag');
SELECT is((SELECT row(missing, extra)::text FROM incview.verify('d_tag')), '(0,0)', 'rebuild discards what it re-derives');

-- ------------------------------------------------------------------ engines back and forth
SELECT incview.set_engine('d_nv', 'replace');
SELECT is((SELECT count(*) FROM pg_attribute WHERE attrelid = 'd_nv'::regclass AND attname LIKE '\_\_incview%' AND NOT attisdropped),
          0::bigint, 'set_engine replace drops the hidden columns');
SELECT is((SELECT count(*) FROM incview.delta_stage d JOIN incview.stage s ON s.id = d.stage_id WHERE s.name = 'd_nv'),
          0::bigint, 'and the queue');
INSERT INTO nv VALUES (3, 3);
SELECT incview.refresh('d_nv');
SELECT incview.set_engine('d_nv', 'delta');
INSERT INTO nv VALUES (3, 4);
SELECT incview.refresh('d_nv');
SELECT is((SELECT row(missing, extra)::text FROM incview.verify('d_nv')), '(0,0)', 'replace, then delta again: verify');

-- ------------------------------------------------------------------ engine auto
CREATE TABLE big_groups (k int, x int);
INSERT INTO big_groups SELECT g % 4, g FROM generate_series(1, 4000) g;
ANALYZE big_groups;
SELECT incview.create_stage('a_big', 'SELECT k, sum(x) AS s FROM big_groups GROUP BY k', ARRAY['k']);
CREATE TABLE small_groups (k int, x int);
INSERT INTO small_groups SELECT g, g FROM generate_series(1, 4000) g;
ANALYZE small_groups;
SELECT incview.create_stage('a_small', 'SELECT k, sum(x) AS s FROM small_groups GROUP BY k', ARRAY['k']);
SELECT is((SELECT string_agg(s.name, ',' ORDER BY s.name) FROM incview.delta_stage d JOIN incview.stage s ON s.id = d.stage_id
           WHERE s.name LIKE 'a\_%'), 'a_big,a_small',
          'auto: delta for 1,000 rows a scope and for 1 (one table, plain columns: from 1; delta_auto_crossover.sql has both sides)');
SELECT is((SELECT engine FROM incview.stage WHERE name = 'a_big'), 'auto', 'auto stays the declared engine');

-- ------------------------------------------------------------------ drop, privileges
SELECT 'incview.delta_' || id AS mm_queue FROM incview.stage WHERE name = 'd_mm' \gset
SELECT incview.drop_stage('d_mm');
SELECT is(to_regclass(:'mm_queue'), NULL, 'drop_stage drops its queue');
CREATE ROLE delta_attacker;
SELECT format('INSERT INTO incview.delta_%s (tag, "__incview_dcount") VALUES (''t1'', 1000)', id) AS forge
FROM incview.stage WHERE name = 'd_tag' \gset
SET LOCAL ROLE delta_attacker;
SELECT throws_ok('SELECT * FROM incview.delta_stage', '42501', NULL, 'the generated statements are not public');
SELECT throws_ok(:'forge', '42501', NULL, 'nobody but the stage owner writes its queue');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
