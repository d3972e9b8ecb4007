#!/usr/bin/env bash
# Replication (issue 11, item 3), on three clusters of its own next to the test cluster:
#  - a publisher P (wal_level = logical) and a subscriber S: stages on S over tables the
#    subscription's apply worker fills (initial copy, INSERT/UPDATE/DELETE, a row moving
#    between scopes, TRUNCATE) converge under S's scheduler (verify 0/0, queue empty), never
#    reading 'idle' over stale rows;
#  - a physical hot standby T of P (pg_basebackup -R): stage tables readable there and equal
#    to their queries once T has replayed P's refresh; no pg_incview worker runs on T and its
#    log has no error; after pg_ctl promote the launcher starts there and a write on T
#    reaches its continuous stage.
# Ports: INCVIEW_EXTRA_PGPORT (default PGPORT + 20) and the next two; data directories
# $INCVIEW_PGDATA-repl-{pub,sub,standby}. All three are stopped and removed at the end.
set -euo pipefail
: "${PGBIN:=/usr/lib/postgresql/15/bin}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
base=${INCVIEW_EXTRA_PGPORT:-$((${PGPORT:-54329} + 20))}
P=$base S=$((base + 1)) T=$((base + 2))
data=${INCVIEW_PGDATA:-/tmp/pg_incview_data}
P_DATA=$data-repl-pub S_DATA=$data-repl-sub T_DATA=$data-repl-standby
db=incview_repl
naptime="incview.naptime = '100ms'"

cluster() {  # cluster <data dir> <port> <extra conf> start|stop
  INCVIEW_PGDATA=$1 INCVIEW_PGPORT=$2 INCVIEW_PGCONF_EXTRA=$3 PGBIN=$PGBIN bash "$ROOT/scripts/cluster.sh" "$4" >/dev/null
}
as_pg() { if [[ $(id -un) == postgres ]]; then "$@"; else runuser -u postgres -- "$@"; fi; }
q() {  # q <port> <sql...>: in $db on that cluster
  local port=$1; shift
  "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h /tmp -p "$port" -U postgres -d "$db" "$@"
}
wait_on() {  # wait_on <port> <seconds> <sql returning t>
  local deadline=$((SECONDS + $2))
  until [[ "$(q "$1" -c "$3" 2>/dev/null || true)" == t ]]; do
    if (( SECONDS > deadline )); then
      echo "timeout ($2 s) on port $1 waiting for: $3"
      q "$1" -c "SELECT name, status, dirty_scopes, all_dirty, last_error, capture_off FROM incview.stages" 2>&1 || true
      return 1
    fi
    sleep 0.1
  done
}
failed=0
check() {
  local what=$1; shift
  if "$@"; then echo "ok: $what"; else echo "FAILED: $what"; failed=1; fi
}
cleanup() {
  for d in "$T_DATA" "$S_DATA" "$P_DATA"; do
    [[ -d $d ]] && { INCVIEW_PGDATA=$d PGBIN=$PGBIN bash "$ROOT/scripts/cluster.sh" stop >/dev/null 2>&1 || true; }
    rm -rf "$d"
  done
}
trap cleanup EXIT
cleanup

# A stage is fresh: its table equals its query and nothing is queued for it.
fresh() { echo "(SELECT v.missing = 0 AND v.extra = 0 FROM incview.verify('$1') v)
               AND NOT EXISTS (SELECT 1 FROM incview.queued_keys q JOIN incview.stage s ON s.id = q.stage_id
                               WHERE s.name = '$1')"; }

INCVIEW_FRESH=1 cluster "$P_DATA" "$P" "wal_level = logical
$naptime" start
INCVIEW_FRESH=1 cluster "$S_DATA" "$S" "$naptime" start
for port in "$P" "$S"; do
  "$PGBIN/psql" -X -q -h /tmp -p "$port" -U postgres -d postgres -c "CREATE DATABASE $db"
  q "$port" <<'SQL'
CREATE TABLE visits (id int PRIMARY KEY, patient_id int NOT NULL, minutes int NOT NULL);
CREATE TABLE notes (visit_id int PRIMARY KEY, words int NOT NULL);
SQL
done
q "$P" <<'SQL'
INSERT INTO visits SELECT g, g % 20, g FROM generate_series(1, 2000) g;
INSERT INTO notes SELECT g, g % 7 FROM generate_series(1, 2000, 3) g;
CREATE PUBLICATION pub FOR TABLE visits, notes;
SQL

# ------------------------------------------------------------------ logical: stages on S
q "$S" <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION pg_incview;
SELECT incview.create_stage('per_patient',
  'SELECT patient_id, count(*) AS visits, sum(minutes) AS minutes FROM visits GROUP BY patient_id', ARRAY['patient_id']);
SELECT incview.create_stage('words',
  'SELECT v.patient_id, sum(n.words) AS words FROM visits v JOIN notes n ON n.visit_id = v.id GROUP BY 1', ARRAY['patient_id']);
SELECT incview.map_source('words', 'notes', 'SELECT v.patient_id FROM visits v WHERE v.id = changed.visit_id');
SQL
q "$S" -c "CREATE SUBSCRIPTION sub CONNECTION 'host=/tmp port=$P dbname=$db user=postgres' PUBLICATION pub" 2>/dev/null
check "subscription: initial copy done" wait_on "$S" 60 \
  "SELECT count(*) = 2 FROM pg_subscription_rel WHERE srsubstate = 'r'"
check "initial copy (tablesync) reaches the stages" wait_on "$S" 60 "SELECT $(fresh per_patient) AND $(fresh words)"
check "the stages hold the copied rows" test "$(q "$S" -c "SELECT sum(visits) FROM per_patient")" = 2000

q "$P" <<'SQL'
INSERT INTO visits SELECT g, g % 25, 1 FROM generate_series(2001, 2500) g;    -- new scopes 20..24
UPDATE visits SET minutes = minutes + 1 WHERE id % 10 = 0;
UPDATE visits SET patient_id = 99 WHERE id = 5;                              -- a row moving between scopes
DELETE FROM visits WHERE id BETWEEN 100 AND 150;
UPDATE notes SET words = words + 5 WHERE visit_id % 2 = 0;                    -- the lookup mapping
INSERT INTO notes VALUES (2002, 3), (2003, 4);
SQL
check "publisher writes (apply worker) reach the stages on the subscriber" wait_on "$S" 60 \
  "SELECT $(fresh per_patient) AND $(fresh words)
     AND (SELECT sum(visits) FROM per_patient) = (SELECT count(*) FROM visits)
     AND EXISTS (SELECT 1 FROM per_patient WHERE patient_id = 99) AND (SELECT count(*) FROM visits) = 2449"
q "$P" -c "TRUNCATE notes"
check "TRUNCATE on the publisher empties the stage on the subscriber" wait_on "$S" 60 \
  "SELECT $(fresh words) AND NOT EXISTS (SELECT 1 FROM words) AND NOT EXISTS (SELECT 1 FROM notes)"
check "no subscriber stage reads stale or failing" test \
  "$(q "$S" -c "SELECT count(*) FROM incview.stages WHERE status <> 'idle' OR capture_off IS NOT NULL")" = 0
q "$S" -c "DROP SUBSCRIPTION sub" >/dev/null

# ------------------------------------------------------------------ physical: T from P
q "$P" <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION pg_incview;
SELECT incview.create_stage('per_patient',
  'SELECT patient_id, count(*) AS visits, sum(minutes) AS minutes FROM visits GROUP BY patient_id', ARRAY['patient_id']);
SQL
as_pg "$PGBIN/pg_basebackup" -h /tmp -p "$P" -U postgres -D "$T_DATA" -R -X stream -c fast
rm -f "$T_DATA/server.log"   # the primary's log, copied with its data directory
INCVIEW_FRESH=0 cluster "$T_DATA" "$T" "$naptime" start   # (test.sh exports INCVIEW_FRESH=1: not for the backup)
check "T is a hot standby" test "$(q "$T" -c "SELECT pg_is_in_recovery()")" = t
q "$P" -c "INSERT INTO visits SELECT g, g % 30, 2 FROM generate_series(3001, 3300) g"
check "the primary's scheduler refreshes" wait_on "$P" 60 "SELECT $(fresh per_patient)"
lsn=$(q "$P" -c "SELECT pg_current_wal_lsn()")
check "the standby replays it" wait_on "$T" 60 "SELECT pg_last_wal_replay_lsn() >= '$lsn'"
check "the stage table on the standby is readable and equals its query there" test \
  "$(q "$T" -c "SELECT row(missing, extra)::text FROM incview.verify('per_patient')")" = "(0,0)"
check "and shows the primary's last write" test "$(q "$T" -c "SELECT sum(visits) FROM per_patient")" = \
  "$(q "$P" -c "SELECT count(*) FROM visits")"
check "incview.stages reads on the standby" test "$(q "$T" -c "SELECT status FROM incview.stages")" = idle
check "no pg_incview worker runs on the standby" test \
  "$(q "$T" -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'pg_incview%'")" = 0
sleep 1   # a naptime or ten: a scheduler that tried to run would have logged by now
# (Promotion ends the WAL receiver with a FATAL line of its own; nothing else may appear.)
log_errors() { grep -E 'ERROR|FATAL|PANIC' "$T_DATA/server.log" | grep -v 'terminating walreceiver process' || true; }
check "the standby's log has no error" test -z "$(log_errors)"

as_pg "$PGBIN/pg_ctl" -D "$T_DATA" -w -t 60 promote >/dev/null
# The launcher starts with promotion; a database's scheduler runs only while something is
# due and leaves when idle, so whether one is visible at a given instant is a race (this
# check failed under load when it asked for the scheduler). The write below proves one runs.
check "after promotion the launcher starts there" wait_on "$T" 60 \
  "SELECT pg_is_in_recovery() = false AND EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'pg_incview launcher')"
q "$T" -c "INSERT INTO visits VALUES (5001, 7, 1000), (5002, 31, 1)"
check "a write on the promoted server reaches its continuous stage" wait_on "$T" 60 \
  "SELECT $(fresh per_patient) AND EXISTS (SELECT 1 FROM per_patient WHERE patient_id = 31)"
check "the promoted server's log has no error" test -z "$(log_errors)"
log_errors

exit $failed
