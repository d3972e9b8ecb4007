#!/usr/bin/env bash
# pg_incview beside Citus: on a coordinator with Citus loaded first, a stage over plain local
# tables keeps working (Citus' planner and utility hooks run before ours), and the
# background worker refreshes it.
set -euo pipefail
. "$(dirname "$0")/lib/citus.bash"

coord -c "CREATE EXTENSION pg_incview" \
      -c "CREATE TABLE visit (id serial PRIMARY KEY, patient_id int NOT NULL, cost numeric NOT NULL)" \
      -c "INSERT INTO visit (patient_id, cost) SELECT g % 20, g FROM generate_series(1, 400) g" \
      -c "SELECT incview.create_stage('per_patient', 'SELECT patient_id, count(*) AS n, sum(cost) AS total FROM visit GROUP BY patient_id', ARRAY['patient_id'])" >/dev/null
check "local stage built" verified per_patient
coord -c "SELECT incview.set_policy('per_patient', 'manual')" >/dev/null
coord -c "UPDATE visit SET cost = cost + 1 WHERE patient_id = 3" -c "DELETE FROM visit WHERE patient_id = 4" \
      -c "INSERT INTO visit (patient_id, cost) VALUES (99, 5)" >/dev/null
same "three scopes queued by capture" 3 "$(coord -c "SELECT dirty_scopes FROM incview.stages WHERE name = 'per_patient'")"
coord -c "SELECT incview.refresh('per_patient')" >/dev/null
check "refreshed scopes match the query" verified per_patient

# Continuous policy: the background worker refreshes after the commit.
coord -c "SELECT incview.set_policy('per_patient', 'continuous')" -c "UPDATE visit SET cost = cost * 2 WHERE patient_id = 5" >/dev/null
wait_fresh() {
  local i
  for i in $(seq 1 200); do
    [[ "$(coord -c "SELECT dirty_scopes FROM incview.stages WHERE name = 'per_patient'")" == 0 ]] && verified per_patient && return 0
    sleep 0.1
  done
  return 1
}
check "background worker refreshed the stage" wait_fresh
finish
