-- Background refresh (no refresh calls): policies, failures and back-off, owner's role.
-- Waits poll with a timeout; nothing depends on a fixed sleep.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_incview;
SELECT plan(27);

\ir lib/wait_until.sql
CREATE FUNCTION pg_temp.fresh(stage text) RETURNS boolean LANGUAGE sql AS $$
  SELECT v.missing = 0 AND v.extra = 0 FROM incview.verify(stage) v
$$;

SELECT ok(pg_temp.wait_until($$EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'pg_incview scheduler'
                                       AND datname = current_database())$$),
  'CREATE EXTENSION got this database a scheduler, visible in pg_stat_activity');
SELECT ok(EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'pg_incview launcher'), 'the launcher runs');

CREATE TABLE sales (id serial PRIMARY KEY, shop int, amount int);
CREATE INDEX ON sales (shop);
INSERT INTO sales (shop, amount) SELECT g % 10, g FROM generate_series(1, 1000) g;
SELECT incview.create_stage('shop_totals', 'SELECT shop, sum(amount) AS total FROM sales GROUP BY shop',
  ARRAY['shop'], ARRAY['shop']);
SELECT incview.create_stage('shop_manual', 'SELECT shop, count(*) AS n FROM sales GROUP BY shop', ARRAY['shop']);
SELECT incview.set_policy('shop_manual', 'manual');

-- continuous (default): a commit is visible within 2 s with nobody calling refresh.
INSERT INTO sales (shop, amount) VALUES (3, 100000);
SELECT ok(pg_temp.wait_until($$pg_temp.fresh('shop_totals')$$, '2 s'), 'continuous: committed change visible within 2 s');
SELECT is((SELECT total FROM shop_totals WHERE shop = 3),
          (SELECT sum(amount) FROM sales WHERE shop = 3), 'the new total is there');
-- manual stays stale, although the scheduler has run a pass since (it refreshed shop_totals).
SELECT ok(NOT pg_temp.fresh('shop_manual'), 'manual: still stale after the scheduler ran');
SELECT is((SELECT dirty_scopes::int FROM incview.stages WHERE name = 'shop_manual'), 1, 'manual: its scope stays queued');
SELECT is((SELECT next_run FROM incview.stages WHERE name = 'shop_manual'), NULL, 'manual: no next run');
SELECT lives_ok($$SELECT incview.refresh('shop_manual')$$, 'manual stages refresh on request');

-- interval policy.
SELECT incview.set_policy('shop_manual', 'interval', every => '1 second');
INSERT INTO sales (shop, amount) VALUES (4, 7);
SELECT ok(pg_temp.wait_until($$pg_temp.fresh('shop_manual')$$, '5 s'), 'interval: refreshed within its period');
-- Not due yet (refreshed just now, every hour): stays stale through a scheduler pass (the
-- pass that refreshes the continuous shop_totals); max_lag makes it due once a key waits longer.
SELECT incview.set_policy('shop_manual', 'interval', every => '1 hour');
INSERT INTO sales (shop, amount) VALUES (5, 11);
SELECT ok(pg_temp.wait_until($$pg_temp.fresh('shop_totals')$$, '5 s') AND NOT pg_temp.fresh('shop_manual'),
  'interval: not due before its period, although the scheduler ran');
SELECT incview.set_policy('shop_manual', 'interval', every => '1 hour', max_lag => '1 second');
SELECT ok(pg_temp.wait_until($$pg_temp.fresh('shop_manual')$$, '5 s'), 'interval + max_lag: refreshed once a key waited 1 s');
SELECT throws_ok($$SELECT incview.set_policy('shop_manual', 'interval')$$, '22023', NULL, 'interval needs every');
SELECT throws_ok($$SELECT incview.set_policy('shop_manual', 'daily')$$, '22023', NULL, 'daily needs at');
SELECT throws_ok($$SELECT incview.set_policy('shop_manual', 'hourly')$$, '22023', NULL, 'unknown policy');

-- A failing stage: error logged, status failing, scopes kept, retried with growing back-off,
-- while an independent stage keeps refreshing; it recovers once the cause is gone.
CREATE TABLE divisors (shop int PRIMARY KEY, d int);
INSERT INTO divisors SELECT g, 1 FROM generate_series(0, 9) g;
SELECT incview.create_stage('shop_ratio',
  'SELECT s.shop, sum(s.amount) / max(d.d) AS ratio FROM sales s JOIN divisors d USING (shop) GROUP BY s.shop',
  ARRAY['shop'], ARRAY['shop']);
UPDATE divisors SET d = 0 WHERE shop = 5;
SELECT ok(pg_temp.wait_until($$(SELECT failures >= 2 FROM incview.stages WHERE name = 'shop_ratio')$$, '15 s'),
  'failing stage is retried (failures grow)');
SELECT ok((SELECT status = 'failing' AND last_error LIKE '%division by zero%' AND dirty_scopes = 1
           FROM incview.stages WHERE name = 'shop_ratio'), 'status failing, last_error kept, the scope stays dirty');
SELECT ok((SELECT next_run > now() FROM incview.stages WHERE name = 'shop_ratio'), 'next attempt is backed off into the future');
INSERT INTO sales (shop, amount) VALUES (6, 1);
SELECT ok(pg_temp.wait_until($$pg_temp.fresh('shop_totals')$$, '2 s'), 'an independent stage keeps refreshing meanwhile');
UPDATE divisors SET d = 2 WHERE shop = 5;
SELECT ok(pg_temp.wait_until($$pg_temp.fresh('shop_ratio') AND
                               (SELECT status = 'idle' FROM incview.stages WHERE name = 'shop_ratio')$$, '30 s'),
  'the failing stage recovers once the cause is gone');

-- Independent stages of one graph level refresh in parallel workers (incview.max_workers = 2).
CREATE FUNCTION slow(x bigint) RETURNS bigint LANGUAGE sql VOLATILE AS 'SELECT x FROM (SELECT pg_sleep(0.05)) s';
CREATE TABLE ticks (k int, v int);
INSERT INTO ticks SELECT g % 20, g FROM generate_series(1, 200) g;
SELECT incview.create_stage('slow_a', 'SELECT k, slow(sum(v)) AS s FROM ticks GROUP BY k', ARRAY['k'], engine => 'replace');
SELECT incview.create_stage('slow_b', 'SELECT k, slow(count(*)) AS c FROM ticks GROUP BY k', ARRAY['k'], engine => 'replace');
UPDATE ticks SET v = v + 1;   -- dirties all 20 scopes of both: about 1 s of work each
SELECT ok(pg_temp.wait_until($$(SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_incview refresh'
                                 AND datname = current_database() AND query LIKE '%refreshing stage "slow_%') = 2$$, '10 s'),
  'two refresh workers run the two independent stages at the same time');
SELECT ok(pg_temp.wait_until($$pg_temp.fresh('slow_a') AND pg_temp.fresh('slow_b')$$, '20 s'), 'both fresh');
SELECT ok(pg_temp.wait_until($$NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'pg_incview refresh'
                                           AND datname = current_database())$$, '5 s'), 'the refresh workers exit when done');

-- Stages refresh as their owner: an owner who lost access to a source gets a permission
-- error (logged), never the scheduler's superuser rights.
DROP ROLE IF EXISTS incview_bg_owner;
CREATE ROLE incview_bg_owner;
CREATE TABLE secrets (k int, v int);
INSERT INTO secrets VALUES (1, 1), (2, 2);
GRANT SELECT, TRIGGER ON secrets TO incview_bg_owner;  -- reading it, and capturing its changes
GRANT CREATE ON SCHEMA public TO incview_bg_owner;
SET ROLE incview_bg_owner;
SELECT incview.create_stage('owned', 'SELECT k, sum(v) AS s FROM secrets GROUP BY k', ARRAY['k']);
RESET ROLE;
REVOKE SELECT ON secrets FROM incview_bg_owner;
INSERT INTO secrets VALUES (1, 10);
SELECT ok(pg_temp.wait_until($$(SELECT status = 'failing' FROM incview.stages WHERE name = 'owned')$$, '5 s'),
  'the refresh of a stage whose owner lost access fails');
SELECT alike((SELECT last_error FROM incview.stages WHERE name = 'owned'), 'permission denied for table secrets%',
  'with the owner''s permission error');
SELECT is((SELECT s::int FROM owned WHERE k = 1), 1, 'and the stage was not refreshed with anyone else''s rights');

-- A chain under the scheduler: its pass collects every stage's records once, and the first
-- graph level's runs do not collect again; a downstream run still collects the keys its
-- upstream's refresh wrote, so both levels end fresh (bench/fixed_cost.md, one collection
-- per pass).
CREATE TABLE chain_src (k int, v int);
INSERT INTO chain_src SELECT g % 5, g FROM generate_series(1, 50) g;
SELECT incview.create_stage('chain_up', 'SELECT k, sum(v) AS s FROM chain_src GROUP BY k', ARRAY['k'], ARRAY['k']);
SELECT incview.create_stage('chain_down', 'SELECT k, s * 2 AS d FROM chain_up', ARRAY['k'], ARRAY['k']);
INSERT INTO chain_src VALUES (1, 1000), (7, 1);
SELECT ok(pg_temp.wait_until($$pg_temp.fresh('chain_up') AND pg_temp.fresh('chain_down')
                               AND EXISTS (SELECT 1 FROM chain_down WHERE k = 7)$$, '10 s'),
  'a two-level chain: both levels refreshed by the scheduler alone');
SELECT is((SELECT d FROM chain_down WHERE k = 1), (SELECT 2 * sum(v) FROM chain_src WHERE k = 1),
  'the downstream level has the upstream''s new row');

SELECT * FROM finish();
-- Roles outlive this test's database.
SELECT incview.drop_stage('owned');
REVOKE ALL ON secrets FROM incview_bg_owner;
REVOKE CREATE ON SCHEMA public FROM incview_bg_owner;
DROP ROLE incview_bg_owner;
