-- When a stage is due: one rule (incview.period_start, incview.due_at) for the scheduler,
-- the launcher's next start and incview.stages.next_run (docs/design.md).
-- One transaction: now() is one instant throughout, nothing depends on the clock moving
-- (and no scheduler sees the stage). Where max_lag must come before a daily period, the
-- daily time is twelve hours from now, not a fixed hour: a fixed '00:00' came before the
-- max_lag of 1 hour when the suite ran in the last hour before midnight.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_incview;
BEGIN;
SELECT plan(17);

-- period_start
SELECT is(incview.period_start('continuous', NULL, NULL, now() - interval '1 day'), now(), 'continuous: the period is always now');
SELECT is(incview.period_start('interval', '5 minutes', NULL, now() - interval '10 minutes'), now() - interval '5 minutes',
          'interval: every after the last refresh');
SELECT is(incview.period_start('interval', '5 minutes', NULL, NULL), now(), 'interval: never refreshed, now');
SELECT is(incview.period_start('daily', NULL, '00:00', NULL), now()::date::timestamptz,
          'daily: today''s time when the last refresh was before it');
SELECT is(incview.period_start('daily', NULL, '00:00', now()), (now()::date + 1)::timestamptz,
          'daily: tomorrow''s time once refreshed after today''s');
SELECT is(incview.period_start('manual', NULL, NULL, NULL), NULL, 'manual: no period');

-- due_at
SELECT is(incview.due_at('manual', NULL, NULL, NULL, NULL, NULL, now() - interval '1 hour', true), NULL,
          'manual: never due');
SELECT is(incview.due_at('continuous', NULL, NULL, NULL, NULL, NULL, NULL, false), NULL,
          'continuous without keys: not due');
SELECT is(incview.due_at('continuous', NULL, NULL, NULL, NULL, NULL, now() - interval '1 second', false), now(),
          'continuous with keys: due now');
SELECT is(incview.due_at('daily', NULL, (now() + interval '12 hours')::time, '1 hour', now(), NULL,
                         now() - interval '10 minutes', false),
          now() + interval '50 minutes', 'max_lag before the period: due when the oldest key has waited max_lag');
SELECT is(incview.due_at('interval', '5 minutes', NULL, '1 hour', now(), NULL, now(), false),
          now() + interval '5 minutes', 'period before max_lag: due at the period');
SELECT is(incview.due_at('continuous', NULL, NULL, NULL, NULL, now() + interval '1 minute', now(), false),
          now() + interval '1 minute', 'a failing stage backs off');
SELECT is(incview.due_at('interval', '5 minutes', NULL, NULL, now(), NULL, NULL, true), now() + interval '5 minutes',
          'a polled stage is due at its period without keys');
SELECT is(incview.due_at('continuous', NULL, NULL, NULL, NULL, NULL, NULL, true), NULL,
          'a polled continuous stage is not (it has no periods)');

-- incview.stages.next_run follows the same rule.
CREATE TABLE visits (id serial PRIMARY KEY, patient int, n int);
INSERT INTO visits (patient, n) SELECT g % 5, g FROM generate_series(1, 50) g;
SELECT incview.create_stage('per_patient', 'SELECT patient, sum(n) AS n FROM visits GROUP BY patient', ARRAY['patient']);
-- Refreshed just now (the first load), daily twelve hours from now: a key queued now with
-- max_lag 1 hour is due within the hour (the view once showed the next period).
SELECT incview.set_policy('per_patient', 'daily', at => (now() + interval '12 hours')::time, max_lag => '1 hour');
UPDATE incview.stage_state SET last_refresh = now() WHERE stage_id = (SELECT id FROM incview.stage WHERE name = 'per_patient');
INSERT INTO visits (patient, n) VALUES (1, 1000);
SELECT is((SELECT next_run FROM incview.stages WHERE name = 'per_patient'),
          (SELECT min(dirtied_at) + interval '1 hour' FROM incview.queued_keys), 'next_run: max_lag first');
SELECT incview.set_policy('per_patient', 'manual');
SELECT is((SELECT next_run FROM incview.stages WHERE name = 'per_patient'), NULL, 'next_run: manual has none');
SELECT incview.set_policy('per_patient', 'interval', every => '1 day');
SELECT is((SELECT next_run FROM incview.stages WHERE name = 'per_patient'), now() + interval '1 day',
          'next_run: an interval stage at its period');

SELECT * FROM finish();
ROLLBACK;
