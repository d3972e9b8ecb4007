-- Every function, procedure and view of schema incview documents itself (`\df+ incview.*`,
-- `\dv+ incview.*`): a new one without COMMENT ON fails here, naming it.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_incview;
SELECT plan(3);

SELECT is(
  ARRAY(SELECT p.oid::regprocedure::text
        FROM pg_catalog.pg_proc p
        JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid
                                    AND d.refclassid = 'pg_catalog.pg_extension'::regclass AND d.deptype = 'e'
        JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'pg_incview'
        WHERE p.pronamespace = 'incview'::regnamespace
          AND coalesce(pg_catalog.obj_description(p.oid, 'pg_proc'), '') = ''
        ORDER BY 1),
  ARRAY[]::text[], 'every function and procedure of the extension in schema incview has a comment');

SELECT is(
  ARRAY(SELECT c.oid::regclass::text FROM pg_catalog.pg_class c
        WHERE c.relnamespace = 'incview'::regnamespace AND c.relkind IN ('v', 'm')
          AND coalesce(pg_catalog.obj_description(c.oid, 'pg_class'), '') = ''
        ORDER BY 1),
  ARRAY[]::text[], 'every view in schema incview has a comment');

-- The test itself sees the extension's members (a test that finds none could not fail).
SELECT cmp_ok((SELECT count(*) FROM pg_catalog.pg_proc p WHERE p.pronamespace = 'incview'::regnamespace), '>=', 40::bigint,
              'the extension''s functions are there to check');

SELECT * FROM finish();
