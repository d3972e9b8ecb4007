-- Engine replace writes only the rows that changed (core/replace_changes_sql.hpp; issue 12,
-- item 4): for a stage with a unique_key, a scoped refresh deletes the current rows with no
-- identical fresh row and inserts the fresh rows with no identical current row, "identical"
-- being record image equality (`*=`). Each case changes one thing the type's `=` may call
-- equal but the bytes do not (1.0 and 1.00, -0 and 0, case, arrays, jsonb, composites,
-- NULLs), refreshes, and checks the table equals the query (verify), that refresh_log counts
-- the rows written, and that an unchanged scope writes nothing (its rows keep their ctid).
-- Also: a domain column, a table with dropped columns (delta's hidden columns dropped), a
-- partitioned stage, a stage without unique_key (DELETE + INSERT, duplicates kept), and a
-- downstream stage, which must only be queued for scopes whose rows changed.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_incview;
SELECT plan(38);
SET incview.default_policy = 'manual';
SET extra_float_digits = 1;

CREATE TYPE rc_pair AS (a int, b text);
CREATE DOMAIN rc_pos AS numeric(10, 2) CHECK (VALUE >= 0);
-- Case-insensitive: 'row2' = 'ROW2' by this collation's =, not by their bytes.
CREATE COLLATION rc_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE TABLE rc_src (p int, k int, num numeric, txt text COLLATE rc_ci, arr int[], j jsonb, c rc_pair, f float8, d rc_pos);
INSERT INTO rc_src
SELECT g % 5, g, g * 1.0, 'row' || g, ARRAY[g, g + 1], jsonb_build_object('g', g), ROW(g, 'c' || g)::rc_pair,
       g / 4.0, g
FROM generate_series(1, 50) g;
INSERT INTO rc_src VALUES (1, NULL, NULL, NULL, NULL, NULL, NULL, 'NaN', NULL);  -- NULL key, NULLs, NaN
INSERT INTO rc_src VALUES (0, 0, NULL, NULL, NULL, NULL, NULL, 'NaN', NULL);     -- NULLs, NaN
SELECT incview.create_stage('rc', 'SELECT p, k, num, txt, arr, j, c, f, d FROM rc_src', ARRAY['p'],
                            unique_key => ARRAY['k'], engine => 'replace');

-- The last refresh's counts, and refreshing scopes by hand.
CREATE FUNCTION pg_temp.last_counts() RETURNS text LANGUAGE sql AS
  $$ SELECT rows_deleted || '/' || rows_inserted || '/' || rows_updated FROM incview.refresh_log
     WHERE stage = 'rc' ORDER BY id DESC LIMIT 1 $$;
CREATE FUNCTION pg_temp.ok_after(label text) RETURNS text LANGUAGE sql AS
  $$ SELECT is((SELECT missing::text || ',' || extra FROM incview.verify('rc')), '0,0', label || ': table = query') $$;
CREATE TEMP TABLE ctids AS SELECT k, ctid AS c FROM rc;

-- 1. Nothing changed: nothing written, no row moved (a row with a NULL in its key pairs with
-- nothing by the key's =, so it is rewritten: one delete and one insert, in scope 1).
SELECT incview.refresh_scopes('rc', '[0, 2, 3, 4]');
SELECT is(pg_temp.last_counts(), '0/0/0', 'an unchanged refresh writes no row');
SELECT is((SELECT count(*) FROM rc JOIN ctids USING (k) WHERE rc.ctid = ctids.c)::int, 51,
          'every row keeps its ctid (NULLs and NaN in k = 0 too)');
SELECT incview.refresh_scopes('rc', '[1]');
SELECT is(pg_temp.last_counts(), '1/1/0', 'the row with a NULL key is rewritten, the rest of its scope not');
SELECT is((SELECT count(*) FROM rc WHERE k IS NULL AND f = 'NaN' AND num IS NULL)::int, 1,
          'the NULL-key row with NULLs and NaN is there once');

-- 2. numeric 1.0 -> 1.00: equal by =, not identical.
UPDATE rc_src SET num = 1.00 WHERE k = 1;
SELECT incview.refresh_scopes('rc', '[1]');
SELECT is(pg_temp.last_counts(), '2/2/0', '1.0 -> 1.00: one row rewritten (and the NULL-key row)');
SELECT is((SELECT num::text FROM rc WHERE k = 1), '1.00', '1.00 stored');
SELECT pg_temp.ok_after('numeric scale');

-- 3. text case, array, jsonb, composite, NULL <-> value, each one row of its own scope.
UPDATE rc_src SET txt = 'ROW2' WHERE k = 2;
UPDATE rc_src SET arr = ARRAY[3, 4, NULL] WHERE k = 3;
UPDATE rc_src SET j = '{"g": 4.0}' WHERE k = 4;
UPDATE rc_src SET c = ROW(5, 'C5') WHERE k = 5;
UPDATE rc_src SET txt = NULL WHERE k = 6;
SELECT incview.refresh_scopes('rc', '[0, 1, 2, 3, 4]');
SELECT is(pg_temp.last_counts(), '6/6/0', 'five changed rows (and the NULL-key row): deleted, inserted');
SELECT is((SELECT txt COLLATE "C" FROM rc WHERE k = 2), 'ROW2', 'text case under a case-insensitive collation');
SELECT is((SELECT arr FROM rc WHERE k = 3), ARRAY[3, 4, NULL], 'array with a NULL');
SELECT is((SELECT j::text FROM rc WHERE k = 4), '{"g": 4.0}', 'jsonb 4 -> 4.0');
SELECT is((SELECT (c).b FROM rc WHERE k = 5), 'C5', 'composite field');
SELECT is((SELECT txt COLLATE "C" FROM rc WHERE k = 6), NULL, 'value -> NULL');
SELECT pg_temp.ok_after('text, array, jsonb, composite, NULL');

-- 4. floats: 0 -> -0 is rewritten; NaN -> NaN is not.
UPDATE rc_src SET f = 0 WHERE k = 7;
SELECT incview.refresh_scopes('rc', '[2]');
UPDATE rc_src SET f = '-0' WHERE k = 7;
UPDATE rc_src SET f = 'NaN' WHERE k = 0;
SELECT incview.refresh_scopes('rc', '[0, 2]');
SELECT is(pg_temp.last_counts(), '1/1/0', '0 -> -0 rewritten, NaN -> NaN not');
SELECT is((SELECT f::text FROM rc WHERE k = 7), '-0', '-0 stored');
SELECT pg_temp.ok_after('floats');

-- 5. Rows gone, rows new, a NULL key's row changed; the domain column's value changed.
DELETE FROM rc_src WHERE k = 8;
INSERT INTO rc_src VALUES (3, 100, 1, 'new', NULL, NULL, NULL, 1, 1);
UPDATE rc_src SET txt = 'null key' WHERE k IS NULL;
UPDATE rc_src SET d = 9.5 WHERE k = 9;
SELECT incview.refresh_scopes('rc', '[1, 3, 4]');
SELECT is(pg_temp.last_counts(), '3/3/0', 'deleted: 8, old NULL-key and k 9 rows; inserted: 100 and the new versions');
SELECT is((SELECT d::text FROM rc WHERE k = 9), '9.50', 'the domain column: compared as its base type, stored as the column');
SELECT pg_temp.ok_after('rows gone and new');

-- 6. A key whose row moves to another scope: both scopes refreshed.
UPDATE rc_src SET p = 4 WHERE k = 10;
SELECT incview.refresh_scopes('rc', '[0, 4]');
SELECT is(pg_temp.last_counts(), '1/1/0', 'a row moving between scopes');
SELECT pg_temp.ok_after('scope move');

-- 7. The scheduler's path (incview.refresh of captured keys) counts the same way.
UPDATE rc_src SET num = num + 1 WHERE k IN (11, 12);
SELECT incview.refresh('rc');
SELECT is(pg_temp.last_counts(), '3/3/0', 'incview.refresh: two rows of two scopes written (and the NULL-key row)');
SELECT pg_temp.ok_after('captured keys');

-- 8. A table with dropped columns: delta's hidden columns, dropped when it leaves delta,
-- so the table's attributes no longer line up with the query's columns.
CREATE TABLE rc_ev (p int, v int);
INSERT INTO rc_ev SELECT g % 4, g FROM generate_series(1, 40) g;
SELECT incview.create_stage('rc_agg', 'SELECT p, count(*) AS n, sum(v) AS s FROM rc_ev GROUP BY p', ARRAY['p'],
                            unique_key => ARRAY['p'], engine => 'delta');
SELECT incview.set_engine('rc_agg', 'replace');
SELECT ok((SELECT count(*) FROM pg_attribute WHERE attrelid = 'rc_agg'::regclass AND attisdropped) > 0,
          'rc_agg has dropped columns');
INSERT INTO rc_ev VALUES (1, 1000);
SELECT incview.refresh_scopes('rc_agg', '[0, 1, 2, 3]');
SELECT is((SELECT rows_deleted || '/' || rows_inserted FROM incview.refresh_log WHERE stage = 'rc_agg'
           ORDER BY id DESC LIMIT 1), '1/1', 'dropped columns: only the changed group written');
SELECT is((SELECT missing::text || ',' || extra FROM incview.verify('rc_agg')), '0,0', 'rc_agg: table = query');
SELECT incview.set_engine('rc_agg', 'delta');  -- hidden columns added again
SELECT incview.set_engine('rc_agg', 'replace');
UPDATE rc_ev SET v = v + 1 WHERE v = 1000;
SELECT incview.refresh_scopes('rc_agg', '[1, 2]');
SELECT is((SELECT rows_deleted || '/' || rows_inserted FROM incview.refresh_log WHERE stage = 'rc_agg'
           ORDER BY id DESC LIMIT 1), '1/1', 'columns dropped twice: one group written');
SELECT is((SELECT missing::text || ',' || extra FROM incview.verify('rc_agg')), '0,0', 'rc_agg again: table = query');

-- 9. A partitioned stage (list partitions created on demand), a composite scope.
CREATE TABLE rc_games (season int, game int, pts int);
INSERT INTO rc_games SELECT g % 3, g, g FROM generate_series(1, 30) g;
SELECT incview.create_stage('rc_part', 'SELECT season, game, pts FROM rc_games', ARRAY['season', 'game'],
                            unique_key => ARRAY['season', 'game'], partition_by => 'list (season)');
UPDATE rc_games SET pts = 0 WHERE game = 5;
INSERT INTO rc_games VALUES (7, 6, 1);  -- a new partition
SELECT incview.refresh_scopes('rc_part', '[[2, 5], [7, 6], [0, 9]]');  -- (0, 9) unchanged
SELECT is((SELECT rows_deleted || '/' || rows_inserted FROM incview.refresh_log WHERE stage = 'rc_part'
           ORDER BY id DESC LIMIT 1), '1/2', 'partitioned: the changed row and the new one, in a new partition');
SELECT is((SELECT missing::text || ',' || extra FROM incview.verify('rc_part')), '0,0', 'rc_part: table = query');

-- 10. No unique_key: a multiset, DELETE + INSERT of the scope (duplicates kept exactly).
CREATE TABLE rc_dup (p int, v int);
INSERT INTO rc_dup VALUES (1, 1), (1, 1), (1, 2), (2, 5);
SELECT incview.create_stage('rc_ms', 'SELECT p, v FROM rc_dup', ARRAY['p'], engine => 'replace');
DELETE FROM rc_dup WHERE ctid = (SELECT min(ctid) FROM rc_dup WHERE v = 1);
SELECT incview.refresh_scopes('rc_ms', '[1]');
SELECT is((SELECT rows_deleted || '/' || rows_inserted FROM incview.refresh_log WHERE stage = 'rc_ms'
           ORDER BY id DESC LIMIT 1), '3/2', 'without unique_key the scope is deleted and inserted again');
SELECT is((SELECT count(*) FROM rc_ms WHERE v = 1)::int, 1, 'one copy of (1, 1) left');
SELECT is((SELECT missing::text || ',' || extra FROM incview.verify('rc_ms')), '0,0', 'rc_ms: table = query');

-- 11. A downstream stage: queued only for the scopes whose rows changed, and exact.
SELECT incview.create_stage('rc_down', 'SELECT p, count(*) AS n, sum(num) AS total FROM rc GROUP BY p', ARRAY['p'],
                            unique_key => ARRAY['p'], engine => 'replace');
SELECT incview.refresh_scopes('rc', '[0, 2, 3, 4]');  -- nothing changed upstream (scope 1 has the NULL key)
SELECT is((SELECT dirty_scopes FROM incview.stages WHERE name = 'rc_down')::int, 0,
          'an unchanged upstream refresh queues nothing downstream');
UPDATE rc_src SET num = 42 WHERE k = 13;
SELECT incview.refresh_scopes('rc', '[0, 2, 3, 4]');
SELECT is((SELECT dirty_scopes FROM incview.stages WHERE name = 'rc_down')::int, 1,
          'one changed upstream row queues its one scope downstream');
SELECT incview.refresh('rc_down');
SELECT is((SELECT missing::text || ',' || extra FROM incview.verify('rc_down')), '0,0', 'rc_down: table = query');
SELECT is((SELECT total FROM rc_down WHERE p = 3), (SELECT sum(num) FROM rc_src WHERE p = 3), 'rc_down has the new total');

SELECT * FROM finish();
