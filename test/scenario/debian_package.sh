#!/usr/bin/env bash
# The Debian package: `dpkg-buildpackage -us -uc -b` on a copy of the tree builds
# postgresql-15-incview_<version>_<arch>.deb (debian/, pg_buildext conventions); its files are
# installed into a PostgreSQL 15 server tree that has no pg_incview from the source build
# (a copy of this machine's server with the source-built files removed, the package
# unpacked over it with dpkg-deb -x: the real /usr is never touched), a cluster of that
# server runs the veterinary demo (examples/vet) with the library preloaded, and the
# background worker refreshes a write.
#   INCVIEW_DEB_PGPORT  port of that cluster (default: PGPORT + 5)
# The build compiles the library once more: `make -j2` measured 103 s user + 21 s system CPU,
# but 632 s of wall time on a 2-core machine shared with other builds (load 12-17), hence a
# longer limit in scripts/test.sh.
# scenario-timeout: 1500
set -euo pipefail
: "${PGBIN:=/usr/lib/postgresql/15/bin}"
: "${PGPORT:=54329}"
port=${INCVIEW_DEB_PGPORT:-$((PGPORT + 5))}
root_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$root_dir/test/scenario/lib/wait.bash"

need=()
for p in debhelper dpkg-dev postgresql-server-dev-all postgresql-server-dev-15 libboost-graph-dev g++; do
  [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" == "install ok installed" ]] || need+=("$p")
done
if [[ ${#need[@]} -gt 0 ]]; then
  echo "installing ${need[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

work=$(mktemp -d /tmp/incview_deb.XXXXXX)
chmod 755 "$work"   # the cluster runs as postgres
data="$work/data"
stop_cluster() {
  [[ -f "$data/postmaster.pid" ]] && runuser -u postgres -- "$work/root/usr/lib/postgresql/15/bin/pg_ctl" -D "$data" -m fast stop >/dev/null 2>&1 || true
}
trap 'stop_cluster; rm -rf "$work"' EXIT

# ---------------------------------------------------------------- build the .deb
# The working tree's files (what git tracks or would track), not build products.
mkdir -p "$work/src/pg-incview"
(cd "$root_dir" && git ls-files -z --cached --others --exclude-standard |
   while IFS= read -r -d '' f; do [[ -e $f ]] && printf '%s\0' "$f"; done |
   tar --null -T - -cf -) | tar -xf - -C "$work/src/pg-incview"
echo "building the package (dpkg-buildpackage -us -uc -b)"
# nocheck: the package's own test run (make installcheck in a pg_virtualenv cluster) is the
# regress suite, which scripts/test.sh runs anyway; here the demo runs on the installed files.
# MAKEFLAGS: pg_buildext's make builds with two jobs.
if ! (cd "$work/src/pg-incview" && DEB_BUILD_OPTIONS="nocheck ${DEB_BUILD_OPTIONS:-}" MAKEFLAGS=-j2 \
        dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1); then
  tail -n 60 "$work/build.log"; echo "FAILED: dpkg-buildpackage"; exit 1
fi
deb=$(ls "$work"/src/postgresql-15-incview_*.deb)
echo "built $(basename "$deb")"
check "package name and version" test "$(dpkg-deb -f "$deb" Package Version | tr '\n' ' ')" == \
  "Package: postgresql-15-incview Version: $(dpkg-parsechangelog -l "$root_dir/debian/changelog" -S Version) "
check "depends on postgresql-15" grep -q 'postgresql-15' <<<"$(dpkg-deb -f "$deb" Depends)"
contents=$(dpkg-deb -c "$deb")
for f in usr/lib/postgresql/15/lib/pg_incview.so usr/share/postgresql/15/extension/pg_incview.control \
         usr/share/postgresql/15/extension/pg_incview--0.1.sql usr/share/postgresql/15/extension/pg_incview--0.1--0.2.sql \
         usr/share/doc/postgresql-15-incview/copyright; do
  check "package contains /$f" grep -q " \./$f\$" <<<"$contents"
done
check "nothing in the shared postgresql-doc-15 directory" test -z "$(grep postgresql-doc <<<"$contents" || true)"

# ---------------------------------------------------------------- a server without the source build
# A copy of this machine's PostgreSQL 15 (PGBIN's tree; PostgreSQL finds its lib and share
# directories relative to its binaries), minus every pg_incview file `make install` put there.
src_prefix=$(cd "$PGBIN/../../../.." && pwd)   # .../usr of PGBIN = .../usr/lib/postgresql/15/bin
mkdir -p "$work/root/usr/lib/postgresql" "$work/root/usr/share/postgresql"
cp -a "$src_prefix/lib/postgresql/15" "$work/root/usr/lib/postgresql/"
cp -a "$src_prefix/share/postgresql/15" "$work/root/usr/share/postgresql/"
rm -f "$work/root/usr/lib/postgresql/15/lib/pg_incview.so" "$work/root/usr/share/postgresql/15/extension/pg_incview"*
bin="$work/root/usr/lib/postgresql/15/bin"
check "the copy has no pg_incview" test -z "$(ls "$work/root/usr/share/postgresql/15/extension/" | grep pg_incview || true)"
dpkg-deb -x "$deb" "$work/root"
check "pg_config of the copy points into it" test "$("$bin/pg_config" --pkglibdir)" == "$work/root/usr/lib/postgresql/15/lib"

# ---------------------------------------------------------------- a cluster, the demo
chown -R postgres "$work/root"
mkdir -m 700 "$data" && chown postgres "$data"
runuser -u postgres -- "$bin/initdb" -D "$data" -U postgres --auth=trust --locale=C -E UTF8 >/dev/null
cat >>"$data/postgresql.conf" <<CONF
port = $port
listen_addresses = ''
unix_socket_directories = '/tmp'
shared_preload_libraries = 'pg_incview'
fsync = off
synchronous_commit = off
CONF
runuser -u postgres -- "$bin/pg_ctl" -D "$data" -w -l "$data/server.log" start >/dev/null
PGBIN=$bin
db=incview_demo
export PGPORT=$port PGHOST=/tmp
psql -d postgres -c "CREATE DATABASE $db" >/dev/null
psql -d $db -c "CREATE EXTENSION pg_incview" >/dev/null
check "extension version from the package" test "$(psql -d $db -c "SELECT extversion FROM pg_extension WHERE extname = 'pg_incview'")" == 0.2
check "the server mapped the package's library" \
  grep -q "$work/root/usr/lib/postgresql/15/lib/pg_incview.so" "/proc/$(head -n1 "$data/postmaster.pid")/maps"
cd "$root_dir"
psql -d $db -q -f examples/vet/schema.sql >/dev/null
psql -d $db -q -v scale=0.1 -f examples/vet/data.sql >/dev/null
psql -d $db -q -f examples/vet/stage.sql >/dev/null
if ! psql -d $db -q -f examples/vet/demo.sql >"$work/demo.out" 2>&1; then
  tail -n 40 "$work/demo.out"; echo "FAILED: examples/vet/demo.sql"; exit 1
fi
echo "ok: examples/vet/demo.sql ran ($(wc -l <"$work/demo.out") lines of output)"
check "demo stage equals its query" \
  test "$(psql -d $db -c "SELECT missing = 0 AND extra = 0 FROM incview.verify('patient_product_due')")" == t
# The background scheduler of the packaged library refreshes a write (policy continuous).
psql -d $db -c "SELECT incview.set_policy('patient_product_due', 'continuous')" >/dev/null
psql -d $db -c "INSERT INTO immunizations (patient_id, product_id, given_at) SELECT min(id), (SELECT min(id) FROM products), now() FROM patients" >/dev/null
wait_for 60 "SELECT dirty_scopes = 0 FROM incview.stages WHERE name = 'patient_product_due'"
check "the scheduler of the packaged library refreshed the write" \
  test "$(psql -d $db -c "SELECT missing = 0 AND extra = 0 FROM incview.verify('patient_product_due')")" == t

stop_cluster
[[ $failed == 0 ]] || exit 1
echo "debian_package: all checks passed"
