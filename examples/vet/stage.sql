-- Register the stage of seed 000: for every (patient, product), the latest event across
-- medications, immunizations and order items, and when the product is due next.
-- Scoped by patient_id: a patient's rows depend only on that patient's events
-- (and on products, which the extension treats as a source too).
SELECT incview.create_stage(
  name   => 'patient_product_due',
  query  => $q$
    SELECT DISTINCT ON (e.patient_id, e.product_id)
           e.patient_id, e.product_id, p.name AS product_name,
           e.happened_at AS last_at, e.kind AS last_kind,
           e.happened_at + p.reminder_interval AS next_due_at
    FROM (SELECT patient_id, product_id, given_at AS happened_at, 'medication'::text AS kind FROM medications
          UNION ALL
          SELECT patient_id, product_id, given_at, 'immunization' FROM immunizations
          UNION ALL
          SELECT patient_id, product_id, ordered_at, 'order_item' FROM order_items) e
    JOIN products p ON p.id = e.product_id
    ORDER BY e.patient_id, e.product_id, e.happened_at DESC, e.kind
  $q$,
  scope      => ARRAY['patient_id'],
  unique_key => ARRAY['patient_id','product_id']);
