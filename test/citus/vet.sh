#!/usr/bin/env bash
# The veterinary-clinic scenario's stage (seed 000) (examples/vet) on the Citus cluster: the event tables
# distributed by patient_id (co-located), products a reference table; the stage
# (DISTINCT ON over a UNION ALL of the three, joined with products) becomes a distributed
# table co-located with them. Changes through the coordinator and on the workers, a product's
# reminder interval changed (every scope), then refresh and verify.
set -euo pipefail
. "$(dirname "$0")/lib/citus.bash"

coord -f "$ROOT/examples/vet/schema.sql" >/dev/null
coord -v scale=0.1 -f "$ROOT/examples/vet/data.sql" >/dev/null 2>&1   # (Citus warns about its pg_temp helper)
coord >/dev/null <<'SQL'
CREATE EXTENSION pg_incview;
-- Citus wants the distribution column in every primary key.
ALTER TABLE medications DROP CONSTRAINT medications_pkey, ADD PRIMARY KEY (patient_id, id);
ALTER TABLE immunizations DROP CONSTRAINT immunizations_pkey, ADD PRIMARY KEY (patient_id, id);
ALTER TABLE order_items DROP CONSTRAINT order_items_pkey, ADD PRIMARY KEY (patient_id, id);
SELECT create_reference_table('products');
SELECT create_distributed_table('medications', 'patient_id');
SELECT create_distributed_table('immunizations', 'patient_id', colocate_with => 'medications');
SELECT create_distributed_table('order_items', 'patient_id', colocate_with => 'medications');
SQL
coord -f "$ROOT/examples/vet/stage.sql" >/dev/null
coord -c "SELECT incview.set_policy('patient_product_due', 'manual')" >/dev/null
same "the vet stage is distributed, co-located with the event tables" "h|true" \
  "$(coord -c "SELECT p.partmethod::text || '|' || (p.colocationid = m.colocationid) FROM pg_dist_partition p, pg_dist_partition m
               WHERE p.logicalrelid = 'patient_product_due'::regclass AND m.logicalrelid = 'medications'::regclass")"
check "built: verify finds no difference" verified patient_product_due

# Patients whose rows the statements below really change: 1, 2, 3, 150 always; 4-6 and 7
# when they have such rows.
expected=$(coord -c "SELECT 4 + (SELECT count(DISTINCT patient_id) FROM order_items WHERE patient_id IN (4, 5, 6))
                             + (SELECT count(DISTINCT patient_id) FROM medications WHERE patient_id = 7)")
coord -c "INSERT INTO medications (patient_id, product_id, given_at) VALUES (1, 3, '2026-01-01'), (2, 4, '2026-01-02')" >/dev/null
on worker1 -c "INSERT INTO immunizations (patient_id, product_id, given_at) VALUES (3, 5, '2026-02-01'), (150, 5, '2026-02-01')" >/dev/null
on worker2 -c "DELETE FROM order_items WHERE patient_id IN (4, 5, 6)" >/dev/null
coord -c "UPDATE medications SET given_at = '2026-03-01' WHERE patient_id = 7" >/dev/null
check "stale before the refresh" not verified patient_product_due
same "refresh re-derives exactly the written patients" "$expected" \
  "$(coord -c "SELECT incview.refresh('patient_product_due')")"
check "after the refresh: verify finds no difference" verified patient_product_due
coord -c "UPDATE products SET reminder_interval = interval '7 days' WHERE id = 3" -c "SELECT incview.refresh('patient_product_due')" >/dev/null
check "a product's reminder changed (reference table): the stage follows" verified patient_product_due
finish
