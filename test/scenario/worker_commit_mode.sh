#!/usr/bin/env bash
# incview.worker_synchronous_commit is the synchronous_commit of the background processes' own
# transactions only: a stage whose query reads current_setting('synchronous_commit') records,
# in each row, the setting its refresh committed with.
#   1. Default `inherit`: in a database whose sessions commit with synchronous_commit = on, the
#      background refreshes commit with on too.
#   2. `off` set with ALTER SYSTEM reaches the running scheduler at the reload, and the
#      refresh workers: their refreshes run with off (two stages of one graph level: refresh
#      workers when the budget has them, else the scheduler itself).
#   3. A user's own incview.refresh() keeps the user's setting (on) meanwhile.
#   4. Back to `inherit` at the next reload: the database's on again.
# (Whether a crash then keeps exactly-once is the same argument as any rolled-back refresh: the
# keys are consumed in the transaction that writes the rows; docs/reference.md, "Settings".)
set -euo pipefail
: "${PGBIN:=/usr/lib/postgresql/15/bin}"
db=incview_commit_mode
source "$(dirname "${BASH_SOURCE[0]}")/lib/wait.bash"
cleanup() {
  psql -d postgres -c "ALTER SYSTEM RESET incview.worker_synchronous_commit" -c "SELECT pg_reload_conf()" \
    >/dev/null 2>&1 || true
}
trap cleanup EXIT
diagnose() {
  psql -d $db -c "SELECT 'a: ' || id || ' ' || sc FROM a ORDER BY id" -c "SELECT 'b: ' || id || ' ' || sc FROM b ORDER BY id" \
    -c "SELECT 'stage: ' || name || ' ' || status || coalesce(' error=' || last_error, '') FROM incview.stages" 2>&1 |
    sed 's/^/  /' || true
}
fresh_database
psql -d postgres -c "ALTER DATABASE $db SET synchronous_commit = on" >/dev/null
export PGOPTIONS="-c synchronous_commit=on"
psql -d $db >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION pg_incview;
CREATE TABLE src (id int PRIMARY KEY);
SELECT incview.create_stage('a', $$SELECT id, current_setting('synchronous_commit') AS sc FROM src$$, ARRAY['id']);
SELECT incview.create_stage('b', $$SELECT id, current_setting('synchronous_commit') AS sc FROM src$$, ARRAY['id']);
SQL
check "a user's session commits with on" [ "$(psql -d $db -c "SHOW synchronous_commit")" = on ]

# 1. the default: inherited
psql -d $db -c "INSERT INTO src VALUES (1)"
wait_for 60 "SELECT EXISTS (SELECT 1 FROM a WHERE id = 1) AND EXISTS (SELECT 1 FROM b WHERE id = 1)"
check "inherit: background refresh of a: on" [ "$(psql -d $db -c "SELECT sc FROM a WHERE id = 1")" = on ]
check "inherit: background refresh of b: on" [ "$(psql -d $db -c "SELECT sc FROM b WHERE id = 1")" = on ]

# 2. off, at the reload
psql -d postgres -c "ALTER SYSTEM SET incview.worker_synchronous_commit = off" -c "SELECT pg_reload_conf()" >/dev/null
sleep 1  # the scheduler reads the file at the top of its loop; the reload signal wakes it
psql -d $db -c "INSERT INTO src VALUES (2)"
wait_for 60 "SELECT EXISTS (SELECT 1 FROM a WHERE id = 2) AND EXISTS (SELECT 1 FROM b WHERE id = 2)"
check "off: background refresh of a: off" [ "$(psql -d $db -c "SELECT sc FROM a WHERE id = 2")" = off ]
check "off: background refresh of b: off" [ "$(psql -d $db -c "SELECT sc FROM b WHERE id = 2")" = off ]

# 3. a user's refresh meanwhile
psql -d $db -c "SELECT incview.set_policy('a', 'manual')" >/dev/null
psql -d $db -c "INSERT INTO src VALUES (3)"
psql -d $db -c "SELECT incview.refresh('a')" >/dev/null
check "incview.refresh() in a user's session: on" [ "$(psql -d $db -c "SELECT sc FROM a WHERE id = 3")" = on ]
wait_for 60 "SELECT EXISTS (SELECT 1 FROM b WHERE id = 3)"
check "background refresh of b meanwhile: off" [ "$(psql -d $db -c "SELECT sc FROM b WHERE id = 3")" = off ]

# 4. back to inherit
psql -d postgres -c "ALTER SYSTEM SET incview.worker_synchronous_commit = inherit" -c "SELECT pg_reload_conf()" >/dev/null
sleep 1
psql -d $db -c "INSERT INTO src VALUES (4)"
wait_for 60 "SELECT EXISTS (SELECT 1 FROM b WHERE id = 4)"
check "inherit again after the reload: on" [ "$(psql -d $db -c "SELECT sc FROM b WHERE id = 4")" = on ]
psql -d postgres -c "DROP ROLE IF EXISTS commit_mode_user" -c "CREATE ROLE commit_mode_user" >/dev/null
check "a non-superuser cannot set it" bash -c \
  "! \"$PGBIN/psql\" -X -q -v ON_ERROR_STOP=1 -U postgres -d $db -c 'SET ROLE commit_mode_user' -c 'SET incview.worker_synchronous_commit = on' 2>/dev/null"
psql -d postgres -c "DROP DATABASE $db WITH (FORCE)" >/dev/null
psql -d postgres -c "DROP ROLE IF EXISTS commit_mode_user" >/dev/null
exit $failed
