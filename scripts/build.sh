#!/usr/bin/env bash
# Build and install the extension (PGXS), then the CMake tree (core library + unit tests).
#   scripts/build.sh          # both
#   scripts/build.sh pgxs     # only make && make install
#   scripts/build.sh cmake    # only cmake configure + build (build/)
set -euo pipefail
cd "$(dirname "$0")/.."

JOBS=${INCVIEW_JOBS:-2}
export PG_CONFIG=${PG_CONFIG:-/usr/bin/pg_config}
what=${1:-all}

build_pgxs() {
  echo "build: make (PGXS, $PG_CONFIG)"
  make -s -j"$JOBS" PG_CONFIG="$PG_CONFIG"
  make -s install PG_CONFIG="$PG_CONFIG" >/dev/null
  echo "build: installed into $("$PG_CONFIG" --pkglibdir)"
}

build_cmake() {
  echo "build: cmake (build/)"
  cmake -S . -B build -DCMAKE_BUILD_TYPE="${INCVIEW_CMAKE_BUILD_TYPE:-RelWithDebInfo}" >/dev/null
  cmake --build build -j"$JOBS" -- --no-print-directory >/dev/null
}

case "$what" in
  all)   build_pgxs; build_cmake ;;
  pgxs)  build_pgxs ;;
  cmake) build_cmake ;;
  *)     echo "usage: $0 [all|pgxs|cmake]" >&2; exit 2 ;;
esac
