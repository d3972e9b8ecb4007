#include "pg/catalog/stage_sources.hpp"

#include "core/sql_text.hpp"
#include "pg/capture/capture.hpp"
#include "pg/support/guard.hpp"
#include "pg/capture/new_source_lock.hpp"
#include "pg/support/role.hpp"
#include "pg/support/spi.hpp"

namespace incview::pg {

namespace {

void notice(const std::string& message, const std::string& hint) {
  const char* m = message.c_str();
  const char* h = hint.c_str();
  pg_call([&] { ereport(NOTICE, (errmsg("%s", m), errhint("%s", h))); });
}

}  // namespace

void check_source_privileges(Oid owner, const std::vector<Oid>& relations) {
  for (Oid rel : relations) {
    bool can_select = false, can_trigger = false;
    const Oid r = rel;
    pg_call([&] {
      can_select = pg_class_aclcheck(r, owner, ACL_SELECT) == ACLCHECK_OK;
      can_trigger = pg_class_ownercheck(r, owner) || pg_class_aclcheck(r, owner, ACL_TRIGGER) == ACLCHECK_OK;
    });
    if (can_select && can_trigger) continue;
    std::string role = "?", table = "?";
    pg_call([&] {
      role = GetUserNameFromId(owner, true) ? GetUserNameFromId(owner, true) : "?";
      char* t = get_rel_name(r);
      char* ns = get_namespace_name(get_rel_namespace(r));
      if (t) table = quote_qualified_identifier(ns, t);
    });
    throw Error(sqlstate::kInsufficientPrivilege,
                "permission denied for table " + table + ": the stage's owner " + quote_ident(role) + " needs " +
                    (can_select ? "TRIGGER on it (or to own it)" : "SELECT on it"),
                "pg_incview reads every source of a stage as the stage's owner and installs capture triggers on it",
                "GRANT " + std::string(can_select ? "TRIGGER" : "SELECT") + " ON " + table + " TO " +
                    quote_ident(role));
  }
}

void refuse_own_tables(const std::vector<Oid>& relations) {
  for (Oid rel : relations) {
    std::optional<std::string> own;
    as_extension_owner([&] {
      own = spi_scalar(
          "SELECT d.objid::pg_catalog.regclass::pg_catalog.text FROM pg_catalog.pg_depend d "
          "JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid "
          "WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = $1 "
          "AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND d.deptype = 'e' "
          "AND e.extname = 'pg_incview'",
          {oid_arg(rel)});
    });
    if (own)
      throw Error(sqlstate::kWrongObjectType, "table " + *own + " belongs to pg_incview and cannot be a stage's source",
                  "capture triggers on pg_incview's own catalog or dirty queue would fire on pg_incview's own writes",
                  "read incview.stages or incview.refresh_log instead of building a stage on them");
  }
}

void register_sources(const StageRecord& stage, const std::vector<Oid>& relations,
                      const std::vector<Oid>& read_before) {
  std::vector<std::string> scope_names;
  for (const auto& c : stage.shape.scope) scope_names.push_back(c.name);
  const std::string scope_json = json_string_array(scope_names);
  for (Oid rel : relations) {
    // Which scope columns the source lacks (by exact name).
    spi_exec(
        "SELECT $1::regclass::text, coalesce(string_agg(quote_ident(w), ', '), '') "
        "FROM jsonb_array_elements_text($2::jsonb) AS w "
        "WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a WHERE a.attrelid = $1 AND a.attname = w "
        "                  AND a.attnum > 0 AND NOT a.attisdropped)",
        {oid_arg(rel), text_arg(scope_json)}, true);
    const std::string source_name = spi_text_or(0, 1, "?");
    const std::string missing = spi_text_or(0, 2, "");
    const std::string kind = missing.empty() ? "same" : "all";
    uint64 added = 0;
    as_extension_owner([&] {
      added = spi_exec(
          "INSERT INTO incview.stage_source (stage_id, source, mapping_kind) VALUES ($1, $2, $3) "
          "ON CONFLICT (stage_id, source) DO NOTHING",
          {int4_arg(stage.id), oid_arg(rel), text_arg(kind)});
    });
    lock_new_source(rel, read_before);
    install_capture(rel);
    // (Not for a stage declared engine delta: it captures each source's change itself, as
    // per-group partials through the join or UNION ALL, and never through this mapping.)
    if (added > 0 && !missing.empty() && stage.engine != Engine::Delta)
      notice("source " + source_name + " of stage \"" + stage.name + "\" has no column " + missing +
                 ": any change to it dirties every scope",
             "map it with incview.map_source('" + stage.name + "', '" + source_name +
                 "', 'SELECT ... FROM changed ...') to dirty only the scopes it affects");
  }
}

void refuse_uncapturable(const StageInputs& inputs) {
  if (inputs.uncapturable.empty()) return;
  throw Error(sqlstate::kFeatureNotSupported,
              "the stage query reads " + join(inputs.uncapturable, ", ") + ", which pg_incview cannot capture",
              "the query's plan does not list the table(s) (a distributed table, for one): no change to them would "
              "ever reach the stage",
              "build the stage on tables the plan reads directly, or use REFRESH MATERIALIZED VIEW");
}

void register_inputs(const StageRecord& stage, StageInputs inputs, const std::vector<Oid>& read_before) {
  auto warn = [](const std::string& message, const std::string& hint) {
    const char* m = message.c_str();
    const char* h = hint.c_str();
    pg_call([&] { ereport(WARNING, (errmsg("%s", m), errhint("%s", h))); });
  };
  // Tables read inside SQL functions: captured, every change dirties every scope. A table
  // the owner may not put triggers on stays uncaptured: reported like an opaque function.
  for (Oid rel : inputs.function_tables) {
    bool ok = true;
    try {
      refuse_own_tables({rel});
      check_source_privileges(stage.owner, {rel});
    } catch (const Error&) {
      ok = false;
    }
    const std::string name = *spi_scalar("SELECT $1::regclass::text", {oid_arg(rel)});
    if (!ok) {
      inputs.opaque_functions.push_back("(a function reading " + name +
                                        ", on which the owner may not create triggers)");
      continue;
    }
    uint64 added = 0;
    as_extension_owner([&] {
      added = spi_exec(
          "INSERT INTO incview.stage_source (stage_id, source, mapping_kind) VALUES ($1, $2, 'all') "
          "ON CONFLICT (stage_id, source) DO NOTHING",
          {int4_arg(stage.id), oid_arg(rel)});
    });
    lock_new_source(rel, read_before);
    install_capture(rel);
    if (added > 0)
      notice("table " + name + " is read inside a function of stage \"" + stage.name +
                 "\": captured, any change to it dirties every scope",
             "map it with incview.add_source('" + stage.name + "', '" + name +
                 "', 'SELECT ... FROM changed ...') to dirty only the scopes it affects");
  }
  // Foreign tables and materialized views: no trigger sees their changes.
  for (Oid rel : inputs.polled) {
    const std::string name = *spi_scalar("SELECT $1::regclass::text", {oid_arg(rel)});
    as_extension_owner([&] {
      spi_exec(
          "INSERT INTO incview.stage_source (stage_id, source, mapping_kind) VALUES ($1, $2, 'all') "
          "ON CONFLICT (stage_id, source) DO NOTHING",
          {int4_arg(stage.id), oid_arg(rel)});
    });
    warn("stage \"" + stage.name + "\" reads " + name +
             ", whose changes no trigger can see (a foreign table or materialized view): the stage is polled",
         "with policy interval or daily it is rebuilt at every period (incview.set_policy('" + stage.name +
             "', 'interval', every => '5 minutes')); otherwise only incview.rebuild brings it up to date");
  }
  for (const auto& f : inputs.opaque_functions)
    warn("stage \"" + stage.name + "\" calls " + f +
             ", which is not IMMUTABLE and whose body pg_incview cannot read: tables it reads are not captured",
         "declare them with incview.add_source('" + stage.name +
             "', 'the_table'), or mark the function IMMUTABLE if it reads no table; incview.check lists this");
  for (const auto& f : inputs.time_functions)
    warn("stage \"" + stage.name + "\" uses " + f + ": its rows depend on when their scope was last refreshed",
         "scopes nobody changes keep the values of their last refresh; incview.rebuild re-derives them all");
}

void save_redefinition(int32 stage_id, const std::string& still_read, const std::string& query,
                       const std::string& columns_json, Oid target, const std::string& search_path) {
  as_extension_owner([&] {
    spi_exec("DELETE FROM incview.stage_source WHERE stage_id = $1 AND (NOT declared OR NOT source = ANY($2::oid[]))",
             {int4_arg(stage_id), text_arg(still_read)});
    spi_exec(
        "UPDATE incview.stage SET query = $2, columns = ARRAY(SELECT jsonb_array_elements_text($3::jsonb)), "
        "target = $4::oid::regclass, search_path = $5 WHERE id = $1",
        {int4_arg(stage_id), text_arg(query), text_arg(columns_json), oid_arg(target), text_arg(search_path)});
  });
}

}  // namespace incview::pg
