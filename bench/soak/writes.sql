-- One pgbench transaction of bench/soak.sh: a transfer, an event (up to 60 hours old, so
-- some fall outside the 2-day retention at once), sometimes an account moving region and
-- the oldest event going away.
\set acc random(1, :accounts)
\set dev random(1, :devices)
\set amount random(-100, 100)
\set age random(0, 60)
\set r random(1, 100)
BEGIN;
INSERT INTO transfers (account_id, amount) VALUES (:acc, :amount);
INSERT INTO events (device_id, at, value) VALUES (:dev, now() - :age * interval '1 hour', :r % 10);
UPDATE accounts SET region = (ARRAY['eu', 'us', 'apac', 'latam'])[1 + :r % 4] WHERE id = :acc AND :r <= 5;
DELETE FROM events WHERE id = (SELECT min(id) FROM events) AND :r <= 20;
END;
