-- The write path of change records (issue 18, #12 item 5; bench/capture_fanout.md): keys of
-- integer columns built without jsonb_build_array (byte for byte what it builds), the
-- deduplication of a statement's first keys in a short list and of the rest in a hash set,
-- the marker threshold across that switch, and the per-stage statements now run from
-- catalog/dirty_rows.cpp (a float scope column keeps its own statement).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_incview;
SET incview.default_policy = manual;
SELECT plan(20);

CREATE DOMAIN pos AS int CHECK (VALUE >= -2147483648);
CREATE TABLE ints (id serial PRIMARY KEY, a int2, b int4, c int8, d pos, v int);
CREATE TABLE other (id serial PRIMARY KEY, f float8, v int);
SELECT incview.create_stage('by_a', 'SELECT a, count(*) AS n FROM ints GROUP BY a', ARRAY['a']);
SELECT incview.create_stage('by_b', 'SELECT b, count(*) AS n FROM ints GROUP BY b', ARRAY['b']);
SELECT incview.create_stage('by_c', 'SELECT c, count(*) AS n FROM ints GROUP BY c', ARRAY['c']);
SELECT incview.create_stage('by_d', 'SELECT d, count(*) AS n FROM ints GROUP BY d', ARRAY['d']);
SELECT incview.create_stage('by_bc', 'SELECT b, c, count(*) AS n FROM ints GROUP BY b, c', ARRAY['b', 'c']);
SELECT incview.create_stage('by_f', 'SELECT f, count(*) AS n FROM other GROUP BY f', ARRAY['f']);
CREATE FUNCTION pg_temp.keys(stage text) RETURNS jsonb[] LANGUAGE sql AS $$
  SELECT coalesce(array_agg(k ORDER BY k::text), '{}') FROM incview.source_change c, unnest(c.keys) k
  WHERE (SELECT id FROM incview.stage WHERE name = $1) = ANY (c.stage_ids) $$;
-- What jsonb_build_array makes of the same values, and whether every byte is the same
-- (jsonb equality compares numbers by value: the sizes and the text catch another encoding).
CREATE FUNCTION pg_temp.same_as_sql(stage text, expected jsonb[]) RETURNS boolean LANGUAGE sql AS $$
  SELECT pg_temp.keys($1) = (SELECT array_agg(e ORDER BY e::text) FROM unnest($2) e)
     AND (SELECT array_agg(k::text || pg_column_size(k) ORDER BY k::text) FROM unnest(pg_temp.keys($1)) k)
       = (SELECT array_agg(e::text || pg_column_size(e) ORDER BY e::text) FROM unnest($2) e) $$;

-- One row, extremes and NULL in one statement each.
INSERT INTO ints (a, b, c, d) VALUES (-32768, -2147483648, -9223372036854775808, -2147483648);
INSERT INTO ints (a, b, c, d) VALUES (32767, 2147483647, 9223372036854775807, 2147483647);
INSERT INTO ints (a, b, c, d) VALUES (0, 0, 0, 0);
INSERT INTO ints (a, b, c, d) VALUES (NULL, NULL, NULL, NULL);
SELECT ok(pg_temp.same_as_sql('by_a', ARRAY[jsonb_build_array('-32768'::int2), jsonb_build_array(32767::int2),
                                            jsonb_build_array(0::int2), jsonb_build_array(NULL::int2)]),
          'int2 keys: what jsonb_build_array builds, byte for byte');
SELECT ok(pg_temp.same_as_sql('by_b', ARRAY[jsonb_build_array('-2147483648'::int4), jsonb_build_array(2147483647::int4),
                                            jsonb_build_array(0::int4), jsonb_build_array(NULL::int4)]),
          'int4 keys too');
SELECT ok(pg_temp.same_as_sql('by_c', ARRAY[jsonb_build_array('-9223372036854775808'::int8),
                                            jsonb_build_array(9223372036854775807::int8),
                                            jsonb_build_array(0::int8), jsonb_build_array(NULL::int8)]),
          'int8 keys too');
SELECT ok(pg_temp.same_as_sql('by_d', ARRAY[jsonb_build_array('-2147483648'::pos), jsonb_build_array(2147483647::pos),
                                            jsonb_build_array(0::pos), jsonb_build_array(NULL::pos)]),
          'a domain over int4 too');
SELECT ok(pg_temp.same_as_sql('by_bc',
                              ARRAY[jsonb_build_array('-2147483648'::int4, '-9223372036854775808'::int8),
                                    jsonb_build_array(2147483647::int4, 9223372036854775807::int8),
                                    jsonb_build_array(0::int4, 0::int8), jsonb_build_array(NULL::int4, NULL::int8)]),
          'two integer columns: one array of both');
SELECT is((SELECT count(*) FROM incview.source_change), 20::bigint,
          'one record per statement and key group (a, b, c, d and b+c: five groups, four statements)');
SELECT is((SELECT array_agg(name || '=' || dirty_scopes ORDER BY name) FROM incview.stages WHERE name <> 'by_f'),
          ARRAY['by_a=4', 'by_b=4', 'by_bc=4', 'by_c=4', 'by_d=4'], 'each stage counts its four keys');
SELECT is((SELECT count(incview.refresh(name)) FROM incview.stage), 6::bigint, 'every stage refreshes');
SELECT is((SELECT count(*) FROM incview.stage s, incview.verify(s.name) v WHERE v.missing + v.extra > 0), 0::bigint,
          'and matches its query (the integer keys find their rows)');

-- Deduplication: 5 distinct keys in 40 rows (the short list), 30 distinct keys in 90 rows
-- repeated around the switch to the hash set at the ninth key.
DELETE FROM incview.source_change;
INSERT INTO ints (b, c) SELECT g % 5, 1 FROM generate_series(1, 40) g;
SELECT is(pg_temp.keys('by_b'), (SELECT array_agg(jsonb_build_array(g) ORDER BY jsonb_build_array(g)::text)
                                 FROM generate_series(0, 4) g), 'five distinct keys of forty rows');
DELETE FROM incview.source_change;
INSERT INTO ints (b, c) SELECT g % 30, 1 FROM generate_series(1, 90) g;
SELECT is(pg_temp.keys('by_b'), (SELECT array_agg(jsonb_build_array(g) ORDER BY jsonb_build_array(g)::text)
                                 FROM generate_series(0, 29) g), 'thirty distinct keys of ninety rows, each once');
SELECT is(pg_temp.keys('by_c'), ARRAY['[1]'::jsonb], 'and one for the column they share');
-- An UPDATE's old and new row: one key when the scope column does not change, two when it does.
DELETE FROM incview.source_change;
UPDATE ints SET v = 1 WHERE id = 1;
SELECT is(pg_temp.keys('by_b'), ARRAY['[-2147483648]'::jsonb], 'an UPDATE keeping its key: the key once');
DELETE FROM incview.source_change;
UPDATE ints SET b = 7 WHERE id = 1;
SELECT is(pg_temp.keys('by_b'), ARRAY['[-2147483648]'::jsonb, '[7]'::jsonb], 'an UPDATE moving it: old and new');

-- The marker threshold counts distinct keys across the switch: a stage below 100 scopes never
-- collapses, so by_b gets 100 more and a rebuild counts them (about 140); at ratio 0.05 its
-- threshold is then 7 keys.
INSERT INTO ints (b) SELECT 1000 + g FROM generate_series(1, 100) g;
SELECT incview.refresh('by_b');
SELECT incview.rebuild('by_b');
SET incview.capture_all_ratio = 0.05;
DELETE FROM incview.source_change;
INSERT INTO ints (b) SELECT 2000 + g % 3 FROM generate_series(1, 60) g;
SELECT is((SELECT count(*) FROM incview.source_change c, unnest(c.keys) k
           WHERE (SELECT id FROM incview.stage WHERE name = 'by_b') = ANY (c.stage_ids)), 3::bigint,
          'three distinct keys (below the threshold): keys');
DELETE FROM incview.source_change;
INSERT INTO ints (b) SELECT 3000 + g % 20 FROM generate_series(1, 60) g;
SELECT is((SELECT count(*) FROM incview.source_change c
           WHERE (SELECT id FROM incview.stage WHERE name = 'by_b') = ANY (c.stage_ids) AND c.keys IS NULL), 1::bigint,
          'twenty (above it, counted past the short list): one every-scope record');
RESET incview.capture_all_ratio;

-- A float scope column keeps a statement of its own (catalog/dirty_rows.cpp): one row, a few,
-- an UPDATE, a DELETE and a TRUNCATE all queue into dirty_scope.
INSERT INTO other (f) VALUES (1.5);
INSERT INTO other (f) SELECT g / 4.0 FROM generate_series(1, 8) g;
UPDATE other SET f = 9.25 WHERE f = 1.5;
DELETE FROM other WHERE f = 0.25;
SELECT is((SELECT count(*) FROM incview.dirty_scope WHERE stage_id = (SELECT id FROM incview.stage WHERE name = 'by_f')
           AND key IS NOT NULL), 12::bigint, 'a float scope: its keys in dirty_scope, by its own statements');
TRUNCATE other;
SELECT is((SELECT count(*) FROM incview.dirty_scope WHERE stage_id = (SELECT id FROM incview.stage WHERE name = 'by_f')
           AND key IS NULL), 1::bigint, 'TRUNCATE: its every-scope marker');

-- A backend exits with prepared capture statements in its cache after some were released by
-- an invalidation (and freed at its next capture): the exit must not touch the released-plan
-- list after the library's statics are gone (it did once: "double free detected", the whole
-- server restarted, this session with it).
CREATE EXTENSION IF NOT EXISTS dblink;
SELECT dblink_connect('w', 'dbname=' || current_database() || ' host=/tmp port=' || current_setting('port') ||
                      ' user=postgres');
SELECT dblink_exec('w', 'INSERT INTO other (f) VALUES (1)');
SELECT dblink_exec('w', 'CREATE INDEX ON other (v)');  -- a relcache message: the plan is released
SELECT dblink_exec('w', 'INSERT INTO other (f) VALUES (2)');  -- freed here; new plans below
SELECT dblink_exec('w', 'UPDATE other SET f = 3 WHERE f = 2');
SELECT dblink_exec('w', 'DELETE FROM other WHERE f = 3');
SELECT dblink_exec('w', 'INSERT INTO other (f) SELECT g FROM generate_series(1, 5) g');
CREATE TEMP TABLE w AS SELECT pid FROM dblink('w', 'SELECT pg_backend_pid()') AS t(pid int);
SELECT dblink_disconnect('w');
DO $$
BEGIN
  FOR i IN 1 .. 200 LOOP
    EXIT WHEN NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = (SELECT pid FROM w));
    PERFORM pg_sleep(0.05);
  END LOOP;
END $$;
SELECT is((SELECT count(*) FROM pg_stat_activity WHERE pid = (SELECT pid FROM w)), 0::bigint,
          'a writer with cached capture statements exits (and the server, this session included, lives on)');
SELECT is((SELECT count(*) FROM incview.dirty_scope WHERE stage_id = (SELECT id FROM incview.stage WHERE name = 'by_f')
           AND key IS NOT NULL), 12::bigint + 1 + 1 + 2 + 1 + 5, 'and its keys were queued');

SELECT * FROM finish();
