-- Soak schema (bench/soak.sh): three sources written by pgbench, five stages of the kinds
-- that live longest in production. All continuous: the scheduler refreshes them.
SET client_min_messages = warning;
CREATE EXTENSION pg_incview;

CREATE TABLE accounts (id int PRIMARY KEY, region text NOT NULL);
INSERT INTO accounts SELECT g, (ARRAY['eu', 'us', 'apac', 'latam'])[1 + g % 4] FROM generate_series(1, :accounts) g;
CREATE TABLE transfers (id bigserial PRIMARY KEY, account_id int NOT NULL, amount int NOT NULL,
                        at timestamptz NOT NULL DEFAULT now());
CREATE INDEX ON transfers (account_id);
INSERT INTO transfers (account_id, amount) SELECT 1 + g % :accounts, g % 200 - 100 FROM generate_series(1, 10 * :accounts) g;
CREATE TABLE events (id bigserial PRIMARY KEY, device_id int NOT NULL, at timestamptz NOT NULL, value int NOT NULL);
CREATE INDEX ON events (device_id);
INSERT INTO events (device_id, at, value)
SELECT 1 + g % :devices, now() - (g % 60) * interval '1 hour', g % 10 FROM generate_series(1, 20 * :devices) g;
ANALYZE;

-- Continuous stage on one source.
SELECT incview.create_stage('account_balance',
  'SELECT account_id, sum(amount) AS balance, count(*) AS n FROM transfers GROUP BY account_id',
  ARRAY['account_id'], ARRAY['account_id']);
-- Stage on a stage (and a second source: accounts move between regions).
SELECT incview.create_stage('region_totals',
  'SELECT a.region, sum(b.balance) AS balance, count(*) AS accounts
     FROM account_balance b JOIN accounts a ON a.id = b.account_id GROUP BY a.region',
  ARRAY['region'], ARRAY['region']);
SELECT incview.map_source('region_totals', 'account_balance',
  'SELECT a.region FROM accounts a WHERE a.id = changed.account_id');
-- Partitioned stage (hash on the scope), diff engine.
SELECT incview.create_stage('account_extremes',
  'SELECT account_id, min(amount) AS lo, max(amount) AS hi, max(at) AS last_at FROM transfers GROUP BY account_id',
  ARRAY['account_id'], ARRAY['account_id'], partition_by => 'hash (account_id) 8', engine => 'diff');
-- Retention stage on the third source: hourly buckets, range-partitioned by day, two days kept.
SELECT incview.create_stage('device_hourly',
  'SELECT device_id, date_trunc(''hour'', at) AS hour, count(*) AS n, sum(value) AS total FROM events GROUP BY 1, 2',
  ARRAY['device_id'], ARRAY['device_id', 'hour'], partition_by => 'range (hour) 1 day');
SELECT incview.set_retention('device_hourly', 'hour', '2 days');
