-- A backend keeps the stage records it read (stage_cache.cpp) until what they copy from the
-- system catalogs changes. For types, that is the pg_type rows of the scope columns (their
-- format_type names): a rename of such a type drops the record, and nothing else that writes
-- pg_type does. Before, any pg_type change (a CREATE TABLE, a temporary table, a REFRESH
-- MATERIALIZED VIEW each write one) dropped every record of the session, and its next refresh
-- call re-read its stage: 1-2 ms instead of 0.1-0.3 (bench/delta.md).
-- Re-reads are counted as scans of incview's tables in this transaction.
CREATE EXTENSION IF NOT EXISTS pg_incview;
SET client_min_messages = warning;
SELECT plan(6);

CREATE TYPE ct_mood AS ENUM ('calm', 'busy');
CREATE TABLE ct_src (id bigserial PRIMARY KEY, mood ct_mood NOT NULL, tag text NOT NULL, v int NOT NULL);
INSERT INTO ct_src (mood, tag, v) SELECT CASE WHEN i % 2 = 0 THEN 'calm' ELSE 'busy' END::ct_mood, 'tag' || (i % 5), i
FROM generate_series(1, 200) i;
SELECT incview.create_stage('ct_delta', 'SELECT tag, count(*) AS n, sum(v) AS s FROM ct_src GROUP BY tag', ARRAY['tag'],
                            engine => 'delta');
SELECT incview.create_stage('ct_by_mood', 'SELECT mood, tag, count(*) AS n FROM ct_src GROUP BY mood, tag', ARRAY['mood'],
                            unique_key => ARRAY['mood', 'tag'], engine => 'replace');
SELECT incview.set_policy(s, 'manual') FROM unnest(ARRAY['ct_delta', 'ct_by_mood']) s;
CREATE TEMP TABLE ct_warm (a int);  -- the session's temporary schema exists before the counting

CREATE FUNCTION pg_temp.scans() RETURNS bigint LANGUAGE sql AS $$
  SELECT sum(pg_stat_get_xact_numscans(c.oid))::bigint FROM pg_class c WHERE c.relnamespace = 'incview'::regnamespace
$$;
CREATE TEMP TABLE ct_count (what text PRIMARY KEY, n bigint);
CREATE FUNCTION pg_temp.call(what text, stage text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE before bigint := pg_temp.scans();
BEGIN
  PERFORM incview.refresh(stage);
  INSERT INTO ct_count VALUES (what, pg_temp.scans() - before);
END
$$;

BEGIN;
INSERT INTO ct_src (mood, tag, v) VALUES ('calm', 'tag1', 1);
SELECT incview.refresh('ct_delta');  -- the record read and kept
INSERT INTO ct_src (mood, tag, v) VALUES ('calm', 'tag1', 1);
SELECT pg_temp.call('kept', 'ct_delta');
CREATE TABLE ct_other (a int);
CREATE TEMP TABLE ct_temp (a int);
INSERT INTO ct_src (mood, tag, v) VALUES ('calm', 'tag1', 1);
SELECT pg_temp.call('after new types', 'ct_delta');
SELECT cmp_ok((SELECT n FROM ct_count WHERE what = 'after new types'),
              '<', (SELECT n FROM ct_count WHERE what = 'kept') + 3,
              'a table created (a new pg_type row) does not make the next refresh re-read its stage');
COMMIT;

SELECT is((SELECT (missing, extra) FROM incview.verify('ct_delta')), (0::bigint, 0::bigint), 'the delta stage is right');

-- A rename of a scope column's type: the record of the stage scoped by it is re-read, and the
-- refresh filters its scope by the type's new name.
SELECT incview.refresh('ct_by_mood');
INSERT INTO ct_src (mood, tag, v) VALUES ('busy', 'tag2', 1);
ALTER TYPE ct_mood RENAME TO ct_feeling;
SELECT lives_ok($$SELECT incview.refresh('ct_by_mood')$$, 'a refresh after its scope type was renamed works');
SELECT is((SELECT (missing, extra) FROM incview.verify('ct_by_mood')), (0::bigint, 0::bigint),
          'the stage scoped by the renamed type is right');
ALTER TYPE ct_feeling RENAME TO ct_mood;
INSERT INTO ct_src (mood, tag, v) VALUES ('calm', 'tag3', 1);
SELECT lives_ok($$SELECT incview.refresh('ct_by_mood')$$, 'and after it was renamed back');
SELECT is((SELECT (missing, extra) FROM incview.verify('ct_by_mood')), (0::bigint, 0::bigint), 'still right');

SELECT incview.drop_stage('ct_by_mood');
SELECT incview.drop_stage('ct_delta');
DROP TABLE ct_src, ct_other;
DROP TYPE ct_mood;
SELECT * FROM finish();
