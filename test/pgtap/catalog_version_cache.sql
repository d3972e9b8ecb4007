-- The installed version (pg_extension.extversion) is kept by each backend across
-- transactions (check_catalog_version, issue 13's one-row target: reading it once per
-- transaction was ~4 % of a one-row delta refresh call) until a row of pg_extension changes,
-- in any session: ALTER EXTENSION ... UPDATE in another session makes this backend serve the
-- new catalog at its next call, and a version this library does not serve, set by another
-- session, is refused at the next call of a backend that had read the old one.
CREATE EXTENSION pg_incview VERSION '0.1';
CREATE EXTENSION IF NOT EXISTS dblink;
SET client_min_messages = warning;
SET lock_timeout = '5s';
SET statement_timeout = '60s';
SELECT plan(7);

-- run a statement in session B; a scalar query in session B, as text
CREATE FUNCTION pg_temp.b(sql text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM dblink_exec('b', sql);
END
$$;
CREATE FUNCTION pg_temp.b_value(sql text) RETURNS text LANGUAGE sql AS $$
  SELECT v FROM dblink('b', sql) AS t(v text)
$$;

CREATE TABLE vc_src (k int, v int);
INSERT INTO vc_src SELECT g % 5, g FROM generate_series(1, 50) g;
SET search_path = public;
SELECT incview.create_stage('vc', 'SELECT k, sum(v) AS total FROM vc_src GROUP BY k', ARRAY['k'], ARRAY['k']);
SELECT incview.set_policy('vc', 'manual');
RESET search_path;

SELECT lives_ok(format($$SELECT dblink_connect('b', %L)$$,
                       'dbname=' || current_database() || ' host=/tmp port=' || current_setting('port') || ' user=postgres'),
                'session B connects');
SELECT pg_temp.b($$INSERT INTO vc_src VALUES (1, 1000)$$);
SELECT is(pg_temp.b_value($$SELECT incview.refresh('vc')::text$$), '1', 'B refreshes under 0.1 (and keeps the version)');

ALTER EXTENSION pg_incview UPDATE;
SELECT pg_temp.b($$INSERT INTO vc_src VALUES (2, 1000)$$);
SELECT is(pg_temp.b_value($$SELECT incview.refresh('vc')::text$$), '1', 'B refreshes after this session''s update');
SELECT is((SELECT owner::text FROM incview.refresh_log WHERE stage = 'vc' ORDER BY id DESC LIMIT 1), 'postgres',
          'B served the 0.2 catalog: its log row carries the owner');

-- Another session's change of the row, committed: B's next call reads it again.
UPDATE pg_catalog.pg_extension SET extversion = '9.9' WHERE extname = 'pg_incview';
SELECT throws_like($$SELECT pg_temp.b_value($x$SELECT incview.refresh('vc')::text$x$)$$,
                   '%version 9.9, which this library%does not serve%',
                   'B refuses a version it does not serve, set after it read 0.2');
UPDATE pg_catalog.pg_extension SET extversion = '0.2' WHERE extname = 'pg_incview';
SELECT pg_temp.b($$INSERT INTO vc_src VALUES (3, 1000)$$);
SELECT is(pg_temp.b_value($$SELECT incview.refresh('vc')::text$$), '1', 'and serves 0.2 again');
SELECT is(pg_temp.b_value($$SELECT row(missing, extra)::text FROM incview.verify('vc')$$), '(0,0)', 'fresh');

SELECT dblink_disconnect('b');
SELECT incview.drop_stage('vc');
DROP TABLE vc_src;
SELECT * FROM finish();
