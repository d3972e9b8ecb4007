#!/usr/bin/env bash
# The demo command: install deps, build, start a fresh throwaway cluster, load the
# veterinary example (seed 000), register its stage and walk through a scoped refresh.
# The cluster stays running afterwards so you can explore.
#   INCVIEW_DEMO_SCALE   data scale (default 1 = 2,000 patients; see examples/vet/data.sql)
#   INCVIEW_PGPORT / INCVIEW_PGDATA as for scripts/cluster.sh
# NOTE: this re-creates the cluster's data directory (same one the tests use).
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${INCVIEW_PGPORT:-54329}
SCALE=${INCVIEW_DEMO_SCALE:-1}
DB=incview_demo
PGBIN=${PGBIN:-$("${PG_CONFIG:-/usr/bin/pg_config}" --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)}
PSQL=("$PGBIN/psql" -X -h /tmp -p "$PORT" -U postgres -v ON_ERROR_STOP=1)

echo "== dependencies";  bash scripts/deps.sh
echo "== build";         bash scripts/build.sh pgxs
echo "== cluster";       INCVIEW_FRESH=1 bash scripts/cluster.sh start

echo "== database $DB"
"${PSQL[@]}" -q -d postgres -c "CREATE DATABASE $DB"
"${PSQL[@]}" -q -d "$DB" -c "CREATE EXTENSION pg_incview"
echo "== examples/vet/schema.sql"
"${PSQL[@]}" -q -d "$DB" -f examples/vet/schema.sql
echo "== examples/vet/data.sql (scale $SCALE)"
"${PSQL[@]}" -q -d "$DB" -v scale="$SCALE" -f examples/vet/data.sql
"${PSQL[@]}" -d "$DB" -c "SELECT (SELECT count(*) FROM patients) AS patients,
  (SELECT count(*) FROM products) AS products, (SELECT count(*) FROM medications) AS medications,
  (SELECT count(*) FROM immunizations) AS immunizations, (SELECT count(*) FROM order_items) AS order_items"
echo "== examples/vet/stage.sql"
"${PSQL[@]}" -d "$DB" -e -f examples/vet/stage.sql
echo "== examples/vet/demo.sql"
"${PSQL[@]}" -d "$DB" -q -e -f examples/vet/demo.sql

cat <<EOT

== The cluster is still running. Explore the demo database:
     psql -h /tmp -p $PORT -U postgres -d $DB        (or: scripts/cluster.sh psql -d $DB)
   e.g. SELECT * FROM incview.stages;  SELECT * FROM patient_product_due WHERE patient_id = 42;
   Stop it with:
     scripts/cluster.sh stop
EOT
