#!/usr/bin/env bash
# Background refresh of many databases under one budget (issue 20): freshness lag vs the
# number of active databases, and the launcher's CPU when idle. Own throwaway cluster
# (fsync on), PostgreSQL's default max_worker_processes = 8 and pg_incview's defaults
# (incview.worker_budget = 3, idle_timeout 30 s, naptime 1 s). Writes bench/many_databases.md.
#
#   bench/many_databases.sh [seconds per round, default 30]
#
# Each round: N databases (1, 10, 50), each with a continuous stage over one table, and one
# writer session per database inserting one row every 2 s (so N/2 writes per second in
# all). The lag of a write = end of the first refresh of its database's stage that started
# after the write (refresh_log.started_at + duration) minus the write's clock_timestamp()
# (taken just before its commit). Idle CPU: utime + stime of the launcher process over 60 s
# with 50 databases and no writes (/proc/<pid>/stat, in clock ticks).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${PG_CONFIG:=/usr/bin/pg_config}"
PGBIN=$("$PG_CONFIG" --bindir)
secs=${1:-30}
port=${BENCH_MANYDB_PGPORT:-54462}
data=${BENCH_MANYDB_PGDATA:-/tmp/pg_incview_bench_manydb}
out=${BENCH_MANYDB_OUT:-bench/many_databases.md}
export PG_CONFIG INCVIEW_PGPORT=$port INCVIEW_PGDATA=$data INCVIEW_FRESH=1 INCVIEW_FAST=0
export INCVIEW_PGCONF_EXTRA="max_worker_processes = 8
incview.enabled = off"
trap 'INCVIEW_PGPORT=$port INCVIEW_PGDATA=$data bash scripts/cluster.sh stop >/dev/null 2>&1 || true' EXIT
bash scripts/cluster.sh start >/dev/null
psql() { "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h /tmp -p "$port" -U postgres "$@"; }

psql -d postgres -c "CREATE DATABASE tmpl"
psql -d tmpl >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION pg_incview;
CREATE TABLE src (k int, v int, at timestamptz);
INSERT INTO src SELECT g % 10, g, now() FROM generate_series(1, 100) g;
SELECT incview.create_stage('totals', 'SELECT k, sum(v) AS total, max(at) AS last_at FROM src GROUP BY k', ARRAY['k']);
SQL
psql -d postgres -c "ALTER DATABASE tmpl IS_TEMPLATE true"
for i in $(seq 1 50); do echo "CREATE DATABASE b$i TEMPLATE tmpl STRATEGY FILE_COPY;"; done | psql -d postgres
psql -d postgres -c "ALTER SYSTEM SET incview.enabled = on" -c "SELECT pg_reload_conf()" >/dev/null
only_launcher="SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type LIKE 'pg_incview%'"
wait_idle() {
  local deadline=$((SECONDS + 180))
  until [[ "$(psql -d postgres -c "$only_launcher")" == t ]]; do
    (( SECONDS < deadline )) || { echo "not idle after 180 s" >&2; exit 1; }
    sleep 1
  done
}
wait_idle

# Launcher CPU while idle, 50 databases known.
lpid=$(psql -d postgres -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_incview launcher'")
ticks() { awk '{print $14 + $15}' "/proc/$lpid/stat"; }
hz=$(getconf CLK_TCK)
t0=$(ticks); sleep 60; t1=$(ticks)
idle_ms=$(( (t1 - t0) * 1000 / hz ))

rows=""
for n in 1 10 50; do
  pids=()
  rounds=$((secs / 2))
  for i in $(seq 1 "$n"); do
    psql -d "b$i" -c "DO \$\$ BEGIN FOR i IN 1..$rounds LOOP
                        INSERT INTO src VALUES (i % 10, -$n, clock_timestamp()); COMMIT; PERFORM pg_sleep(2);
                      END LOOP; END \$\$" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  sleep 5  # the last writes' refreshes
  lags=$(for i in $(seq 1 "$n"); do
    psql -d "b$i" -c "SELECT round(extract(epoch FROM (SELECT min(l.started_at + l.duration) FROM incview.refresh_log l
                                                         WHERE l.stage = 'totals' AND l.error IS NULL AND l.started_at > s.at) - s.at) * 1000)
                      FROM src s WHERE s.v = -$n"
  done | sort -n)
  missing=$(grep -c '^$' <<<"$lags" || true)  # never refreshed: reported
  lags=$(grep . <<<"$lags")
  count=$(grep -c . <<<"$lags")
  pct() { sed -n "$(( (count * $1 + 99) / 100 ))p" <<<"$lags"; }
  rows+="| $n | $count | $missing | $(pct 50) | $(pct 95) | $(tail -1 <<<"$lags") |"$'\n'
  echo "n=$n writes=$count unrefreshed=$missing p50=$(pct 50) p95=$(pct 95) max=$(tail -1 <<<"$lags")"
  wait_idle
done

cat > "$out" <<EOF2
# Many databases under one budget (bench/many_databases.sh)

Written by \`bench/many_databases.sh $secs\` on $(date -u '+%Y-%m-%d %H:%M:%S UTC'). Re-run the script rather
than editing this file.

- machine: $(nproc) logical CPUs, $(uname -sr); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)
  (a shared 2-core machine: expect noise)
- $("$PGBIN/postgres" --version), pg_incview git \`$(git rev-parse --short HEAD)\`
- own cluster, fsync and synchronous_commit on, \`max_worker_processes = 8\` (PostgreSQL's
  default), pg_incview defaults: \`incview.worker_budget = 3\`, \`incview.idle_timeout = 30s\`,
  \`incview.naptime = 1s\`; 50 databases, each with one continuous stage over a 100-row table
- each active database gets one single-row INSERT every 2 s for $secs s (its own session);
  the other databases are idle

## Freshness lag vs active databases

Lag of a write: end of the first refresh of its stage that started after the write, minus
the write's \`clock_timestamp()\` just before its commit. One round per N, all writes counted.

| active databases | writes | never refreshed | p50 lag (ms) | p95 lag (ms) | max (ms) |
|---|---|---|---|---|---|
$rows
## Launcher when idle

CPU time (user + system) of the \`pg_incview launcher\` process over 60 s with 50 databases
with the extension and no writes (no other pg_incview process running): **$idle_ms ms**
($((t1 - t0)) clock ticks at $hz Hz).
EOF2
echo "wrote $out"
