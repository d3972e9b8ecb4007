#include "pg/catalog/stage_rows.hpp"

#include "pg/catalog/captured_changes.hpp"

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

void save_retention(int32 stage_id, const SpiArg& column, const SpiArg& keep) {
  as_extension_owner([&] {
    spi_exec(
        "INSERT INTO incview.dirty_scope (stage_id, key) "
        "SELECT s.id, NULL FROM incview.stage s WHERE s.id = $1 AND s.retention_column IS NOT NULL "
        "AND ($3::interval IS NULL OR s.retention_column <> $2 OR $3::interval > s.retention_keep)",
        {int4_arg(stage_id), column, keep});
    spi_exec("UPDATE incview.stage SET retention_column = $2, retention_keep = $3 WHERE id = $1",
             {int4_arg(stage_id), column, keep});
  });
}

SingleScopeStage single_scope_stage(const std::string& name) {
  SingleScopeStage glance;
  as_extension_owner([&] {
    spi_exec(
        "SELECT s.id::pg_catalog.text, s.owner::pg_catalog.oid::pg_catalog.text, "
        "       CASE a.atttypid WHEN 'pg_catalog.int2'::pg_catalog.regtype THEN '32767' "
        "                       WHEN 'pg_catalog.int4'::pg_catalog.regtype THEN '2147483647' "
        "                       WHEN 'pg_catalog.int8'::pg_catalog.regtype THEN '9223372036854775807' "
        "                       WHEN 'pg_catalog.text'::pg_catalog.regtype THEN 'text' END "
        "FROM incview.stage s JOIN pg_catalog.pg_attribute a "
        "  ON a.attrelid = s.target AND a.attname OPERATOR(pg_catalog.=) s.scope[1] AND NOT a.attisdropped "
        "WHERE s.name OPERATOR(pg_catalog.=) $1 AND pg_catalog.cardinality(s.scope) OPERATOR(pg_catalog.=) 1 ",
        {text_arg(name)}, true);
    if (SPI_processed == 1) {
      glance.id = spi_text(0, 1);
      glance.owner = spi_text(0, 2);
      glance.kind = spi_text(0, 3);
    }
  });
  return glance;
}

bool no_key_queued_at_a_glance(int32 stage_id, Datum keys, const std::string& kind) {
  std::optional<std::string> clean;
  as_extension_owner([&] {
    clean = spi_scalar(
        "SELECT CASE WHEN pg_catalog.jsonb_typeof($2) OPERATOR(pg_catalog.<>) 'array' THEN NULL "
        // text: strings; integers: numbers spelled as integers within the type's range (the
        // full path casts the text of the number: 11.0 and 1e3 are errors there)
        "  WHEN (SELECT pg_catalog.bool_and(CASE WHEN $3 OPERATOR(pg_catalog.=) 'text' "
        "          THEN pg_catalog.jsonb_typeof(e) OPERATOR(pg_catalog.=) 'string' "
        "          ELSE pg_catalog.jsonb_typeof(e) OPERATOR(pg_catalog.=) 'number' "
        "               AND (e OPERATOR(pg_catalog.#>>) '{}') OPERATOR(pg_catalog.~) '^-?[0-9]+$' "
        "               AND pg_catalog.abs(e::pg_catalog.numeric) OPERATOR(pg_catalog.<=) $3::pg_catalog.numeric END) "
        "        FROM pg_catalog.jsonb_array_elements($2) AS e) IS NOT TRUE THEN NULL "
        "  ELSE NOT EXISTS (SELECT 1 FROM incview.queued_keys q WHERE q.stage_id OPERATOR(pg_catalog.=) $1 "
        "    AND (q.key IS NULL OR q.key OPERATOR(pg_catalog.=) ANY (SELECT pg_catalog.jsonb_build_array(x) "
        "                                                         FROM pg_catalog.jsonb_array_elements($2) AS x))) "
        "END",
        {int4_arg(stage_id), SpiArg{JSONBOID, keys, false}, text_arg(kind)});
  });
  return clean && *clean == "t";
}

std::vector<std::string> stages_reading_table_of(const StageRecord& stage) {
  std::vector<std::string> dependents;
  as_extension_owner([&] {
    const uint64 n = spi_exec(
        "SELECT s.name FROM incview.stage_source ss JOIN incview.stage s ON s.id = ss.stage_id "
        "WHERE ss.source = $1 AND ss.stage_id <> $2 ORDER BY s.name",
        {oid_arg(stage.target), int4_arg(stage.id)}, true);
    for (uint64 i = 0; i < n; ++i) dependents.push_back(spi_text_or(i, 1, ""));
  });
  return dependents;
}

void delete_queued_keys(int32 stage_id) {
  as_extension_owner([&] { spi_exec("DELETE FROM incview.dirty_scope WHERE stage_id = $1", {int4_arg(stage_id)}); });
}

void delete_stage_rows(int32 stage_id) {
  as_extension_owner([&] {
    spi_exec("DELETE FROM incview.stage_source WHERE stage_id = $1", {int4_arg(stage_id)});
    spi_exec("DELETE FROM incview.stage WHERE id = $1", {int4_arg(stage_id)});
    if (catalog_is_0_2()) forget_collected_records();
  });
}

int32 insert_stage(const std::vector<SpiArg>& row) {
  int32 stage_id = 0;
  as_extension_owner([&] {
    spi_exec(
        "INSERT INTO incview.stage (name, query, scope, unique_key, columns, target, engine, owner, search_path, "
        "                           policy, partition_by) "
        "VALUES ($1, $2, ARRAY(SELECT jsonb_array_elements_text($3::jsonb)), "
        "        CASE WHEN $4::jsonb = '[]' THEN NULL ELSE ARRAY(SELECT jsonb_array_elements_text($4::jsonb)) END, "
        "        ARRAY(SELECT jsonb_array_elements_text($5::jsonb)), $6::oid::regclass, $7, $8::oid::regrole, $9, "
        "$10, $11) "
        "RETURNING id",
        row);
    stage_id = static_cast<int32>(spi_int8(0, 1));
    spi_exec("INSERT INTO incview.stage_state (stage_id) VALUES ($1)", {int4_arg(stage_id)});
    // Its change-record mark (captured_changes.hpp), so that two first collections take turns.
    if (catalog_is_0_2()) spi_exec("INSERT INTO incview.capture_mark (stage_id) VALUES ($1)", {int4_arg(stage_id)});
  });
  return stage_id;
}

void save_engine(int32 stage_id, const std::string& engine) {
  as_extension_owner([&] {
    spi_exec("UPDATE incview.stage SET engine = $2 WHERE id = $1", {int4_arg(stage_id), text_arg(engine)});
  });
}

void save_declared_independent(int32 stage_id, bool independent) {
  as_extension_owner([&] {
    spi_exec("UPDATE incview.stage SET declared_independent = $2 WHERE id = $1",
             {int4_arg(stage_id), {BOOLOID, BoolGetDatum(independent), false}});
  });
}

}  // namespace incview::pg
