-- Full rebuilds by storage swap (issue 12, docs/rebuild.md): the new contents are built
-- beside the table and its storage swapped in; everything attached to the table survives.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pg_incview;
SET LOCAL incview.default_policy = manual;
SET LOCAL client_min_messages = warning;
SELECT plan(39);

CREATE ROLE swap_reader;
CREATE ROLE swap_stranger;
CREATE TABLE swap_src (id int PRIMARY KEY, g int, v text);
-- Every 500th row carries a value long enough to be stored out of line (TOAST).
INSERT INTO swap_src SELECT i, i % 40, CASE WHEN i % 500 = 0 THEN repeat(md5(i::text), 200) ELSE 'v' || i END
FROM generate_series(1, 4000) i;
SELECT incview.create_stage('swap_agg',
  'SELECT g, count(*) AS n, string_agg(v, '','' ORDER BY id) AS vs FROM swap_src GROUP BY g',
  ARRAY['g'], unique_key => ARRAY['g'], engine => 'full', indexes => ARRAY['(n)']);
SELECT incview.create_stage('swap_down', 'SELECT g, n * 2 AS n2 FROM swap_agg', ARRAY['g']);
CREATE VIEW swap_agg_view AS SELECT g, n FROM swap_agg WHERE n > 0;
GRANT SELECT ON swap_agg TO swap_reader;
GRANT SELECT ON swap_agg_view TO swap_reader;
ALTER TABLE swap_agg ENABLE ROW LEVEL SECURITY;
CREATE POLICY swap_low ON swap_agg FOR SELECT TO swap_reader USING (g < 10);
COMMENT ON TABLE swap_agg IS 'aggregates per g';
COMMENT ON COLUMN swap_agg.n IS 'rows per g';

CREATE TEMP TABLE before_swap AS
  SELECT c.oid, c.relname, c.relfilenode, c.reltoastrelid FROM pg_class c
  WHERE c.oid IN (SELECT 'swap_agg'::regclass UNION ALL SELECT indexrelid FROM pg_index WHERE indrelid = 'swap_agg'::regclass);
CREATE TEMP TABLE triggers_before AS
  SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'swap_agg'::regclass AND NOT tgisinternal;

-- ------------------------------------------------------------------ a full refresh swaps
UPDATE swap_src SET g = (g + 1) % 40 WHERE id % 7 = 0;
SELECT cmp_ok(incview.refresh('swap_agg'), '>', 0::bigint, 'a full refresh re-derives the dirty scopes');
SELECT isnt((SELECT relfilenode FROM pg_class WHERE oid = 'swap_agg'::regclass),
            (SELECT relfilenode FROM before_swap WHERE oid = 'swap_agg'::regclass),
            'the table has new storage: the rebuild was swapped in');
SELECT is((SELECT count(*)::int FROM before_swap b JOIN pg_class c ON c.oid = b.oid WHERE c.relfilenode = b.relfilenode), 0,
          'so do all its indexes');
SELECT is((SELECT row(missing, extra)::text FROM incview.verify('swap_agg')), '(0,0)', 'the contents are the query''s');
SELECT is((SELECT sum(length(vs))::bigint FROM swap_agg),
          (SELECT sum(length(v)) + count(*) - 40 FROM swap_src)::bigint, 'out-of-line values read back whole');
SELECT is((SELECT relname::text FROM pg_class WHERE oid = (SELECT reltoastrelid FROM pg_class WHERE oid = 'swap_agg'::regclass)),
          'pg_toast_' || 'swap_agg'::regclass::oid, 'its TOAST table is named after it again');
SELECT is((SELECT count(*)::int FROM pg_class WHERE relname LIKE 'pg_temp_%' AND relnamespace = 'public'::regnamespace), 0,
          'no transient heap is left behind');
SELECT is((SELECT count(*)::int FROM pg_class WHERE relname LIKE '%incview_swap%'), 0, 'nor transient indexes');

-- Everything that hangs on the table's identity.
SELECT ok(has_table_privilege('swap_reader', 'swap_agg', 'SELECT'), 'grants survive');
SELECT is((SELECT count(*)::int FROM pg_policy WHERE polrelid = 'swap_agg'::regclass), 1, 'the RLS policy survives');
SELECT ok((SELECT relrowsecurity FROM pg_class WHERE oid = 'swap_agg'::regclass), 'row level security stays enabled');
SET LOCAL ROLE swap_reader;
SELECT is((SELECT count(*)::int FROM swap_agg), 10, 'and is enforced on the new rows');
SELECT is((SELECT count(*)::int FROM swap_agg_view), 40, 'a view over the table reads the new rows');
RESET ROLE;
SELECT is(obj_description('swap_agg'::regclass, 'pg_class'), 'aggregates per g', 'the table comment survives');
SELECT is(col_description('swap_agg'::regclass, 2), 'rows per g', 'the column comment survives');
SELECT is((SELECT array_agg(relname::text ORDER BY relname) FROM pg_class WHERE oid IN (SELECT indexrelid FROM pg_index
             WHERE indrelid = 'swap_agg'::regclass AND indisvalid AND indisready)),
          (SELECT array_agg(relname::text ORDER BY relname) FROM before_swap WHERE oid <> 'swap_agg'::regclass),
          'every index (unique key, declared) survives, valid');
SELECT is((SELECT count(*)::int FROM incview.stage_index si JOIN incview.stage s ON s.id = si.stage_id WHERE s.name = 'swap_agg'), 1,
          'the declared index is still recorded');
SELECT throws_ok($$INSERT INTO swap_agg (g, n, vs) SELECT g, n, vs FROM swap_agg LIMIT 1$$, '23505', NULL,
                 'the unique index enforces uniqueness on the new storage');
SELECT is((SELECT array_agg(tgname::text || ':' || tgenabled::text ORDER BY tgname) FROM pg_trigger
           WHERE tgrelid = 'swap_agg'::regclass AND NOT tgisinternal),
          (SELECT array_agg(tgname::text || ':' || tgenabled::text ORDER BY tgname) FROM triggers_before),
          'the capture triggers of the downstream stage survive');
-- Every group changed (rows moved between all 40 g): the downstream stage gets those keys
-- (test/pgtap/swap_downstream.sql has the differential test of which scopes it gets).
SELECT is((SELECT count(DISTINCT d.key)::int FROM incview.queued_keys d JOIN incview.stage s ON s.id = d.stage_id
           WHERE s.name = 'swap_down' AND d.key IS NOT NULL), 40,
          'the downstream stage is told the scopes whose rows changed');
SELECT cmp_ok(incview.refresh('swap_down'), '>', 0::bigint, 'which its refresh consumes');
SELECT is((SELECT row(missing, extra)::text FROM incview.verify('swap_down')), '(0,0)', 'and the downstream stage is right');

-- Its capture still works after the swap: a row change of the table reaches swap_down.
UPDATE swap_agg SET n = n + 1 WHERE g = 3;
SELECT is((SELECT count(*)::int FROM incview.queued_keys d JOIN incview.stage s ON s.id = d.stage_id
           WHERE s.name = 'swap_down'), 1, 'a write to the swapped table is still captured for swap_down');
SELECT incview.refresh('swap_down');

-- ------------------------------------------------------------------ rolled back: the old storage
CREATE TEMP TABLE kept AS SELECT relfilenode FROM pg_class WHERE oid = 'swap_agg'::regclass;
CREATE TEMP TABLE kept_rows AS SELECT * FROM swap_agg;
UPDATE swap_src SET v = v || '!' WHERE id % 3 = 0;
SAVEPOINT s;
SELECT incview.rebuild('swap_agg');
ROLLBACK TO SAVEPOINT s;
SELECT is((SELECT relfilenode FROM pg_class WHERE oid = 'swap_agg'::regclass), (SELECT relfilenode FROM kept),
          'a rebuild rolled back leaves the old storage in place');
SELECT is((SELECT count(*)::int FROM (SELECT * FROM swap_agg EXCEPT ALL SELECT * FROM kept_rows) d), 0,
          'with the old rows, all readable');
SELECT lives_ok($$SELECT incview.rebuild('swap_agg')$$, 'and the next rebuild swaps again');
SELECT is((SELECT row(missing, extra)::text FROM incview.verify('swap_agg')), '(0,0)', 'to the new rows');

-- ------------------------------------------------------------------ privileges
SET LOCAL ROLE swap_stranger;
SELECT throws_ok($$SELECT incview.rebuild('swap_agg')$$, '42501', NULL, 'a non-owner cannot rebuild (swap) someone''s stage');
SELECT throws_ok($$SELECT incview.refresh('swap_agg')$$, '42501', NULL, 'nor refresh it in full');
RESET ROLE;

-- ------------------------------------------------------------------ alter_stage keeping the columns
CREATE TEMP TABLE before_alter AS SELECT relfilenode FROM pg_class WHERE oid = 'swap_agg'::regclass;
SELECT lives_ok($$SELECT incview.alter_stage('swap_agg',
  'SELECT g, count(*) AS n, string_agg(v, '','' ORDER BY id) AS vs FROM swap_src WHERE id > 10 GROUP BY g')$$,
  'alter_stage with the same columns');
SELECT isnt((SELECT relfilenode FROM pg_class WHERE oid = 'swap_agg'::regclass), (SELECT relfilenode FROM before_alter),
            'rebuilds by a swap too');
SELECT is((SELECT row(missing, extra)::text FROM incview.verify('swap_agg')), '(0,0)', 'to the new query''s rows');
SELECT ok(has_table_privilege('swap_reader', 'swap_agg', 'SELECT')
          AND (SELECT count(*) FROM pg_policy WHERE polrelid = 'swap_agg'::regclass) = 1
          AND obj_description('swap_agg'::regclass, 'pg_class') = 'aggregates per g'
          -- the unique index on g (it serves as the scope index too) and the declared one on n
          AND (SELECT count(*) FROM pg_index WHERE indrelid = 'swap_agg'::regclass) = 2,
          'grants, policy, comment and indexes survive alter_stage');
SELECT ok(EXISTS (SELECT 1 FROM pg_views WHERE viewname = 'swap_agg_view'), 'and the view over it');

-- ------------------------------------------------------------------ where a swap would skip something: rows
-- A trigger of the user's own on the table must see the rows written, so the rebuild
-- writes them (and the table keeps its storage).
CREATE TABLE swap_audit (n int);
CREATE FUNCTION swap_audit_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO swap_audit VALUES (1); RETURN NULL; END $$;
CREATE TRIGGER swap_audit_t AFTER INSERT ON swap_agg FOR EACH STATEMENT EXECUTE FUNCTION swap_audit_fn();
CREATE TEMP TABLE before_trig AS SELECT relfilenode FROM pg_class WHERE oid = 'swap_agg'::regclass;
SELECT incview.rebuild('swap_agg');
SELECT is((SELECT relfilenode FROM pg_class WHERE oid = 'swap_agg'::regclass), (SELECT relfilenode FROM before_trig),
          'a table with a user trigger is rebuilt row by row');
SELECT is((SELECT count(*)::int FROM swap_audit), 1, 'and the user''s trigger fires');
DROP TRIGGER swap_audit_t ON swap_agg;

-- A foreign key referencing the table must be checked against the new rows.
CREATE TABLE swap_ref (g int REFERENCES swap_agg (g));
SELECT incview.rebuild('swap_agg');
SELECT is((SELECT relfilenode FROM pg_class WHERE oid = 'swap_agg'::regclass), (SELECT relfilenode FROM before_trig),
          'a table referenced by a foreign key is rebuilt row by row');
DROP TABLE swap_ref;

-- ------------------------------------------------------------------ partitioned stages keep their partitions
CREATE TABLE swap_ev (id int, ctx int, val int);
INSERT INTO swap_ev SELECT i, i % 3, i FROM generate_series(1, 300) i;
SELECT incview.create_stage('swap_part', 'SELECT ctx, count(*) AS n, sum(val) AS s FROM swap_ev GROUP BY ctx',
  ARRAY['ctx'], unique_key => ARRAY['ctx'], engine => 'full', partition_by => 'list (ctx)');
UPDATE swap_ev SET val = val + 1;
SELECT incview.refresh('swap_part');
SELECT is((SELECT count(*)::int FROM pg_inherits WHERE inhparent = 'swap_part'::regclass), 3,
          'a partitioned stage keeps its partitions through a full refresh');
SELECT is((SELECT row(missing, extra)::text FROM incview.verify('swap_part')), '(0,0)', 'with the right rows');

SELECT * FROM finish();
ROLLBACK;
