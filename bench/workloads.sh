# Sourced by the benchmarks that measure the same two workloads (call_cpu.sh, delta_cpu.sh,
# fixed_cost.sh, scoped_cpu.sh): written once so that their numbers stay comparable.

# by_tag_sql ROWS: SQL for the delta engine's workload (issue 13): `events` with ROWS rows over
# 10 tags, the delta stage `by_tag_delta` (policy manual) and `by_tag_floor`, a plain copy of
# its rows for the algebraic floor (an UPDATE of one group by hand).
by_tag_sql() {
  cat <<SQL
CREATE TABLE events (id bigserial PRIMARY KEY, tag text NOT NULL, v int NOT NULL);
INSERT INTO events (tag, v) SELECT 'tag' || (i % 10), i % 1000 FROM generate_series(1, $1) i;
CREATE INDEX ON events (tag);
VACUUM ANALYZE events;
SELECT incview.create_stage('by_tag_delta', 'SELECT tag, count(*) AS n, sum(v) AS s FROM events GROUP BY tag',
                            ARRAY['tag'], engine => 'delta');
SELECT incview.set_policy('by_tag_delta', 'manual');
CREATE TABLE by_tag_floor AS SELECT tag, count(*) AS n, sum(v) AS s FROM events GROUP BY tag;
CREATE UNIQUE INDEX ON by_tag_floor (tag);
SQL
}

# vet_stage_query: the vet example stage's query (examples/vet/stage.sql), on one line.
vet_stage_query() {
  awk '/query  => \$q\$/{f=1;next} /^  \$q\$,/{f=0} f' "$ROOT/examples/vet/stage.sql" | tr '\n' ' '
}

# vet_pgbench_scripts DIR PATIENTS PRODUCTS STAGE QUERY: pgbench scripts of one medication
# inserted for a random patient: DIR/ins.pgbench alone, DIR/k1.pgbench then incview.refresh of
# STAGE, DIR/floor.pgbench then the hand-written floor (re-derive that patient into ppd_floor).
vet_pgbench_scripts() {
  local dir=$1 patients=$2 products=$3 stage=$4 query=$5
  local ins="\\set p random(1, $patients)
INSERT INTO medications (patient_id, product_id, given_at) VALUES (:p, 1 + :p % $products, now());"
  printf '%s\n' "$ins" > "$dir/ins.pgbench"
  printf '%s\n' "$ins" "SELECT incview.refresh('$stage');" > "$dir/k1.pgbench"
  # The floor's transaction goes to the server in one message (\; joins the statements), as
  # the refresh does: on a loaded machine every extra client round trip costs a wait for a CPU.
  printf '%s\n' "$ins" "BEGIN \\; DELETE FROM ppd_floor WHERE patient_id = :p \\; INSERT INTO ppd_floor SELECT * FROM ($query) s WHERE s.patient_id = :p \\; COMMIT;" > "$dir/floor.pgbench"
}
