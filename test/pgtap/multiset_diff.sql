-- The diff engine without a unique_key (issue 13 item 6): a stage is a multiset of rows,
-- paired with the query's rows by their whole value, copy by copy. Checked here: copies of
-- a row going 1 -> 2 -> 0 -> 3 -> 1, rows with NULLs pairing with themselves (never
-- rewritten when nothing changed), a row changing value among duplicates, every type
-- family the text-form comparison handles (json, point and xml have no equality operator),
-- a partitioned target (ctids repeat across partitions), whole-table diffs (TRUNCATE
-- markers, rebuild), user columns named like ours, auto choosing diff for a keyless stage
-- read by another one, and downstream stages seeing only real changes. After every step the
-- table is compared with its query twice: incview.verify, and an independent count of each
-- row value on both sides.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_incview;
SET incview.default_policy = manual;
SELECT plan(67);

-- The number of row values whose copy counts differ between a stage's table and its query
-- (0 when equal as multisets, duplicates and NULLs included).
CREATE FUNCTION pg_temp.diverging(stage text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE q text; t regclass; n bigint;
BEGIN
  SELECT s.query, s.target INTO q, t FROM incview.stage s WHERE s.name = stage;
  -- ROW(x.*): a bare x would be a column named x (the typed stage has one).
  EXECUTE format('SELECT count(*) FROM (SELECT ROW(x.*)::text AS r, count(*) AS n FROM %s x GROUP BY 1) a '
                 'FULL JOIN (SELECT ROW(x.*)::text AS r, count(*) AS n FROM (%s) x GROUP BY 1) b ON a.r = b.r '
                 'WHERE a.n IS DISTINCT FROM b.n', t, q) INTO n;
  RETURN n;
END $$;
-- verify and the independent count, as one text: '(0,0) 0' when the table equals its query.
CREATE FUNCTION pg_temp.equal(stage text) RETURNS text LANGUAGE sql AS $$
  SELECT (SELECT row(missing, extra)::text FROM incview.verify(stage)) || ' ' || pg_temp.diverging(stage)
$$;
-- What the stage's last refresh wrote: engine (deleted, inserted, updated).
CREATE FUNCTION pg_temp.last_write(stage text) RETURNS text LANGUAGE sql AS $$
  SELECT l.engine || ' ' || row(l.rows_deleted, l.rows_inserted, l.rows_updated)::text
  FROM incview.refresh_log l WHERE l.stage = last_write.stage ORDER BY l.id DESC LIMIT 1
$$;

-- ------------------------------------------------------------------ copies of one row
CREATE TABLE src (id serial PRIMARY KEY, g int, a int, b text);
CREATE INDEX ON src (g);
INSERT INTO src (g, a, b) SELECT g % 5, g % 3, 'v' || (g % 2) FROM generate_series(1, 40) g;
SELECT lives_ok($$SELECT incview.create_stage('ms', 'SELECT g, a, b FROM src', ARRAY['g'], engine => 'diff')$$,
                'a stage without unique_key takes engine diff');
SELECT is(pg_temp.equal('ms'), '(0,0) 0', 'built equal to its query');
CREATE FUNCTION pg_temp.copies(a_ int, b_ text) RETURNS bigint LANGUAGE sql AS
  $$ SELECT count(*) FROM ms WHERE g = 7 AND a IS NOT DISTINCT FROM a_ AND b IS NOT DISTINCT FROM b_ $$;

INSERT INTO src (g, a, b) VALUES (7, 1, 'x');
SELECT incview.refresh('ms');
SELECT is(pg_temp.copies(1, 'x'), 1::bigint, '0 -> 1 copy');
SELECT is(pg_temp.last_write('ms'), 'diff (0,1,0)', '... one row inserted');
SELECT ctid AS first_copy FROM ms WHERE g = 7 \gset
INSERT INTO src (g, a, b) VALUES (7, 1, 'x');
SELECT incview.refresh('ms');
SELECT is(pg_temp.copies(1, 'x'), 2::bigint, '1 -> 2 copies');
SELECT is(pg_temp.last_write('ms'), 'diff (0,1,0)', '... one row inserted, none deleted');
SELECT is((SELECT count(*) FROM ms WHERE ctid = :'first_copy' AND g = 7), 1::bigint, '... the first copy was not rewritten');
DELETE FROM src WHERE g = 7;
SELECT incview.refresh('ms');
SELECT is(pg_temp.copies(1, 'x'), 0::bigint, '2 -> 0 copies');
SELECT is(pg_temp.last_write('ms'), 'diff (2,0,0)', '... two rows deleted');
INSERT INTO src (g, a, b) SELECT 7, 1, 'x' FROM generate_series(1, 3);
SELECT incview.refresh('ms');
SELECT is(pg_temp.copies(1, 'x'), 3::bigint, '0 -> 3 copies');
DELETE FROM src WHERE id IN (SELECT id FROM src WHERE g = 7 ORDER BY id LIMIT 2);
SELECT incview.refresh('ms');
SELECT is(pg_temp.copies(1, 'x'), 1::bigint, '3 -> 1 copy');
SELECT is(pg_temp.last_write('ms'), 'diff (2,0,0)', '... exactly two copies deleted');
SELECT is(pg_temp.equal('ms'), '(0,0) 0', 'equal to its query after the copies steps');

-- ------------------------------------------------------------------ a value changing among duplicates
INSERT INTO src (g, a, b) SELECT 8, 5, 'y' FROM generate_series(1, 3);
SELECT incview.refresh('ms');
SELECT array_agg(ctid) AS dup_ctids FROM ms WHERE g = 8 \gset
UPDATE src SET a = 6 WHERE id = (SELECT max(id) FROM src WHERE g = 8);
SELECT incview.refresh('ms');
SELECT is((SELECT array_agg(a ORDER BY a) FROM ms WHERE g = 8), ARRAY[5, 5, 6], 'one of three copies changed value');
SELECT is(pg_temp.last_write('ms'), 'diff (1,1,0)', '... one copy deleted, the new value inserted');
SELECT is((SELECT count(*) FROM ms WHERE g = 8 AND a = 5 AND ctid = ANY(:'dup_ctids'::tid[])), 2::bigint,
          '... the two unchanged copies were not rewritten');
-- every copy changes value
UPDATE src SET b = 'z' WHERE g = 8;
SELECT incview.refresh('ms');
SELECT is(pg_temp.last_write('ms'), 'diff (3,3,0)', 'all copies changing value: three out, three in');
SELECT is(pg_temp.equal('ms'), '(0,0) 0', 'equal to its query after the value changes');

-- ------------------------------------------------------------------ NULLs pair with NULLs
INSERT INTO src (g, a, b) VALUES (9, NULL, NULL), (9, NULL, NULL), (9, NULL, ''), (9, 0, NULL), (NULL, NULL, NULL),
                                 (NULL, NULL, NULL), (NULL, 1, NULL);
SELECT incview.refresh('ms');
SELECT is(pg_temp.equal('ms'), '(0,0) 0', 'rows with NULLs (and NULL scopes) built equal');
SELECT is((SELECT count(*) FROM ms WHERE g = 9 AND a IS NULL AND b IS NULL), 2::bigint, 'two all-NULL copies');
SELECT is((SELECT count(*) FROM ms WHERE g = 9 AND a IS NULL AND b = ''), 1::bigint, 'NULL is not the empty string');
-- a change that dirties the scopes without changing a row: nothing is written
UPDATE src SET b = b WHERE g = 9 OR g IS NULL;
SELECT is((SELECT dirty_scopes FROM incview.stages WHERE name = 'ms'), 2::bigint, 'scope 9 and the NULL scope are dirty');
SELECT incview.refresh('ms');
SELECT is(pg_temp.last_write('ms'), 'diff (0,0,0)', 'unchanged rows with NULLs pair with themselves: nothing rewritten');
-- a NULL row becomes another NULL row, one of two copies
UPDATE src SET b = 'n' WHERE id = (SELECT max(id) FROM src WHERE g IS NULL AND a IS NULL);
UPDATE src SET a = NULL WHERE g = 9 AND a = 0;
SELECT incview.refresh('ms');
SELECT is(pg_temp.last_write('ms'), 'diff (2,2,0)', 'two NULL-containing rows changed: two out, two in');
SELECT is((SELECT count(*) FROM ms WHERE g = 9 AND a IS NULL AND b IS NULL), 3::bigint, 'now three all-NULL copies in scope 9');
SELECT is(pg_temp.equal('ms'), '(0,0) 0', 'equal to its query after the NULL changes');

-- ------------------------------------------------------------------ every type family
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE pair AS (x int, y text);
CREATE DOMAIN pos AS int CHECK (VALUE > 0);
CREATE TABLE typed (id serial PRIMARY KEY, g int NOT NULL, i int, n numeric, f float8, r real, t text,
                    c char(3), by bytea, ts timestamptz, d date, iv interval, bo bool, u uuid, ip inet,
                    rg int4range, arr int[], js json, jb jsonb, pt point, bx box, x xml, e mood,
                    p pair, dm pos, bits varbit, tv tsvector);
CREATE INDEX ON typed (g);
-- Values from small domains (many duplicates), NULL in every column now and then.
CREATE FUNCTION pg_temp.typed_rows(seed float8, n int) RETURNS SETOF typed LANGUAGE plpgsql AS $$
DECLARE k int; v int;
BEGIN
  PERFORM setseed(seed);
  FOR k IN 1 .. n LOOP
    v := floor(random() * 3)::int;
    RETURN QUERY SELECT 0, floor(random() * 4)::int,
      CASE WHEN random() < 0.1 THEN NULL ELSE v END,
      CASE WHEN random() < 0.1 THEN NULL ELSE (ARRAY[1.0, 1.00, 2.5])[v + 1]::numeric END,
      CASE WHEN random() < 0.1 THEN NULL ELSE (ARRAY['0', '-0', 'NaN'])[v + 1]::float8 END,
      CASE WHEN random() < 0.1 THEN NULL ELSE (v / 3.0)::real END,
      CASE WHEN random() < 0.1 THEN NULL ELSE (ARRAY['', 'a b', 'NULL'])[v + 1] END,
      (CASE WHEN random() < 0.1 THEN NULL ELSE (ARRAY['a', 'a  ', 'bc'])[v + 1] END)::char(3),
      CASE WHEN random() < 0.1 THEN NULL ELSE (ARRAY['\x00', '\x', '\xff01'])[v + 1]::bytea END,
      CASE WHEN random() < 0.1 THEN NULL ELSE timestamptz '2024-01-01 00:00+00' + v * interval '1 hour' END,
      CASE WHEN random() < 0.1 THEN NULL ELSE date '2024-02-28' + v END,
      CASE WHEN random() < 0.1 THEN NULL ELSE (ARRAY['1 day', '24 hours', '0'])[v + 1]::interval END,
      CASE WHEN random() < 0.1 THEN NULL ELSE v = 1 END,
      CASE WHEN random() < 0.1 THEN NULL ELSE ('00000000-0000-0000-0000-00000000000' || v)::uuid END,
      CASE WHEN random() < 0.1 THEN NULL ELSE (ARRAY['10.0.0.1', '10.0.0.1/8', '::1'])[v + 1]::inet END,
      CASE WHEN random() < 0.1 THEN NULL ELSE (ARRAY['[1,3)', 'empty', '[2,)'])[v + 1]::int4range END,
      CASE WHEN random() < 0.1 THEN NULL ELSE (ARRAY['{}', '{1,NULL}', '{2}'])[v + 1]::int[] END,
      CASE WHEN random() < 0.1 THEN NULL ELSE (ARRAY['{"a":1}', '{"a": 1}', '[null]'])[v + 1]::json END,
      CASE WHEN random() < 0.1 THEN NULL ELSE (ARRAY['{"a":1}', '{"a": 1.0}', 'null'])[v + 1]::jsonb END,
      CASE WHEN random() < 0.1 THEN NULL ELSE point(v, -v) END,
      CASE WHEN random() < 0.1 THEN NULL ELSE box(point(0, 0), point(v, v)) END,
      CASE WHEN random() < 0.1 THEN NULL ELSE (ARRAY['<a/>', '<a></a>', 'text'])[v + 1]::xml END,
      CASE WHEN random() < 0.1 THEN NULL ELSE (enum_range(NULL::mood))[v + 1] END,
      CASE WHEN random() < 0.1 THEN NULL ELSE (ARRAY['(1,)', '(1,"")', '(,)'])[v + 1]::pair END,
      (CASE WHEN random() < 0.1 THEN NULL ELSE v + 1 END)::pos,
      CASE WHEN random() < 0.1 THEN NULL ELSE (ARRAY['1', '01', ''])[v + 1]::varbit END,
      CASE WHEN random() < 0.1 THEN NULL ELSE (ARRAY['a b', 'b a', ''])[v + 1]::tsvector END;
  END LOOP;
END $$;
INSERT INTO typed (g, i, n, f, r, t, c, by, ts, d, iv, bo, u, ip, rg, arr, js, jb, pt, bx, x, e, p, dm, bits, tv)
SELECT g, i, n, f, r, t, c, by, ts, d, iv, bo, u, ip, rg, arr, js, jb, pt, bx, x, e, p, dm, bits, tv
FROM pg_temp.typed_rows(0.5, 200);
SELECT lives_ok($$SELECT incview.create_stage('typed_ms', 'SELECT g, i, n, f, r, t, c, by, ts, d, iv, bo, u, ip, rg, arr, js, jb, pt, bx, x, e, p, dm, bits, tv FROM typed',
                                              ARRAY['g'], engine => 'diff')$$,
                'a keyless diff stage over every type family, json, point, box and xml included (no equality operator)');
SELECT is(pg_temp.equal('typed_ms'), '(0,0) 0', 'typed: built equal');
-- Values equal by their type's = but different as text are rewritten (the table shows
-- what the query returns): numeric scale, -0, json spacing, interval spelling.
UPDATE typed SET n = 1.00 WHERE n = 1.0 AND g = 1;
UPDATE typed SET f = '-0' WHERE f = '0' AND g = 1;
UPDATE typed SET js = '{"a": 1}' WHERE js::text = '{"a":1}' AND g = 1;
UPDATE typed SET iv = '24 hours' WHERE iv = '1 day' AND g = 1;
SELECT incview.refresh('typed_ms');
SELECT is(pg_temp.equal('typed_ms'), '(0,0) 0', 'typed: equal after changes invisible to = but visible as text');
SELECT is((SELECT count(*) FROM typed_ms WHERE g = 1 AND (n::text = '1.0' OR f::text = '0' OR js::text = '{"a":1}'
                                                          OR iv::text = '1 day')), 0::bigint,
          'typed: the table holds the new text forms');
-- A no-op rewrite of every source row: nothing is written.
UPDATE typed SET g = g;
SELECT incview.refresh('typed_ms');
SELECT is(pg_temp.last_write('typed_ms'), 'diff (0,0,0)', 'typed: every scope dirty, nothing changed, nothing written');
-- Random rounds: new rows, deletions, rows changing one column to another small-domain value.
CREATE FUNCTION pg_temp.typed_round(rnd int) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO typed (g, i, n, f, r, t, c, by, ts, d, iv, bo, u, ip, rg, arr, js, jb, pt, bx, x, e, p, dm, bits, tv)
  SELECT g, i, n, f, r, t, c, by, ts, d, iv, bo, u, ip, rg, arr, js, jb, pt, bx, x, e, p, dm, bits, tv
  FROM pg_temp.typed_rows(rnd / 10.0, 15);
  PERFORM setseed(rnd / 10.0 + 0.05);
  DELETE FROM typed WHERE id IN (SELECT id FROM typed ORDER BY random() LIMIT 10);
  UPDATE typed SET (js, pt, x, p, n) = (SELECT y.js, y.pt, y.x, y.p, y.n FROM pg_temp.typed_rows(rnd / 10.0 + 0.02, 1) y)
  WHERE id IN (SELECT id FROM typed ORDER BY random() LIMIT 10);
  UPDATE typed SET g = (g + 1) % 4 WHERE id IN (SELECT id FROM typed ORDER BY random() LIMIT 5);
  PERFORM set_config('incview.batch_size', CASE WHEN rnd % 2 = 1 THEN '1' ELSE '1000' END, false);
  PERFORM incview.refresh('typed_ms');
  RETURN pg_temp.equal('typed_ms');
END $$;
SELECT is(pg_temp.typed_round(r), '(0,0) 0', 'typed round ' || r || ': equal to its query') FROM generate_series(1, 6) r;
RESET incview.batch_size;
SELECT ok((SELECT sum(rows_deleted) > 0 AND sum(rows_inserted) > 0 FROM incview.refresh_log WHERE stage = 'typed_ms'),
          'typed rounds deleted and inserted rows');

-- ------------------------------------------------------------------ a random differential over duplicates
-- Two stages that are multisets by shape: a projection dropping the id (duplicates), and a
-- join fanning out (a row per match).
CREATE TABLE tags (g int, tag text);
INSERT INTO tags SELECT g % 6, 't' || (g % 3) FROM generate_series(1, 12) g;
SELECT incview.create_stage('proj', 'SELECT g, a % 2 AS parity, b FROM src', ARRAY['g'], engine => 'diff');
SELECT incview.create_stage('fan', 'SELECT s.g, t.tag, s.b FROM src s JOIN tags t ON t.g = s.g', ARRAY['g'], engine => 'diff');
CREATE TEMP TABLE fan_marker (r int, all_dirty bool);
CREATE FUNCTION pg_temp.dup_round(r int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE out text := '';
BEGIN
  PERFORM setseed(r / 20.0);
  INSERT INTO src (g, a, b)
  SELECT CASE WHEN random() < 0.1 THEN NULL ELSE floor(random() * 6)::int END, floor(random() * 3)::int,
         CASE WHEN random() < 0.2 THEN NULL ELSE 'v' || floor(random() * 2)::int END
  FROM generate_series(1, 8);
  DELETE FROM src WHERE id IN (SELECT id FROM src ORDER BY random() LIMIT 6);
  UPDATE src SET a = floor(random() * 3)::int WHERE id IN (SELECT id FROM src ORDER BY random() LIMIT 6);
  UPDATE src SET g = floor(random() * 6)::int WHERE id IN (SELECT id FROM src ORDER BY random() LIMIT 3);
  IF r % 3 = 0 THEN
    INSERT INTO tags VALUES (floor(random() * 6)::int, 't' || floor(random() * 3)::int);
    DELETE FROM tags WHERE ctid = (SELECT ctid FROM tags ORDER BY random() LIMIT 1);
  END IF;
  IF r = 5 THEN TRUNCATE tags; INSERT INTO tags SELECT g % 6, 't' || (g % 2) FROM generate_series(1, 9) g; END IF;
  PERFORM set_config('incview.batch_size', CASE WHEN r % 2 = 1 THEN '2' ELSE '1000' END, false);
  INSERT INTO fan_marker SELECT r, st.all_dirty FROM incview.stages st WHERE st.name = 'fan';
  PERFORM incview.refresh('proj');
  PERFORM incview.refresh('fan');
  RETURN pg_temp.equal('proj') || ' / ' || pg_temp.equal('fan');
END $$;
SELECT is(pg_temp.dup_round(r), '(0,0) 0 / (0,0) 0', 'duplicates round ' || r || ': both stages equal to their queries')
FROM generate_series(1, 8) r;
RESET incview.batch_size;
SELECT ok((SELECT count(*) FROM (SELECT g, parity, b FROM proj GROUP BY 1, 2, 3 HAVING count(*) > 1) d) > 0,
          'the projection really holds duplicate rows');
SELECT is((SELECT array_agg(DISTINCT engine ORDER BY engine) FROM incview.refresh_log WHERE stage IN ('proj', 'fan')),
          ARRAY['diff', 'full'], 'they ran diff batches (and the first build, logged full)');
SELECT is((SELECT array_agg(r) FROM fan_marker WHERE all_dirty), ARRAY[5],
          'the TRUNCATE round refreshed fan from an every-scope marker (a whole-table diff)');

-- ------------------------------------------------------------------ whole-table diff and rebuild
SELECT incview.refresh('ms');
SELECT ctid AS keep_ctid FROM ms WHERE g = 8 LIMIT 1 \gset
SELECT incview.rebuild('ms');
SELECT is(pg_temp.last_write('ms'), 'diff (0,0,0)', 'rebuild of a keyless diff stage is a whole-table diff: nothing changed, nothing written');
SELECT is((SELECT count(*) FROM ms WHERE ctid = :'keep_ctid'), 1::bigint, '... rows stay where they were');
TRUNCATE src;
INSERT INTO src (g, a, b) VALUES (1, 1, 'x'), (1, 1, 'x'), (NULL, NULL, NULL);
SELECT incview.refresh('ms');
SELECT is(pg_temp.equal('ms'), '(0,0) 0', 'after TRUNCATE (every-scope marker) the whole-table diff is equal');
SELECT is((SELECT count(*) FROM ms), 3::bigint, '... three rows, two of them copies');

-- ------------------------------------------------------------------ names like ours
SELECT lives_ok($$SELECT incview.create_stage('names', 'SELECT g, a AS incview_row, b AS incview_n, 1 AS incview_rec, 2 AS f, 3 AS f1, 4 AS t FROM src',
                                              ARRAY['g'], engine => 'diff')$$,
                'columns named incview_row, incview_n, incview_rec, f, f1, t');
INSERT INTO src (g, a, b) VALUES (1, 1, 'x'), (2, 2, 'y');
DELETE FROM src WHERE g IS NULL;
SELECT incview.refresh('names');
SELECT is(pg_temp.equal('names'), '(0,0) 0', '... refresh by diff and stay equal');
SELECT is(pg_temp.last_write('names'), 'diff (1,2,0)', '... writing only the changes');

-- ------------------------------------------------------------------ a partitioned target
-- The copies to delete are picked by (tableoid, ctid): every partition's first row is (0,1).
CREATE TABLE psrc (id serial PRIMARY KEY, g int, v text);
INSERT INTO psrc (g, v) VALUES (1, 'a'), (2, 'a'), (3, 'a');
SELECT incview.create_stage('parted', 'SELECT g, v FROM psrc', ARRAY['g'], engine => 'diff', partition_by => 'list (g)');
SELECT is((SELECT array_agg(DISTINCT ctid::text) FROM parted), ARRAY['(0,1)'], 'each partition holds one row, all at ctid (0,1)');
UPDATE psrc SET v = 'changed' WHERE g = 2;
UPDATE psrc SET v = v WHERE g IN (1, 3);   -- scopes 1 and 3 dirty in the same batch, nothing changes there
SELECT incview.refresh('parted');
SELECT is(pg_temp.last_write('parted'), 'diff (1,1,0)', 'partitioned: one row out, one in');
SELECT is((SELECT array_agg(g || v ORDER BY g) FROM parted), ARRAY['1a', '2changed', '3a'],
          'partitioned: the other partitions kept their rows');

-- ------------------------------------------------------------------ auto, downstream stages
-- A keyless stage read by another one: auto uses diff, so the reader sees only real changes.
INSERT INTO src (g, a, b) SELECT g, g, 'w' FROM generate_series(10, 29) g;   -- enough scopes for batches
SELECT incview.create_stage('up', 'SELECT g, a, b FROM src', ARRAY['g']);
-- The reader captures keys (engine replace), so the scopes the upstream dirties are listed in
-- its queue (auto would choose delta for this GROUP BY: core/delta_crossover).
SELECT incview.create_stage('down', 'SELECT g, count(*) AS n, count(b) AS nb FROM up GROUP BY g', ARRAY['g'], ARRAY['g'],
                            engine => 'replace');
INSERT INTO src (g, a, b) VALUES (3, 3, 'p'), (3, 3, 'p'), (4, 4, 'q');
SELECT incview.refresh('up');
SELECT is(pg_temp.last_write('up'), 'diff (0,3,0)', 'auto on a keyless stage with a reader: diff');
SELECT incview.refresh('down');
SELECT is(pg_temp.equal('down'), '(0,0) 0', 'the reader is equal to its query');
UPDATE src SET a = a WHERE g IN (1, 3);   -- scopes 1 and 3 dirty, no row changes
UPDATE src SET b = NULL WHERE g = 4;      -- scope 4: one real change
SELECT incview.refresh('up');
SELECT is(pg_temp.last_write('up'), 'diff (1,1,0)', 'only the real change was written upstream');
SELECT is((SELECT array_agg(DISTINCT key::text) FROM incview.queued_keys d JOIN incview.stage s ON s.id = d.stage_id
           WHERE s.name = 'down'), ARRAY['[4]'], 'the reader has only scope 4 dirty');
SELECT incview.refresh('down');
SELECT is(pg_temp.equal('down'), '(0,0) 0', 'the reader is equal to its query after refresh');
-- The same no-op under replace rewrites scopes 1 and 3 and dirties them downstream.
SELECT incview.set_engine('up', 'replace');
UPDATE src SET a = a WHERE g IN (1, 3);
SELECT incview.refresh('up');
SELECT is((SELECT array_agg(DISTINCT key::text) FROM incview.queued_keys d JOIN incview.stage s ON s.id = d.stage_id
           WHERE s.name = 'down'), ARRAY['[1]', '[3]'], '(replace: the same no-op dirties scopes 1 and 3 downstream)');
SELECT incview.set_engine('up', 'diff');
SELECT is((SELECT batches FROM (SELECT substring(incview.explain('up') FROM 'batches use ([a-z]+)') AS batches) x), 'diff',
          'explain says the batches use diff');
SELECT incview.set_engine('up', 'auto');
SELECT incview.drop_stage('down');
SELECT is((SELECT substring(incview.explain('up') FROM 'batches use ([a-z]+)')), 'replace',
          'auto without a reader: replace (cheaper)');

SELECT * FROM finish();
