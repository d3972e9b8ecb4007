#!/usr/bin/env bash
# docs/frameworks.md cannot rot: its migrations are extracted and run, for each tool, in a
# fresh database with the example tables, and the stages are checked after each step and
# after going back down:
#   Django 3.2 and Active Record 6.1 (Debian packages): their real migrators, forward and back;
#   Ecto (not packaged in Debian): the SQL of its execute heredocs, up then down, one
#   transaction per migration unless @disable_ddl_transaction;
#   Flyway / Liquibase: the SQL as they run it (transactions per script / changeset, their
#   opt-outs honoured; Liquibase's --rollback lines in reverse).
# Also: the non-transactional step really needs its opt-out (in a transaction: 2D000).
set -euo pipefail
: "${PGBIN:=/usr/lib/postgresql/15/bin}"
: "${PGHOST:=/tmp}" "${PGPORT:=54329}"
export PGHOST PGPORT
db=incview_frameworks
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib/wait.bash"
doc="$here/../../docs/frameworks.md"

# The real migrators come from Debian (the scenario installs what is missing).
need=()
for p in python3-django python3-psycopg2 ruby-activerecord ruby-pg; do
  [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" == "install ok installed" ]] || need+=("$p")
done
if [[ ${#need[@]} -gt 0 ]]; then
  echo "installing ${need[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

work=$(mktemp -d /tmp/incview_frameworks.XXXXXX)
trap 'rm -rf "$work"' EXIT
python3 "$here/lib/doc_migrations.py" extract "$doc" "$work" >/dev/null
run_sql() {  # run_sql <file> [notx]: as the tools do: one transaction, or statement by statement
  if [[ ${2:-} == notx ]]; then psql -d $db -f "$1" >/dev/null; else psql -d $db -1 -f "$1" >/dev/null; fi
}

fresh() {  # a new database with the extension, the doc's example tables and some rows
  fresh_database
  psql -d $db >/dev/null <<SQL
SET client_min_messages = warning;
CREATE EXTENSION pg_incview;
\i $work/schema.sql
INSERT INTO patients SELECT g, 'patient ' || g FROM generate_series(1, 20) g;
INSERT INTO visits (patient_id, visited_at, amount)
SELECT 1 + g % 20, timestamptz '2024-01-01 09:00+00' + g * interval '7 hours', g % 50 FROM generate_series(1, 300) g;
SQL
}

# stages: every stage with its table's columns, after a write to the sources and a refresh;
# "wrong" when a stage's table differs from its query.
stages() {
  psql -d $db >/dev/null -c "INSERT INTO visits (patient_id, visited_at, amount) VALUES (3, now(), 12.5)" \
    -c "SET client_min_messages = warning" -c "CALL incview.refresh_all()"
  psql -d $db -c "SELECT coalesce(string_agg(s.name || '(' ||
      (SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute
       WHERE attrelid = s.target AND attnum > 0 AND NOT attisdropped) || ')' ||
      CASE WHEN v.missing = 0 AND v.extra = 0 THEN '' ELSE ' wrong' END, ' ' ORDER BY s.name), 'none')
    FROM incview.stages s CROSS JOIN LATERAL incview.verify(s.name) v"
}
created='patient_totals(patient_id,visits,amount)'
altered='patient_totals(patient_id,visits,amount,last_visit)'
all_up='visit_days(patient_id,day,visits)'
expect() {  # expect <tool> <step> <state>
  local got
  got=$(stages)
  check "$1 $2: $got" test "$got" == "$3"
}

# ---------------------------------------------------------------- Django (real)
fresh
proj="$work/django"
touch "$proj/clinic/__init__.py" "$proj/clinic/migrations/__init__.py"
cat >"$proj/settings.py" <<PY
SECRET_KEY = "test"
INSTALLED_APPS = ["clinic"]
USE_TZ = True
DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "$db", "USER": "postgres",
                         "HOST": "$PGHOST", "PORT": "$PGPORT"}}
PY
# Debian's python3 (a python3 earlier in PATH may not see Debian's Django).
django() { (cd "$proj" && DJANGO_SETTINGS_MODULE=settings /usr/bin/python3 -m django "$@" -v 0); }
django migrate clinic 0001;  expect django "0001" "$created"
django migrate clinic 0002;  expect django "0002" "$altered"
django migrate clinic;       expect django "0004" "$all_up"
django migrate clinic 0002;  expect django "back to 0002" "$altered"
django migrate clinic zero;  expect django "back to zero" none

# ---------------------------------------------------------------- Rails (real)
fresh
for f in "$work"/rails/*.rb; do   # Migration[7.1] in the doc; Debian ships Active Record 6.1
  sed -i "s/ActiveRecord::Migration\[7\.1\]/ActiveRecord::Migration[$(ruby -ractive_record -e 'print ActiveRecord::Migration.current_version')]/" "$f"
done
rails() {  # rails <target version; 0 = all the way down>
  ruby -ractive_record -e '
    ActiveRecord::Base.establish_connection(adapter: "postgresql", host: ENV["PGHOST"], port: ENV["PGPORT"],
                                            username: "postgres", database: ARGV[1])
    ActiveRecord::MigrationContext.new(ARGV[0], ActiveRecord::SchemaMigration).migrate(Integer(ARGV[2]))
  ' "$work/rails" $db "$1" >/dev/null
}
rails 20240101000001; expect rails "create" "$created"
rails 20240101000002; expect rails "alter" "$altered"
rails 20240101000004; expect rails "all up" "$all_up"
rails 20240101000002; expect rails "back to alter" "$altered"
rails 0;              expect rails "all down" none

# ---------------------------------------------------------------- Ecto (its SQL)
fresh
mapfile -t ecto_files < <(ls "$work"/ecto/*.exs | sort)
for f in "${ecto_files[@]}"; do python3 "$here/lib/doc_migrations.py" ecto "$f" "$f.d"; done
ecto_up() { local d="$1.d"; run_sql "$d/up.sql" "$([[ -e $d/notx ]] && echo notx)"; }
ecto_down() { local d="$1.d"; run_sql "$d/down.sql" "$([[ -e $d/notx ]] && echo notx)"; }
ecto_up "${ecto_files[0]}";   expect ecto "create" "$created"
ecto_up "${ecto_files[1]}";   expect ecto "alter" "$altered"
ecto_up "${ecto_files[2]}"; ecto_up "${ecto_files[3]}"; expect ecto "all up" "$all_up"
for ((i = 3; i >= 0; i--)); do ecto_down "${ecto_files[$i]}"; done
expect ecto "all down" none

# ---------------------------------------------------------------- Flyway (its SQL)
fresh
for f in $(ls "$work"/flyway/V*__*.sql | sort -V); do
  notx=
  grep -qx 'executeInTransaction=false' "$f.conf" 2>/dev/null && notx=notx
  run_sql "$f" $notx
  [[ $(basename "$f") == V2__* ]] && expect flyway "V2" "$altered"
done
expect flyway "V4" "$all_up"

# The opt-out is needed: V3 inside a transaction fails with "invalid transaction termination".
fresh
run_sql "$work/flyway/V1__create_patient_totals.sql"
err=$(psql -d $db -1 -f "$work/flyway/V3__create_visit_days.sql" -v VERBOSITY=verbose 2>&1 || true)
check "create_stage_concurrently in a transaction fails with 2D000" grep -q 'ERROR:  2D000' <<<"$err"
expect flyway "and leaves nothing" "$created"

# ---------------------------------------------------------------- Liquibase (its SQL)
fresh
python3 "$here/lib/doc_migrations.py" liquibase "$work/liquibase/changelog.sql" "$work/lb"
sets=$(ls "$work"/lb/[0-9][0-9].sql | sort)
for f in $sets; do run_sql "$f" "$([[ -e ${f%.sql}.notx ]] && echo notx)"; done
expect liquibase "update" "$all_up"
for f in $(sort -r <<<"$sets"); do run_sql "${f%.sql}.rollback.sql" "$([[ -e ${f%.sql}.notx ]] && echo notx)"; done
expect liquibase "rollback all" none

psql -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
[[ $failed == 0 ]] || exit 1
echo "framework_migrations: all checks passed"
