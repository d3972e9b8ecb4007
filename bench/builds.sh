# Sourced by the before/after benchmarks (call_cpu.sh, delta_cpu.sh, scoped_cpu.sh,
# fixed_cost.sh): two builds of pg_incview, each in its own throwaway cluster, measured in
# alternating rounds so that whatever else loads the machine hits both alike.
#   after  = PGBIN (the build under test), port PORT, data DATA_after
#   before = PGBIN_BEFORE when set (a second PostgreSQL copy with the other build), PORT+1
# The caller sets ROOT, PGBIN, PGBIN_BEFORE first; BUILDS_PGCONF adds postgresql.conf lines.

# builds_init PORT DATA: LABELS (after[, before]) and the arrays BIN, PRT, DIR by label.
builds_init() {
  LABELS=(after)
  declare -gA BIN PRT DIR
  BIN[after]=$PGBIN; PRT[after]=$1; DIR[after]=${2}_after
  if [[ -n ${PGBIN_BEFORE:-} ]]; then
    LABELS+=(before)
    BIN[before]=$PGBIN_BEFORE; PRT[before]=$(($1 + 1)); DIR[before]=${2}_before
  fi
}

# builds_cluster LABEL start|stop|...: scripts/cluster.sh for that build. The scheduler is off
# (incview.enabled): a benchmark drives every refresh itself unless it turns it on.
builds_cluster() {
  local l=$1; shift
  PGBIN=${BIN[$l]} INCVIEW_PGPORT=${PRT[$l]} INCVIEW_PGDATA=${DIR[$l]} INCVIEW_FAST=0 \
    INCVIEW_PGCONF_EXTRA="shared_buffers = '256MB'
max_wal_size = '4GB'
incview.enabled = off
${BUILDS_PGCONF:-}" bash "$ROOT/scripts/cluster.sh" "$@"
}

# builds_psql LABEL psql-arguments...: psql of that build against its cluster.
builds_psql() {
  local l=$1; shift
  "${BIN[$l]}/psql" -X -q -h /tmp -p "${PRT[$l]}" -U postgres -v ON_ERROR_STOP=1 "$@"
}

# builds_order N: the labels in round N's order, reversed every other round.
builds_order() {
  if (($1 % 2 == 0)); then printf '%s\n' "${LABELS[@]}" | tac; else printf '%s\n' "${LABELS[@]}"; fi
}

# builds_remove: stops both clusters and deletes their data directories.
builds_remove() {
  local l
  for l in "${LABELS[@]}"; do builds_cluster "$l" stop >/dev/null 2>&1 || true; rm -rf "${DIR[$l]}"; done
}
