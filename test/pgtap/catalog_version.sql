-- The library reads pg_incview's installed version (pg_extension.extversion) once per
-- transaction, from the system catalog directly (check_catalog_version, issue 12 item 4:
-- it ran as an SQL statement in every refresh call's transaction). A version this library
-- does not serve is refused with the message naming it; 0.2 (or 0.1) is served.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pg_incview;
SET LOCAL client_min_messages = warning;
SELECT plan(2);

CREATE TABLE cv_src (k int, v int);
INSERT INTO cv_src SELECT g % 3, g FROM generate_series(1, 9) g;
SAVEPOINT before_version;
-- Nothing of pg_incview has run in this transaction yet: the version is read after this.
UPDATE pg_catalog.pg_extension SET extversion = '9.9' WHERE extname = 'pg_incview';
SELECT throws_like($$SELECT incview.create_stage('cv', 'SELECT k, sum(v) AS s FROM cv_src GROUP BY k', ARRAY['k'])$$,
                   '%version 9.9, which this library%does not serve%',
                   'a version the library does not serve is refused, naming it');
ROLLBACK TO SAVEPOINT before_version;
SELECT lives_ok($$SELECT incview.create_stage('cv', 'SELECT k, sum(v) AS s FROM cv_src GROUP BY k', ARRAY['k'])$$,
                'the version installed is served (read again in the same transaction)');

SELECT * FROM finish();
ROLLBACK;
