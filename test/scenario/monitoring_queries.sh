#!/usr/bin/env bash
# Every query of docs/monitoring/postgres_exporter.yaml runs against a database with a
# fresh, a failing and a stale stage, returns one row per stage, and its numeric columns are
# numbers (what postgres_exporter needs).
set -euo pipefail
: "${PGBIN:=/usr/lib/postgresql/15/bin}"
db=incview_monitoring
source "$(dirname "${BASH_SOURCE[0]}")/lib/wait.bash"
yaml="$(dirname "${BASH_SOURCE[0]}")/../../docs/monitoring/postgres_exporter.yaml"
fresh_database
psql -d $db >/dev/null <<'SQL'
SET client_min_messages = error;
CREATE EXTENSION pg_incview;
SET incview.default_policy = manual;
CREATE TABLE src (k int, v int);
INSERT INTO src SELECT g % 5, g FROM generate_series(1, 50) g;
SELECT incview.create_stage('ok_stage', 'SELECT k, sum(v) AS total FROM src GROUP BY k', ARRAY['k']);
SELECT incview.create_stage('bad_stage', 'SELECT k, sum(v) / (k - k) AS boom FROM src GROUP BY k', ARRAY['k'], populate => false);
CREATE TABLE src2 (k int, v int);
INSERT INTO src2 SELECT g % 5, g FROM generate_series(1, 50) g;
SELECT incview.create_stage('stale_stage', 'SELECT k, count(*) AS n FROM src2 GROUP BY k', ARRAY['k']);
INSERT INTO src VALUES (1, 1);
SELECT incview.refresh('ok_stage');
SELECT incview.refresh('bad_stage');
ALTER TABLE src2 DISABLE TRIGGER incview_capture_upd;
SQL
# query_of <name>: the indented lines of the "query: |" block under <name>.
query_of() {
  awk -v n="$1:" '$0 == n { on = 1; next } /^[a-z_]+:$/ { on = 0 } on && /^  query: \|/ { q = 1; next }
                  on && q && /^    / { sub(/^    /, ""); print; next } on && q { q = 0 }' "$yaml"
}
mapfile -t names < <(awk '/^[a-z_]+:$/ { sub(":", ""); print }' "$yaml")
for name in "${names[@]}"; do
  if ! out=$(psql -d $db -F '|' -c "$(query_of "$name")" 2>&1); then
    echo "FAILED: $name: $out"; failed=1; continue
  fi
  rows=$(printf '%s\n' "$out" | grep -c . || true)
  check "$name returns rows ($rows)" test "$rows" -ge 1
done
status=$(psql -d $db -c "SELECT string_agg(stage || '=' || status || '/' || stale, ',' ORDER BY stage) FROM ($(query_of pg_incview_stage)) m")
echo "stages: $status"
[[ $status == "bad_stage=failing/0,ok_stage=idle/0,stale_stage=stale/1" ]] ||
  { echo "FAILED: expected bad_stage=failing/0,ok_stage=idle/0,stale_stage=stale/1"; failed=1; }
psql -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
[[ $failed == 0 ]] || exit 1
echo "monitoring_queries: all checks passed"
