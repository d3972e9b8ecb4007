#!/usr/bin/env bash
# Differential random-change test on distributed tables (as test/pgtap/capture_differential
# does on one node): rounds of random inserts, updates and deletes on two co-located
# distributed tables and a reference table, each issued through a random node; after each
# round both stages are refreshed and compared with their queries (incview.verify).
set -euo pipefail
. "$(dirname "$0")/lib/citus.bash"
ROUNDS=${CITUS_DIFF_ROUNDS:-8}
RANDOM=${CITUS_DIFF_SEED:-14}   # reproducible choice of nodes and statements

coord <<'SQL' >/dev/null
CREATE EXTENSION pg_incview;
CREATE TABLE visit (id bigserial, patient_id int NOT NULL, product_id int NOT NULL, cost numeric NOT NULL,
                    PRIMARY KEY (patient_id, id));
SELECT create_distributed_table('visit', 'patient_id');
CREATE TABLE lab (id bigserial, patient_id int NOT NULL, value int NOT NULL, PRIMARY KEY (patient_id, id));
SELECT create_distributed_table('lab', 'patient_id', colocate_with => 'visit');
CREATE TABLE product (product_id int PRIMARY KEY, name text NOT NULL);
SELECT create_reference_table('product');
INSERT INTO product SELECT g, 'p' || g FROM generate_series(1, 8) g;
INSERT INTO visit (patient_id, product_id, cost) SELECT g % 60, g % 8 + 1, g FROM generate_series(1, 600) g;
INSERT INTO lab (patient_id, value) SELECT g % 70, g FROM generate_series(1, 300) g;
SELECT incview.create_stage('summary',
  'SELECT v.patient_id, v.n, v.total, coalesce(l.labs, 0) AS labs, l.top
   FROM (SELECT patient_id, count(*) AS n, sum(cost) AS total FROM visit GROUP BY patient_id) v
   LEFT JOIN (SELECT patient_id, count(*) AS labs, max(value) AS top FROM lab GROUP BY patient_id) l USING (patient_id)',
  ARRAY['patient_id']);
SELECT incview.create_stage('by_product',
  'SELECT v.patient_id, p.name, count(*) AS n, sum(v.cost) AS total FROM visit v JOIN product p USING (product_id)
   GROUP BY v.patient_id, p.name', ARRAY['patient_id']);
SELECT incview.set_policy('summary', 'manual');
SELECT incview.set_policy('by_product', 'manual');
SQL

nodes=(coordinator worker1 worker2)
# SQL= a random statement (values drawn here: Citus refuses volatile functions in the WHERE of
# a distributed modification).
statement() {  # no subshell: RANDOM must advance in this shell
  local a=$((RANDOM % 80)) b=$((RANDOM % 80)) c=$((RANDOM % 17)) d=$((1 + RANDOM % 8))
  case $((RANDOM % 7)) in
    0) SQL="INSERT INTO visit (patient_id, product_id, cost) SELECT (random() * 80)::int, 1 + (random() * 7)::int, (random() * 100)::int FROM generate_series(1, 20)" ;;
    1) SQL="UPDATE visit SET cost = cost + 1 WHERE patient_id IN ($a, $b, $c)" ;;
    2) SQL="UPDATE visit SET product_id = $d WHERE id % 17 = $c" ;;
    3) SQL="DELETE FROM visit WHERE patient_id = $a" ;;
    4) SQL="INSERT INTO lab (patient_id, value) SELECT (random() * 90)::int, (random() * 1000)::int FROM generate_series(1, 15)" ;;
    5) SQL="DELETE FROM lab WHERE id % 11 = $((c % 11))" ;;
    6) SQL="UPDATE product SET name = 'p$a' WHERE product_id = $d" ;;
  esac
}
for round in $(seq 1 "$ROUNDS"); do
  for k in 1 2 3; do
    node=${nodes[RANDOM % 3]}
    statement
    on "$node" -c "$SQL" >/dev/null
  done
  coord -c "SELECT incview.refresh('summary')" -c "SELECT incview.refresh('by_product')" >/dev/null
  check "round $round: summary matches its query" verified summary
  check "round $round: by_product matches its query" verified by_product
done
finish
