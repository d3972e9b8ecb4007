#include "pg/catalog/stage_rows.hpp"

#include "pg/support/role.hpp"

namespace incview::pg {

bool any_stage() {
  bool any = false;
  as_extension_owner([&] { any = spi_scalar("SELECT 1 FROM incview.stage LIMIT 1").has_value(); });
  return any;
}

std::vector<RenamedDefinition> stages_with_renamed_inputs() {
  std::vector<RenamedDefinition> affected;
  as_extension_owner([&] {
    const uint64 n = spi_exec(
        "SELECT DISTINCT s.id, s.definition::oid::text, s.search_path FROM incview.stage s "
        "CROSS JOIN pg_catalog.pg_event_trigger_ddl_commands() AS c "
        "WHERE s.definition IS NOT NULL "
        "  AND (c.classid = 'pg_catalog.pg_namespace'::pg_catalog.regclass "
        "       OR EXISTS (SELECT 1 FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid "
        "                  WHERE d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass "
        "                    AND r.ev_class = s.definition AND d.refclassid = c.classid AND d.refobjid = c.objid))",
        {}, true);
    for (uint64 i = 0; i < n; ++i)
      affected.push_back({static_cast<int32>(spi_int8(i, 1)), static_cast<Oid>(std::stoul(spi_text_or(i, 2, "0"))),
                          spi_text_or(i, 3, "")});
  });
  return affected;
}

void save_stage_query(int32 stage_id, const std::string& query) {
  as_extension_owner([&] {
    spi_exec("UPDATE incview.stage SET query = $2 WHERE id = $1 AND query IS DISTINCT FROM $2",
             {int4_arg(stage_id), text_arg(query)});
  });
}

std::optional<StageColumn> stage_with_column(Oid target, const std::string& column) {
  std::optional<StageColumn> out;
  as_extension_owner([&] {
    spi_exec("SELECT s.name, s.target::text FROM incview.stage s WHERE s.target = $1 AND $2 = ANY (s.columns)",
             {oid_arg(target), text_arg(column)}, true);
    if (SPI_processed > 0) out = StageColumn{spi_text(0, 1), spi_text(0, 2)};
  });
  return out;
}

std::vector<std::string> stages_with_dropped_relations() {
  std::vector<std::string> names;
  as_extension_owner([&] {
    const uint64 n = spi_exec(
        "SELECT DISTINCT s.id, s.name FROM incview.stage s "
        "JOIN pg_catalog.pg_event_trigger_dropped_objects() AS d "
        "  ON d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objsubid = 0 "
        " AND (d.objid = s.definition::oid OR d.objid = s.target::oid) ORDER BY s.id",
        {}, true);
    for (uint64 i = 0; i < n; ++i) names.push_back(spi_text_or(i, 2, ""));
  });
  return names;
}

std::vector<std::string> stage_scope_columns(int32 stage_id) {
  std::vector<std::string> scope;
  as_extension_owner([&] {
    const uint64 n = spi_exec(
        "SELECT u FROM incview.stage s, unnest(s.scope) WITH ORDINALITY AS x(u, o) "
        "WHERE s.id = $1 ORDER BY o",
        {int4_arg(stage_id)}, true);
    for (uint64 i = 0; i < n; ++i) scope.push_back(spi_text_or(i, 1, ""));
  });
  return scope;
}

void save_policy(int32 stage_id, const std::string& mode, const SpiArg& every, const SpiArg& at,
                 const SpiArg& max_lag) {
  as_extension_owner([&] {
    spi_exec("UPDATE incview.stage SET policy = $2, policy_every = $3, policy_at = $4, max_lag = $5 WHERE id = $1",
             {int4_arg(stage_id), text_arg(mode), every, at, max_lag});
    spi_exec("UPDATE incview.stage_state SET next_attempt = NULL WHERE stage_id = $1", {int4_arg(stage_id)});
  });
}

}  // namespace incview::pg
