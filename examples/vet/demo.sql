-- pg_incview demo on the veterinary model (seed 000). Run by scripts/demo.sh after
-- schema.sql, data.sql and stage.sql, with psql -e so every statement is shown.
\set ON_ERROR_STOP on
\set patient 42
\set keys '[' :patient ']'
\pset null '(null)'

\echo
\echo '=== 1. The registered stage'
SELECT * FROM incview.stages;

\echo
\echo '=== 2. Patient' :patient '- latest event per product and next due date (5 most recent)'
\echo '    A plain indexed read of the stage table public.patient_product_due.'
SELECT product_id, product_name, last_at, last_kind, next_due_at
FROM patient_product_due
WHERE patient_id = :patient
ORDER BY last_at DESC, product_id
LIMIT 5;

\echo
\echo '=== 3. New events for patient' :patient
\echo '    Inside one transaction, so a background worker cannot refresh behind our back'
\echo '    and we can look at the stale state first.'
BEGIN;

-- a vaccine this patient never had (and that has a reminder interval)
SELECT min(id) AS new_product
FROM products
WHERE name LIKE '%vaccine%' AND reminder_interval IS NOT NULL
  AND id NOT IN (SELECT product_id FROM patient_product_due WHERE patient_id = :patient)
\gset

\echo '--- a new immunization with product' :new_product '(never given to this patient before)'
INSERT INTO immunizations (patient_id, product_id, given_at)
VALUES (:patient, :new_product, '2025-01-15 10:00:00+00')
RETURNING *;

\echo '--- the oldest medication of the patient moves to 2025-02-01'
UPDATE medications SET given_at = '2025-02-01 09:00:00+00'
WHERE id = (SELECT id FROM medications WHERE patient_id = :patient ORDER BY given_at, id LIMIT 1)
RETURNING *;

\echo
\echo '=== 4. The stage is stale: same rows as before, one dirty scope queued'
SELECT product_id, product_name, last_at, last_kind, next_due_at
FROM patient_product_due
WHERE patient_id = :patient
ORDER BY last_at DESC, product_id
LIMIT 5;
SELECT name, status, dirty_scopes FROM incview.stages WHERE name = 'patient_product_due';
\echo '--- verify compares the table with the query: rows missing from / extra in the table'
SELECT * FROM incview.verify('patient_product_due');

\echo
\echo '=== 5. Refresh exactly this patient (returns the number of scopes refreshed)'
SELECT incview.refresh_scopes('patient_product_due', :'keys');

\echo
\echo '=== 6. The patient''s rows now show the new immunization and the moved medication'
SELECT product_id, product_name, last_at, last_kind, next_due_at
FROM patient_product_due
WHERE patient_id = :patient
ORDER BY last_at DESC, product_id
LIMIT 5;

COMMIT;

\echo
\echo '=== 7. verify: the table equals the query again (missing 0, extra 0)'
SELECT * FROM incview.verify('patient_product_due');

\echo
\echo '=== 8. The refresh log (latest run of this stage)'
\x on
SELECT * FROM incview.refresh_log
WHERE stage = 'patient_product_due'
ORDER BY started_at DESC
LIMIT 1;
\x off
