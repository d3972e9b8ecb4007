-- No silent staleness (issue 21): every input a stage reads is captured, declared, or
-- reported. A PL/pgSQL function reading a table (reported; declared with add_source, end
-- to end), a SQL function reading a table (seen through and captured), now() (reported),
-- a materialized view and a foreign table (polled: rebuilt at every period of an interval
-- policy by the background scheduler), and incview.check listing it all.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_incview;
SET incview.default_policy = manual;
SELECT plan(20);
\ir lib/wait_until.sql

CREATE TABLE orders (id serial PRIMARY KEY, customer_id int, product int, q int);
CREATE TABLE price (product int PRIMARY KEY, p int);
INSERT INTO price SELECT g, 10 * g FROM generate_series(1, 5) g;
INSERT INTO orders (customer_id, product, q) SELECT g % 20, g % 5 + 1, g % 3 + 1 FROM generate_series(1, 200) g;
CREATE FUNCTION pg_temp.stage_fresh(stage text) RETURNS boolean LANGUAGE sql AS $$
  SELECT v.missing = 0 AND v.extra = 0 FROM incview.verify(stage) v
$$;
CREATE FUNCTION pg_temp.queued(stage text) RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FROM incview.queued_keys q JOIN incview.stage s ON s.id = q.stage_id WHERE s.name = stage
$$;

-- ------------------------------------------------------------------ a PL/pgSQL function
CREATE FUNCTION price_of(int) RETURNS int STABLE LANGUAGE plpgsql AS $$
BEGIN
  RETURN (SELECT p FROM price WHERE product = $1);
END $$;
SELECT incview.create_stage('revenue',
  'SELECT customer_id, sum(q * price_of(product)) AS revenue FROM orders GROUP BY customer_id', ARRAY['customer_id']);
SELECT ok(EXISTS (SELECT 1 FROM incview.check('revenue') WHERE risk = 'opaque function' AND detail LIKE 'price_of(integer)%none declared%'),
          'check: a PL/pgSQL function whose table reads are invisible is listed');
UPDATE price SET p = p + 1 WHERE product = 1;
SELECT is(pg_temp.queued('revenue'), 0::bigint, 'undeclared, a price change queues nothing (the risk check reports)');
SELECT ok(NOT pg_temp.stage_fresh('revenue'), 'and the stage is stale: this is what the WARNING at create_stage said');

-- Declared with a mapping: a price change dirties exactly the customers who ordered it.
SELECT incview.add_source('revenue', 'price', 'SELECT o.customer_id FROM orders o WHERE o.product = changed.product');
SELECT incview.rebuild('revenue');
UPDATE price SET p = p + 1 WHERE product = 2;
SELECT is(pg_temp.queued('revenue'), (SELECT count(DISTINCT customer_id) FROM orders WHERE product = 2),
          'declared with a mapping: the price change dirties the customers who ordered that product');
SELECT incview.refresh('revenue');
SELECT ok(pg_temp.stage_fresh('revenue'), 'and their refresh makes the stage fresh');
SELECT ok(EXISTS (SELECT 1 FROM incview.check('revenue') WHERE detail LIKE '%declared sources: public.price%'),
          'check shows the declaration next to the function');
-- Without a mapping: every scope.
SELECT incview.add_source('revenue', 'price');
UPDATE price SET p = p + 1 WHERE product = 3;
SELECT is((SELECT count(*) FROM incview.queued_keys q JOIN incview.stage s ON s.id = q.stage_id
           WHERE s.name = 'revenue' AND q.key IS NULL), 1::bigint, 'declared without a mapping: one "every scope" marker');
SELECT incview.refresh('revenue');
SELECT ok(pg_temp.stage_fresh('revenue'), 'fresh again');
-- add_source has create_stage's privileges: a role with SELECT only is refused.
CREATE ROLE inputs_reader;
GRANT SELECT ON orders, price TO inputs_reader;
GRANT CREATE ON SCHEMA public TO inputs_reader;
SET ROLE inputs_reader;
SELECT throws_ok($$SELECT incview.create_stage('reader_stage', 'SELECT customer_id, count(*) AS n FROM orders GROUP BY customer_id',
                                                ARRAY['customer_id'])$$, '42501', NULL,
                 'create_stage without TRIGGER on its source is refused');
RESET ROLE;
GRANT TRIGGER ON orders TO inputs_reader;
SET ROLE inputs_reader;
SELECT incview.create_stage('reader_stage', 'SELECT customer_id, count(*) AS n FROM orders GROUP BY customer_id',
                            ARRAY['customer_id']) IS NOT NULL AS created;
SELECT throws_ok($$SELECT incview.add_source('reader_stage', 'price')$$, '42501', NULL,
                 'add_source on a table without TRIGGER (or ownership) is refused');
SELECT incview.drop_stage('reader_stage');
RESET ROLE;
REVOKE ALL ON orders, price FROM inputs_reader;
REVOKE CREATE ON SCHEMA public FROM inputs_reader;
DROP ROLE inputs_reader;

-- ------------------------------------------------------------------ a SQL function: seen through
CREATE FUNCTION price_sql(int) RETURNS int STABLE LANGUAGE sql AS 'SELECT p FROM price WHERE product = $1';
SELECT incview.create_stage('revenue_sql',
  'SELECT customer_id, sum(q * price_sql(product)) AS revenue FROM orders GROUP BY customer_id', ARRAY['customer_id']);
SELECT is((SELECT ss.mapping_kind FROM incview.stage_source ss JOIN incview.stage s ON s.id = ss.stage_id
           WHERE s.name = 'revenue_sql' AND ss.source = 'price'::regclass), 'all',
          'a table read inside a SQL function is found and captured as a source (every scope)');
UPDATE price SET p = p + 1 WHERE product = 4;
SELECT incview.refresh('revenue_sql');
SELECT ok(pg_temp.stage_fresh('revenue_sql'), 'so a price change reaches the stage');
SELECT ok(NOT EXISTS (SELECT 1 FROM incview.check('revenue_sql') WHERE risk = 'opaque function'),
          'and nothing opaque is reported');

-- ------------------------------------------------------------------ time-dependent
SELECT incview.create_stage('recent',
  'SELECT customer_id, count(*) FILTER (WHERE id > 0 AND now() > ''2000-01-01'') AS n FROM orders GROUP BY customer_id',
  ARRAY['customer_id']);
SELECT ok(EXISTS (SELECT 1 FROM incview.check('recent') WHERE risk = 'time-dependent' AND detail LIKE 'now()%'),
          'check: now() is reported as time-dependent');

-- ------------------------------------------------------------------ a materialized view: polled
CREATE MATERIALIZED VIEW order_sizes AS SELECT customer_id, sum(q) AS qty FROM orders GROUP BY customer_id;
SELECT incview.create_stage('big_customers', 'SELECT customer_id, qty FROM order_sizes WHERE qty > 10',
                            ARRAY['customer_id']);
SELECT ok(EXISTS (SELECT 1 FROM incview.check('big_customers') WHERE risk = 'polled input' AND detail LIKE 'order_sizes%'),
          'check: a materialized view is a polled input');
SELECT is((SELECT status FROM incview.stages WHERE name = 'big_customers'), 'idle',
          'a polled source has no triggers, and that does not make the stage stale');
SELECT incview.set_policy('big_customers', 'interval', every => '1 second');
INSERT INTO orders (customer_id, product, q) SELECT 3, 1, 50;
REFRESH MATERIALIZED VIEW order_sizes;
SELECT ok(pg_temp.wait_until($$pg_temp.stage_fresh('big_customers')$$, '20 s'),
          'the scheduler rebuilds a polled stage at its period: the materialized view''s new rows arrive');

-- ------------------------------------------------------------------ a foreign table: polled
CREATE EXTENSION IF NOT EXISTS postgres_fdw;
DO $$
BEGIN
  EXECUTE format('CREATE SERVER inputs_loopback FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host %L, port %L, dbname %L)',
                 '/tmp', current_setting('port'), current_database());
END $$;
CREATE USER MAPPING FOR CURRENT_USER SERVER inputs_loopback OPTIONS (user 'postgres');
CREATE TABLE remote_orders (customer_id int, amount int);
INSERT INTO remote_orders SELECT g % 7, g FROM generate_series(1, 50) g;
CREATE FOREIGN TABLE f_orders (customer_id int, amount int) SERVER inputs_loopback OPTIONS (table_name 'remote_orders');
SELECT incview.create_stage('remote_totals', 'SELECT customer_id, sum(amount) AS total FROM f_orders GROUP BY customer_id',
                            ARRAY['customer_id']);
SELECT ok(EXISTS (SELECT 1 FROM incview.check('remote_totals') WHERE risk = 'polled input' AND detail LIKE 'f_orders%'),
          'check: a foreign table is a polled input');
SELECT incview.set_policy('remote_totals', 'interval', every => '1 second');
INSERT INTO remote_orders VALUES (1, 1000);  -- "the remote side" changes
SELECT ok(pg_temp.wait_until($$pg_temp.stage_fresh('remote_totals')$$, '20 s'),
          'the scheduler rebuilds a stage over a foreign table at its period');
SELECT throws_ok($$SELECT * FROM incview.check('no_such_stage')$$, '42704', NULL, 'check names a missing stage');

SELECT incview.drop_stage(s) FROM unnest(ARRAY['revenue', 'revenue_sql', 'recent', 'big_customers', 'remote_totals']) s;
DROP FOREIGN TABLE f_orders;
DROP USER MAPPING FOR CURRENT_USER SERVER inputs_loopback;
DROP SERVER inputs_loopback;
SELECT * FROM finish();
