#!/usr/bin/env bash
# Stages over Citus tables (docs/citus.md): what is refused and why; a stage over a
# distributed table (scope = distribution column) joined with a reference table is a
# distributed table co-located with it; writes through the coordinator and directly on a
# worker are captured on the shards; reference-table changes and TRUNCATE dirty every scope;
# the scoped refresh is pushed down to the shards; a stage over a distributed stage; the
# background worker refreshes on the cluster; drop_stage removes queue and triggers.
set -euo pipefail
. "$(dirname "$0")/lib/citus.bash"

coord <<'SQL' >/dev/null
CREATE EXTENSION pg_incview;
CREATE TABLE visit (id bigserial, patient_id int NOT NULL, product_id int NOT NULL, cost numeric NOT NULL,
                    PRIMARY KEY (patient_id, id));
SELECT create_distributed_table('visit', 'patient_id');
CREATE TABLE product (product_id int PRIMARY KEY, name text NOT NULL);
SELECT create_reference_table('product');
CREATE TABLE note (patient_id int, body text);                       -- a plain local table
CREATE TABLE other (id int, patient_id int);
SELECT create_distributed_table('other', 'id', colocate_with => 'none');  -- not by patient_id
CREATE TABLE lab (patient_id int, v int);
SELECT create_distributed_table('lab', 'patient_id', colocate_with => 'none');  -- not co-located
INSERT INTO product SELECT g, 'product ' || g FROM generate_series(1, 5) g;
INSERT INTO visit (patient_id, product_id, cost) SELECT g % 50, g % 5 + 1, g FROM generate_series(1, 1000) g;
SQL

# ---- refusals: each says why and what would work
fails_with "scope other than the distribution column is refused" "must be its distribution column" coordinator \
  "SELECT incview.create_stage('bad1', 'SELECT product_id, count(*) FROM visit GROUP BY product_id', ARRAY['product_id'])"
fails_with "a local table beside Citus tables is refused" "joins Citus tables with local table(s) public.note" coordinator \
  "SELECT incview.create_stage('bad2', 'SELECT v.patient_id, count(*) FROM visit v JOIN note n USING (patient_id) GROUP BY 1', ARRAY['patient_id'])"
fails_with "a table distributed by another column is refused" "must be its distribution column \"id\"" coordinator \
  "SELECT incview.create_stage('bad3', 'SELECT patient_id, count(*) FROM other GROUP BY 1', ARRAY['patient_id'])"
fails_with "tables that are not co-located are refused" "are not co-located" coordinator \
  "SET citus.enable_repartition_joins = on; SELECT incview.create_stage('bad4', 'SELECT v.patient_id, count(*) FROM visit v JOIN lab l USING (patient_id) GROUP BY 1', ARRAY['patient_id'])"
fails_with "partition_by is refused" "partition_by is not supported" coordinator \
  "SELECT incview.create_stage('bad5', 'SELECT patient_id, count(*) FROM visit GROUP BY 1', ARRAY['patient_id'], partition_by => 'hash (patient_id) 4')"
fails_with "the diff engine is refused" "diff engine is not supported" coordinator \
  "SELECT incview.create_stage('bad6', 'SELECT patient_id, count(*) AS n FROM visit GROUP BY 1', ARRAY['patient_id'], unique_key => ARRAY['patient_id'], engine => 'diff')"
same "nothing half-made by the refusals" "0|0" "$(coord -c "SELECT (SELECT count(*) FROM incview.stage) || '|' || (SELECT count(*) FROM incview.citus_source)")"

# ---- a co-located stage
coord -c "SELECT incview.create_stage('per_patient',
            'SELECT v.patient_id, count(*) AS visits, sum(v.cost) AS total, string_agg(DISTINCT p.name, '','') AS products
             FROM visit v JOIN product p USING (product_id) GROUP BY v.patient_id',
            ARRAY['patient_id'], unique_key => ARRAY['patient_id'], indexes => ARRAY['(total)'])" \
      -c "SELECT incview.set_policy('per_patient', 'manual')" >/dev/null
same "the stage table is distributed by the scope, co-located with its source" "h|true" \
  "$(coord -c "SELECT p.partmethod::text || '|' || (p.colocationid = v.colocationid) FROM pg_dist_partition p, pg_dist_partition v
               WHERE p.logicalrelid = 'per_patient'::regclass AND v.logicalrelid = 'visit'::regclass")"
same "unique key and declared index exist on the shards" "2" \
  "$(on worker1 -c "SET citus.override_table_visibility = off; SELECT count(DISTINCT indexdef ~ 'total') FROM pg_indexes WHERE tablename LIKE 'per_patient_%' AND indexdef ~ 'UNIQUE|total'")"
check "built: verify finds no difference" verified per_patient

# ---- capture on the shards: writes through the coordinator and on each worker
coord -c "INSERT INTO visit (patient_id, product_id, cost) VALUES (1, 1, 10), (777, 2, 5)" \
      -c "UPDATE visit SET cost = cost + 1 WHERE patient_id = 2" >/dev/null
on worker1 -c "DELETE FROM visit WHERE patient_id = 3" >/dev/null
on worker2 -c "INSERT INTO visit (patient_id, product_id, cost) VALUES (4, 3, 1), (888, 3, 1)" >/dev/null
check "stale before the refresh (the writes changed the query's result)" not verified per_patient
# (The scheduler drains the shards' queues every naptime, whatever the policy.)
coord -c "SELECT incview.citus_drain()" >/dev/null
same "keys collected from the shards: 1, 777, 2, 3, 4, 888" "6" "$(coord -c "SELECT dirty_scopes FROM incview.stages WHERE name = 'per_patient'")"
same "refresh re-derives exactly those scopes" "6" "$(coord -c "SELECT incview.refresh('per_patient')")"
check "after the refresh: verify finds no difference" verified per_patient

# ---- the refresh statement is pushed down to the shards: no source row reaches the coordinator
plan=$(coord -c "EXPLAIN (COSTS OFF) INSERT INTO per_patient SELECT * FROM (
                   SELECT v.patient_id, count(*) AS visits, sum(v.cost) AS total, string_agg(DISTINCT p.name, ',') AS products
                   FROM visit v JOIN product p USING (product_id) GROUP BY v.patient_id) s WHERE s.patient_id = ANY('{1,2,3}')")
check "scoped refresh runs as per-shard INSERT ... SELECT on the workers" \
  bash -c '[[ "$1" == *"Custom Scan (Citus Adaptive)"* && "$1" == *"Insert on per_patient_"* && "$1" != *"pull to coordinator"* && "$1" != *"repartition"* ]]' _ "$plan"

# ---- a reference table change, and TRUNCATE, dirty every scope
on worker1 -c "UPDATE product SET name = 'renamed' WHERE product_id = 1" >/dev/null
same "reference change on a worker: one every-scope marker on the coordinator" "1" \
  "$(coord -c "SELECT count(*) FROM incview.dirty_scope WHERE key IS NULL")"
coord -c "SELECT incview.refresh('per_patient')" >/dev/null
check "after the rebuild: verify finds no difference" verified per_patient
fails_with "TRUNCATE issued on a worker is refused" "must be issued on the Citus coordinator" worker2 "TRUNCATE visit"
coord -c "TRUNCATE visit" -c "INSERT INTO visit (patient_id, product_id, cost) VALUES (5, 1, 1)" \
      -c "SELECT incview.refresh('per_patient')" >/dev/null
check "TRUNCATE on the coordinator: the stage follows" verified per_patient
same "TRUNCATE left one scope" "1" "$(coord -c "SELECT count(*) FROM per_patient")"
coord -c "INSERT INTO visit (patient_id, product_id, cost) SELECT g % 50, g % 5 + 1, g FROM generate_series(1, 500) g" \
      -c "SELECT incview.refresh('per_patient')" >/dev/null

# ---- a stage over the distributed stage (the graph across distributed stages)
coord -c "SELECT incview.create_stage('big_spenders', 'SELECT patient_id, total FROM per_patient WHERE total > 2500', ARRAY['patient_id'])" \
      -c "SELECT incview.set_policy('big_spenders', 'manual')" >/dev/null
check "downstream stage built" verified big_spenders
coord -c "UPDATE visit SET cost = cost * 100 WHERE patient_id IN (6, 7)" -c "SELECT incview.refresh('per_patient')" \
      -c "SELECT incview.refresh('big_spenders')" >/dev/null
check "upstream refreshed" verified per_patient
check "downstream follows the upstream's refresh (captured on the upstream's shards)" verified big_spenders
fails_with "map_source on a Citus table is refused" "not supported for Citus tables" coordinator \
  "SELECT incview.map_source('per_patient', 'product', 'SELECT 1 AS patient_id FROM changed')"
fails_with "alter_stage of a Citus stage is refused" "not supported for a stage over Citus tables" coordinator \
  "SELECT incview.alter_stage('big_spenders', 'SELECT patient_id, total FROM per_patient WHERE total > 10')"

# ---- read-your-writes: ensure_fresh collects the keys still on the shards first
# (the scheduler, which also collects them, is switched off for this: once a key written
# with the scheduler off stays in the shard queue for 3 naptimes, it is known not to run)
coord -c "ALTER SYSTEM SET incview.enabled = off" -c "SELECT pg_reload_conf()" >/dev/null
queue=$(coord -c "SELECT queue FROM incview.citus_source WHERE source = 'visit'::regclass")
scheduler_off() {
  local i
  for i in $(seq 1 20); do
    coord -c "INSERT INTO visit (patient_id, product_id, cost) VALUES (9, 1, 1)" >/dev/null
    sleep 3
    [[ "$(coord -c "SELECT count(*) > 0 FROM $queue")" == t ]] && return 0
  done
  return 1
}
check "scheduler off: keys stay on the shards" scheduler_off
coord -c "SELECT incview.refresh('per_patient')" >/dev/null
on worker1 -c "INSERT INTO visit (patient_id, product_id, cost) VALUES (10, 2, 50)" >/dev/null
same "ensure_fresh refreshes a scope whose key is still on a shard" "1" \
  "$(coord -c "SELECT incview.ensure_fresh('per_patient', '[10]')")"
check "after ensure_fresh: verify finds no difference" verified per_patient
coord -c "ALTER SYSTEM RESET incview.enabled" -c "SELECT pg_reload_conf()" >/dev/null

# ---- continuous policy: the scheduler collects keys from the shards and refreshes
coord -c "SELECT incview.set_policy('per_patient', 'continuous')" -c "SELECT incview.set_policy('big_spenders', 'continuous')" >/dev/null
on worker2 -c "INSERT INTO visit (patient_id, product_id, cost) VALUES (8, 1, 99999)" >/dev/null
wait_fresh() {
  local i
  for i in $(seq 1 300); do
    verified per_patient && verified big_spenders && return 0
    sleep 0.1
  done
  return 1
}
check "background refresh of both stages after a write on a worker" wait_fresh

# ---- drop_stage removes the triggers from the shards and the key queues
coord -c "SELECT incview.drop_stage('per_patient', cascade => true)" >/dev/null
same "no stage, no Citus source left" "0|0" "$(coord -c "SELECT (SELECT count(*) FROM incview.stage) || '|' || (SELECT count(*) FROM incview.citus_source)")"
same "no capture trigger left on the workers' shards" "0" \
  "$(on worker1 -c "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'incview_capture%'")"
same "no key queue left" "0" "$(coord -c "SELECT count(*) FROM pg_dist_partition WHERE logicalrelid::text LIKE 'incview_citus.%'")"
finish
