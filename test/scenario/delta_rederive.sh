#!/usr/bin/env bash
# Float drift of engine delta repaired on a cadence (issue 13, item 2): incview.set_rederive
# makes the background scheduler re-derive the groups folds wrote (test/pgtap/delta_rederive.sql
# covers incview.rederive on demand). Drift is made by hand (manual folds of 1e16 + 1 - 1e16),
# then the stage goes continuous with a one-second cadence and one write wakes the scheduler:
# it folds that write and then re-derives every marked group, unasked.
set -euo pipefail
: "${PGBIN:=/usr/lib/postgresql/15/bin}"
db=incview_delta_rederive
source "$(dirname "${BASH_SOURCE[0]}")/lib/wait.bash"
diagnose() {
  psql -d $db -c "SELECT g, sf, __incview_folded FROM fs ORDER BY g" \
    -c "SELECT rederive_every, last_rederive FROM incview.delta_stage" \
    -c "SELECT * FROM incview.background_status()" || true
}
fresh_database
psql -d $db >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION pg_incview;
CREATE TABLE m (id int PRIMARY KEY, g int, f float8);
INSERT INTO m SELECT i, i % 4, i * 0.25 FROM generate_series(1, 4000) i;
CREATE INDEX ON m (g);
SELECT incview.create_stage('fs', 'SELECT g, count(*) AS n, sum(f) AS sf FROM m GROUP BY g', ARRAY['g'],
                            engine => 'delta');
SELECT incview.set_policy('fs', 'manual');
INSERT INTO m VALUES (10001, 1, 1e16), (10002, 1, 1);
SELECT incview.refresh('fs');
DELETE FROM m WHERE id = 10001;
SELECT incview.refresh('fs');
SQL
drifted="SELECT count(*) FROM fs JOIN (SELECT g, sum(f) AS sf FROM m GROUP BY g) q USING (g) WHERE fs.sf <> q.sf"
check "drift constructed: group 1 off" [ "$(psql -d $db -c "$drifted")" = 1 ]
psql -d $db >/dev/null <<'SQL'
SELECT incview.set_rederive('fs', '1 second');
SELECT incview.set_policy('fs', 'continuous');
INSERT INTO m VALUES (10003, 2, 0.5);   -- wakes the scheduler; group 2 is folded (and marked)
SQL
check "the scheduler re-derived the drifted group" \
  wait_for 120 "SELECT ($drifted) = 0 AND NOT EXISTS (SELECT 1 FROM fs WHERE g = 1 AND __incview_folded)"
check "and folded the write" wait_for 60 "SELECT (SELECT sf FROM fs WHERE g = 2) = (SELECT sum(f) FROM m WHERE g = 2)"
check "verify (0,0)" wait_for 60 "SELECT row(missing, extra)::text = '(0,0)' FROM incview.verify('fs')"
check "last_rederive recorded" [ "$(psql -d $db -c "SELECT last_rederive IS NOT NULL FROM incview.delta_stage")" = t ]
psql -d postgres -c "DROP DATABASE $db WITH (FORCE)" >/dev/null
exit $failed
