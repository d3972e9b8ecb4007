-- A graph of stages over the veterinary schema (examples/vet): per-patient stages feed a
-- per-location stage through patients. Load examples/vet/schema.sql, data.sql, stage.sql first.
SET client_min_messages = warning;
SELECT incview.create_stage('patient_overdue',
  $$SELECT d.patient_id, count(*) AS overdue_products, min(d.next_due_at) AS oldest_due
    FROM patient_product_due d WHERE d.next_due_at < timestamptz '2025-01-01' GROUP BY d.patient_id$$,
  ARRAY['patient_id'], ARRAY['patient_id']);
SELECT incview.create_stage('location_reminders',
  $$SELECT p.location_id, count(*) AS patients_overdue, sum(o.overdue_products) AS reminders
    FROM patient_overdue o JOIN patients p ON p.id = o.patient_id GROUP BY p.location_id$$,
  ARRAY['location_id'], ARRAY['location_id']);
SELECT incview.map_source('location_reminders', 'patient_overdue',
  'SELECT p.location_id FROM patients p WHERE p.id = changed.patient_id');
SELECT incview.map_source('location_reminders', 'patients', 'SELECT changed.location_id');
INSERT INTO immunizations (patient_id, product_id, given_at) VALUES (42, 7, now());
