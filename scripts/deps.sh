#!/usr/bin/env bash
# Install the build/test dependencies of pg_incview (Debian bookworm, PostgreSQL 15).
# Idempotent and silent when everything is already installed.
set -euo pipefail

PKGS=(
  postgresql-15
  postgresql-server-dev-15
  postgresql-15-pgtap
  libtap-parser-sourcehandler-pgtap-perl
  libboost-graph-dev
  libgtest-dev
  cmake
  g++
  make
  liblz4-dev
  libzstd-dev
  libkrb5-dev
)

missing=()
for p in "${PKGS[@]}"; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$st" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "deps: installing ${missing[*]}"
SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "deps: not root and no sudo; install: ${missing[*]}" >&2; exit 1; }
  SUDO=(sudo)
fi

had_main=0
[[ -d /var/lib/postgresql/15/main ]] && had_main=1

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# Installing postgresql-15 creates and (where services run) starts the Debian
# "main" cluster on port 5432. We never use it; stop it if we just created it.
if [[ $had_main -eq 0 && -d /var/lib/postgresql/15/main ]] && command -v pg_ctlcluster >/dev/null; then
  "${SUDO[@]}" pg_ctlcluster 15 main stop >/dev/null 2>&1 || true
fi
echo "deps: done"
