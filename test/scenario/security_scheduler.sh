#!/usr/bin/env bash
# Security (issue 10), the background workers, attacked by roles without privileges:
# (a) a continuous stage whose query calls set_config('search_path', <attacker schema>, false)
#     must not change the scheduler's own session: the scheduler runs its catalog SQL as the
#     bootstrap superuser, and the attacker's schema holds operators (int4 =, text <>) that
#     make the attacker superuser when a superuser uses them unqualified. A second stage
#     calls the escalating function from its query (the scheduler must run it as the owner).
#     After the scheduler has refreshed both stages several times, the attacker is not
#     superuser.
# (b) DROP DATABASE by a role that may not drop it fails with permission denied and must
#     not stop that database's scheduler: it stays in pg_stat_activity and keeps refreshing.
# Every check runs; the scenario fails if any failed.
set -euo pipefail
: "${PGBIN:=/usr/lib/postgresql/15/bin}"
db=incview_sec_sched
victimdb=incview_sec_victim
source "$(dirname "${BASH_SOURCE[0]}")/lib/wait.bash"
attacker=sec_sched_attacker
nobody=sec_sched_nobody
cleanup() {
  psql -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" \
                   -c "DROP DATABASE IF EXISTS $victimdb WITH (FORCE)" >/dev/null 2>&1 || true
  psql -d postgres -c "DROP ROLE IF EXISTS $attacker" -c "DROP ROLE IF EXISTS $nobody" >/dev/null 2>&1 || true
}
trap cleanup EXIT
cleanup
psql -d postgres -c "CREATE DATABASE $db" -c "CREATE DATABASE $victimdb" \
                 -c "CREATE ROLE $attacker LOGIN" -c "CREATE ROLE $nobody LOGIN" >/dev/null
attacker_is_super() { [[ "$(psql -d postgres -c "SELECT rolsuper FROM pg_roles WHERE rolname = '$attacker'")" == t ]]; }
not_super() { ! attacker_is_super; }

# ------------------------------------------------------------------ (a) the scheduler's session
psql -d $db >/dev/null <<SQL
SET client_min_messages = warning;
CREATE EXTENSION pg_incview;
CREATE SCHEMA sec_ev AUTHORIZATION $attacker;
SET ROLE $attacker;
CREATE FUNCTION sec_ev.esc() RETURNS boolean LANGUAGE plpgsql AS \$\$
BEGIN
  IF (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) current_user) THEN
    EXECUTE 'ALTER ROLE $attacker SUPERUSER';
  END IF;
  RETURN true;
END \$\$;
-- Operators that shadow pg_catalog's for whoever runs with sec_ev first in search_path
-- (COST 1: cheap-looking, so the scheduler's plans stay below jit_above_cost).
CREATE FUNCTION sec_ev.int4_eq(int4, int4) RETURNS boolean LANGUAGE plpgsql COST 1 AS \$\$
BEGIN
  PERFORM sec_ev.esc();
  RETURN \$1 OPERATOR(pg_catalog.=) \$2;
END \$\$;
CREATE OPERATOR sec_ev.= (LEFTARG = int4, RIGHTARG = int4, FUNCTION = sec_ev.int4_eq);
CREATE FUNCTION sec_ev.text_ne(text, text) RETURNS boolean LANGUAGE plpgsql COST 1 AS \$\$
BEGIN
  PERFORM sec_ev.esc();
  RETURN \$1 OPERATOR(pg_catalog.<>) \$2;
END \$\$;
CREATE OPERATOR sec_ev.<> (LEFTARG = text, RIGHTARG = text, FUNCTION = sec_ev.text_ne);
CREATE FUNCTION sec_ev.hijack() RETURNS int LANGUAGE plpgsql AS \$\$
BEGIN
  PERFORM pg_catalog.set_config('search_path', 'sec_ev, pg_catalog', false);
  RETURN 0;
END \$\$;
CREATE TABLE sec_ev.src (k int, v int);
INSERT INTO sec_ev.src SELECT g, g FROM generate_series(1, 20) g;
CREATE TABLE sec_ev.src2 (k int, v int);
INSERT INTO sec_ev.src2 SELECT g, g FROM generate_series(1, 20) g;
SELECT incview.create_stage('sec_hijack', 'SELECT k, v + sec_ev.hijack() AS v FROM sec_ev.src', ARRAY['k'],
                            target => 'sec_ev.hijack_stage');
SELECT incview.create_stage('sec_direct', 'SELECT k, v FROM sec_ev.src2 WHERE sec_ev.esc()', ARRAY['k'],
                            target => 'sec_ev.direct_stage');
SQL
wait_for 20 "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'pg_incview scheduler' AND datname = current_database())"
check "the attacker starts without superuser" not_super

# Several background refreshes of each stage, one stage dirty at a time (a lone due stage is
# refreshed by the scheduler process itself, not by a refresh worker). The stage calling the
# payload directly first: the hijacked search_path would also fire through its passes.
refreshed() {  # refreshed <stage> <table> <source>: no key queued and the sums agree
  wait_for 20 "SELECT NOT EXISTS (SELECT 1 FROM incview.queued_keys d JOIN incview.stage s ON s.id = d.stage_id
                                  WHERE s.name = '$1')
               AND (SELECT sum(v) FROM $2) = (SELECT sum(v) FROM $3)"
}
ok_direct=1
for i in 1 2 3 4 5; do
  psql -d $db -c "INSERT INTO sec_ev.src2 VALUES ($i, 1000 + $i)"
  refreshed sec_direct sec_ev.direct_stage sec_ev.src2 || ok_direct=0
done
check "the scheduler refreshed the stage calling the payload" test $ok_direct = 1
check "the scheduler runs a stage query as its owner: the attacker is not superuser" not_super
psql -d postgres -c "ALTER ROLE $attacker NOSUPERUSER" >/dev/null
ok_hijack=1
for i in 1 2 3 4 5; do
  psql -d $db -c "INSERT INTO sec_ev.src VALUES ($i, 1000 + $i)"
  refreshed sec_hijack sec_ev.hijack_stage sec_ev.src || ok_hijack=0
done
sleep 1  # a few more scheduler passes (naptime) with whatever the refreshes left in its session
check "the scheduler refreshed the stage that sets search_path" test $ok_hijack = 1
check "a stage query's set_config(search_path) does not reach the scheduler's own SQL: the attacker is not superuser" \
  not_super
psql -d postgres -c "ALTER ROLE $attacker NOSUPERUSER" >/dev/null

# ------------------------------------------------------------------ (b) DROP DATABASE by a non-owner
psql -d $victimdb >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION pg_incview;
CREATE TABLE src (k int, v int);
INSERT INTO src SELECT g, g FROM generate_series(1, 10) g;
SELECT incview.create_stage('totals', 'SELECT k, sum(v) AS total FROM src GROUP BY k', ARRAY['k']);
SQL
victim_scheduler="SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'pg_incview scheduler' AND datname = '$victimdb')"
db=$victimdb wait_for 20 "$victim_scheduler"
if "$PGBIN/psql" -X -q -At -U $nobody -d postgres -c "DROP DATABASE $victimdb" 2>/dev/null; then
  echo "FAILED: $nobody could drop $victimdb"; failed=1
else
  echo "ok: DROP DATABASE by $nobody is refused"
fi
victim_scheduler_running() { sleep 0.5; db=$victimdb wait_for 3 "$victim_scheduler"; }
victim_refreshed() {
  db=$victimdb wait_for 5 "SELECT (SELECT total FROM totals WHERE k = 3) = (SELECT sum(v) FROM src WHERE k = 3)"
}
check "the refused DROP DATABASE left $victimdb's scheduler running" victim_scheduler_running
psql -d $victimdb -c "INSERT INTO src VALUES (3, 1000)"
check "$victimdb keeps being refreshed in the background" victim_refreshed

[[ $failed == 0 ]] || { echo "security_scheduler: some checks FAILED"; exit 1; }
echo "security_scheduler: all checks passed"
