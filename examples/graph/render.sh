#!/usr/bin/env bash
# Renders docs/stage-graph.svg from incview.graph_dot() of the example graph (needs graphviz).
set -euo pipefail
cd "$(dirname "$0")/../.."
db=incview_graph_example
psql() { /usr/lib/postgresql/15/bin/psql -X -q -v ON_ERROR_STOP=1 -h /tmp -p "${INCVIEW_PGPORT:-54329}" -U postgres "$@"; }
psql -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
psql -d $db -c "CREATE EXTENSION pg_incview" -f examples/vet/schema.sql -f examples/vet/data.sql \
     -f examples/vet/stage.sql -f examples/graph/vet_graph.sql >/dev/null
psql -d $db -At -c "SELECT incview.graph_dot()" > docs/stage-graph.dot
dot -Tsvg docs/stage-graph.dot > docs/stage-graph.svg
echo "wrote docs/stage-graph.svg"
