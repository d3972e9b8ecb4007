#!/usr/bin/env bash
# Keys are not lost when a worker restarts during writes and refreshes (they are queued on
# the worker in the writer's transaction, and collected only by a coordinator transaction
# that commits with the refresh's bookkeeping); a shard move and a rebalance during writes
# keep capture working (the key queue is co-located, so it moves with the shard, and Citus
# re-creates the capture triggers on the moved shards).
set -euo pipefail
. "$(dirname "$0")/lib/citus.bash"

coord <<'SQL' >/dev/null
CREATE EXTENSION pg_incview;
CREATE TABLE visit (id bigserial, patient_id int NOT NULL, cost numeric NOT NULL, PRIMARY KEY (patient_id, id));
SELECT create_distributed_table('visit', 'patient_id');
INSERT INTO visit (patient_id, cost) SELECT g % 100, g FROM generate_series(1, 2000) g;
SELECT incview.create_stage('per_patient', 'SELECT patient_id, count(*) AS n, sum(cost) AS total FROM visit GROUP BY patient_id',
                            ARRAY['patient_id']);
SELECT incview.set_policy('per_patient', 'manual');
SQL

# writer <n> <node>: n single-row transactions for random patients, through <node>; a write
# that fails (its node or its shard's node is down) is simply not made.
writer() {
  local i
  for i in $(seq 1 "$1"); do
    on "$2" -c "INSERT INTO visit (patient_id, cost) VALUES ((random() * 150)::int, 1);
                UPDATE visit SET cost = cost + 1 WHERE patient_id = (random() * 150)::int" >/dev/null 2>&1 || true
  done
}
refresh_until_clean() {  # drain + refresh until nothing is queued (a refresh may fail while a node is down)
  local i
  for i in $(seq 1 50); do
    coord -c "SELECT incview.refresh('per_patient')" >/dev/null 2>&1 || true
    [[ "$(coord -c "SELECT incview.citus_drain() + (SELECT count(*) FROM incview.dirty_scope)" 2>/dev/null)" == 0 ]] && return 0
    sleep 0.2
  done
  return 1
}

# ---- a worker restarts (immediate shutdown) during writes through the coordinator and on it
writer 40 coordinator & w1=$!
writer 30 worker1 & w2=$!
sleep 0.2
coord -c "SELECT incview.refresh('per_patient')" >/dev/null 2>&1 || true
bash "$ROOT/scripts/citus.sh" restart-node worker1 immediate >/dev/null
coord -c "SELECT incview.refresh('per_patient')" >/dev/null 2>&1 || true
wait "$w1" "$w2"
check "after the restart every queued key is refreshed" refresh_until_clean
check "worker restart: the stage matches its query" verified per_patient

# ---- a shard move during writes, then a write on the shard's new node
shard=$(coord -c "SELECT s.shardid FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid) JOIN pg_dist_node n USING (groupid)
                  WHERE s.logicalrelid = 'visit'::regclass AND n.nodeport = ${CITUS_PORT[1]} ORDER BY 1 LIMIT 1")
writer 40 coordinator & w1=$!
coord -c "SELECT citus_move_shard_placement($shard, '127.0.0.1', ${CITUS_PORT[1]}, '127.0.0.1', ${CITUS_PORT[2]},
                                            shard_transfer_mode => 'block_writes')" >/dev/null
wait "$w1"
same "the shard (and its co-located key queue and stage shard) moved" "${CITUS_PORT[2]}|3" \
  "$(coord -c "SELECT min(n.nodeport) || '|' || count(*) FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid) JOIN pg_dist_node n USING (groupid)
               WHERE s.shardid IN (SELECT s2.shardid FROM pg_dist_shard s2, pg_dist_shard s1
                                   WHERE s1.shardid = $shard AND s2.shardminvalue = s1.shardminvalue)")"
# A patient whose rows live in the moved shard, written directly on its new node.
moved_patient=$(coord -c "SELECT g FROM generate_series(1, 10000) g WHERE get_shard_id_for_distribution_column('visit', g) = $shard LIMIT 1")
on worker2 -c "INSERT INTO visit (patient_id, cost) VALUES ($moved_patient, 12345)" >/dev/null
check "after the move every queued key is refreshed" refresh_until_clean
check "shard move: the stage matches its query (including the write on the new node)" verified per_patient

# ---- rebalance during writes
writer 40 coordinator & w1=$!
coord -c "SELECT rebalance_table_shards('visit', shard_transfer_mode => 'block_writes')" >/dev/null
wait "$w1"
on worker1 -c "UPDATE visit SET cost = cost + 7 WHERE patient_id IN (1, 2, 3, $moved_patient)" >/dev/null
on worker2 -c "UPDATE visit SET cost = cost + 7 WHERE patient_id IN (4, 5, 6)" >/dev/null
check "after the rebalance every queued key is refreshed" refresh_until_clean
check "rebalance: the stage matches its query" verified per_patient
finish
