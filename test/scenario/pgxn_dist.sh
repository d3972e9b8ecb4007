#!/usr/bin/env bash
# `make dist` makes the PGXN release archive pg_incview-<version>.zip (git archive of HEAD),
# and its META.json validates against the PGXN Meta Spec v1.0.0
# (test/scenario/lib/pgxn_meta.py), agrees with the archive (the files it names are in it)
# and with pg_incview.control. The validator itself is shown to reject broken metadata.
set -euo pipefail
: "${PGBIN:=/usr/lib/postgresql/15/bin}"
root_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$root_dir/test/scenario/lib/wait.bash"
validate="$root_dir/test/scenario/lib/pgxn_meta.py"
work=$(mktemp -d /tmp/incview_pgxn.XXXXXX)
trap 'rm -rf "$work"' EXIT

version=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$root_dir/META.json")
zip="pg_incview-$version.zip"
(cd "$root_dir" && make -s dist PG_CONFIG="$PGBIN/pg_config" >/dev/null && mv "$zip" "$work/")
check "make dist made $zip" test -s "$work/$zip"
(cd "$work" && python3 -m zipfile -e "$zip" x)
check "one top directory pg_incview-$version/" test "$(ls "$work/x")" == "pg_incview-$version"
top="$work/x/pg_incview-$version"

check "META.json of the archive validates" python3 "$validate" "$top/META.json"
python3 "$validate" "$top/META.json" | sed 's/^/  /'
meta() { python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {"m": m}))' "$top/META.json" "$1"; }
for f in $(meta '" ".join(p["file"] for p in m["provides"].values())') \
         $(meta '" ".join(p.get("docfile", "") for p in m["provides"].values())') \
         Makefile pg_incview.control; do
  check "the archive has $f" test -f "$top/$f"
done
default_version=$(sed -n "s/^default_version = '\(.*\)'$/\1/p" "$top/pg_incview.control")
check "provides version $(meta 'm["provides"]["pg_incview"]["version"]') matches default_version $default_version" \
  test "$(meta 'm["provides"]["pg_incview"]["version"]')" == "$default_version.0"
check "an install or upgrade path to $default_version is in the archive" \
  test -n "$(ls "$top"/sql/pg_incview--*"$default_version".sql 2>/dev/null)"
check "no links to a repository or homepage we do not have" test "$(meta '"resources" in m')" == False

# The validator is not a rubber stamp: each of these breaks one rule of the spec.
broken() {  # broken <description> <python statement changing m>
  python3 - "$top/META.json" "$work/bad.json" "$2" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
exec(sys.argv[3])
json.dump(m, open(sys.argv[2], "w"))
PY
  if python3 "$validate" "$work/bad.json" >/dev/null; then
    echo "FAILED: validator accepted $1"; failed=1
  else
    echo "ok: validator rejects $1 ($(python3 "$validate" "$work/bad.json" | head -n1))"
  fi
}
broken "a missing license"            'del m["license"]'
broken "a missing meta-spec"          'del m["meta-spec"]'
broken "a two-part version"           'm["version"] = "0.2"'
broken "an unknown license"           'm["license"] = "postgres"'
broken "a provides entry without file" 'del m["provides"]["pg_incview"]["file"]'
broken "a name with a space"          'm["name"] = "pg incview"'
broken "an unknown prereq phase"      'm["prereqs"]["install"] = {"requires": {"PostgreSQL": "15.0.0"}}'
broken "a bad version range"          'm["prereqs"]["runtime"]["requires"]["PostgreSQL"] = ">= 15"'
broken "a release status of 'beta'"   'm["release_status"] = "beta"'
broken "a repository that is not a URL" 'm["resources"] = {"repository": {"url": "our repo"}}'

[[ $failed == 0 ]] || exit 1
echo "pgxn_dist: all checks passed"
