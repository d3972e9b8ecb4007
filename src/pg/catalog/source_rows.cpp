#include "pg/catalog/source_rows.hpp"

#include "pg/support/role.hpp"
#include "pg/support/spi.hpp"

namespace incview::pg {

namespace {
Oid oid_at(uint64 row, int col) { return static_cast<Oid>(std::stoul(spi_text_or(row, col, "0"))); }
}  // namespace

bool any_source() {
  bool any = false;
  as_extension_owner([&] { any = spi_scalar("SELECT 1 FROM incview.stage_source LIMIT 1").has_value(); });
  return any;
}

std::vector<Oid> sources_of(int32 stage_id) {
  std::vector<Oid> out;
  as_extension_owner([&] {
    const uint64 n =
        spi_exec("SELECT source::oid::text FROM incview.stage_source WHERE stage_id = $1", {int4_arg(stage_id)}, true);
    for (uint64 i = 0; i < n; ++i) out.push_back(oid_at(i, 1));
  });
  return out;
}

void save_declared_source(int32 stage_id, Oid source, const std::string& kind,
                          const std::optional<std::string>& mapping) {
  as_extension_owner([&] {
    spi_exec(
        "INSERT INTO incview.stage_source AS ss (stage_id, source, mapping_kind, mapping, declared) "
        "VALUES ($1, $2, $3, $4, true) ON CONFLICT (stage_id, source) DO UPDATE "
        "SET mapping_kind = EXCLUDED.mapping_kind, mapping = EXCLUDED.mapping, declared = true",
        {int4_arg(stage_id), oid_arg(source), text_arg(kind), mapping ? text_arg(*mapping) : null_arg(TEXTOID)});
  });
}

std::vector<NewPartitionSource> new_partition_sources() {
  std::vector<NewPartitionSource> found;
  as_extension_owner([&] {
    const uint64 n = spi_exec(
        "SELECT DISTINCT ON (ss.stage_id, t.relid) ss.stage_id, t.relid::oid::text, ss.mapping_kind, ss.mapping "
        "FROM pg_catalog.pg_event_trigger_ddl_commands() AS c "
        "CROSS JOIN LATERAL pg_catalog.pg_partition_tree(c.objid) AS t "
        "CROSS JOIN LATERAL pg_catalog.pg_partition_ancestors(t.relid) WITH ORDINALITY AS a(anc, lvl) "
        "JOIN incview.stage_source ss ON ss.source = a.anc "
        "WHERE c.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND c.objsubid = 0 "
        "  AND NOT EXISTS (SELECT 1 FROM incview.stage_source x WHERE x.stage_id = ss.stage_id AND x.source = "
        "t.relid) "
        "ORDER BY ss.stage_id, t.relid, a.lvl",
        {}, true);
    for (uint64 i = 0; i < n; ++i)
      found.push_back({static_cast<int32>(spi_int8(i, 1)), oid_at(i, 2), spi_text_or(i, 3, "all"), spi_text(i, 4)});
  });
  return found;
}

void save_partition_source(const NewPartitionSource& s) {
  as_extension_owner([&] {
    spi_exec(
        "INSERT INTO incview.stage_source (stage_id, source, mapping_kind, mapping) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (stage_id, source) DO NOTHING",
        {int4_arg(s.stage_id), oid_arg(s.rel), text_arg(s.kind), s.mapping ? text_arg(*s.mapping) : null_arg(TEXTOID)});
  });
}

void forget_dropped_sources() {
  as_extension_owner([&] {
    spi_exec(
        "DELETE FROM incview.stage_source ss USING pg_catalog.pg_event_trigger_dropped_objects() AS d "
        "WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objsubid = 0 "
        "  AND ss.source = d.objid");
  });
}

std::vector<SameSource> same_sources_with_scope_column(Oid rel, const std::string& column) {
  std::vector<SameSource> found;
  as_extension_owner([&] {
    const uint64 n = spi_exec(
        "SELECT ss.stage_id, u.col FROM incview.stage_source ss JOIN incview.stage s ON s.id = ss.stage_id "
        "CROSS JOIN LATERAL unnest(s.scope) WITH ORDINALITY AS u(col, ord) "
        "WHERE ss.source = $1 AND ss.mapping_kind = 'same' AND $2 = ANY (s.scope) ORDER BY ss.stage_id, u.ord",
        {oid_arg(rel), text_arg(column)}, true);
    for (uint64 i = 0; i < n; ++i) {
      const int32 id = static_cast<int32>(spi_int8(i, 1));
      if (found.empty() || found.back().stage_id != id) found.push_back({id, {}});
      found.back().scope.push_back(spi_text_or(i, 2, ""));
    }
  });
  return found;
}

void save_lookup_mapping(int32 stage_id, Oid source, const std::string& mapping) {
  as_extension_owner([&] {
    spi_exec(
        "UPDATE incview.stage_source SET mapping_kind = 'lookup', mapping = $3 WHERE stage_id = $1 AND source = $2",
        {int4_arg(stage_id), oid_arg(source), text_arg(mapping)});
  });
}

void save_every_scope_mapping(int32 stage_id, Oid source) {
  as_extension_owner([&] {
    spi_exec("UPDATE incview.stage_source SET mapping_kind = 'all', mapping = NULL WHERE stage_id = $1 AND source = $2",
             {int4_arg(stage_id), oid_arg(source)});
  });
}

std::vector<MappedCapture> mapped_captures() {
  std::vector<MappedCapture> captures;
  as_extension_owner([&] {
    const uint64 n = spi_exec(
        "SELECT ss.stage_id, s.name, s.owner::oid::text, s.search_path, ss.source::oid::text, ss.source::text, "
        "       ss.mapping_kind, coalesce(ss.mapping, ''), pg_catalog.array_to_json(s.scope)::text, "
        "       (SELECT pg_catalog.string_agg(w, ', ') FROM unnest(s.scope) AS w "
        "        WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a WHERE a.attrelid = ss.source "
        "                          AND a.attname = w AND a.attnum > 0 AND NOT a.attisdropped)) "
        "FROM incview.stage_source ss JOIN incview.stage s ON s.id = ss.stage_id "
        "JOIN pg_catalog.pg_class c ON c.oid = ss.source AND c.relkind IN ('r', 'p') "
        "WHERE ss.mapping_kind IN ('same', 'lookup') ORDER BY ss.stage_id, ss.source",
        {}, true);
    for (uint64 i = 0; i < n; ++i) {
      MappedCapture c;
      c.stage_id = static_cast<int32>(spi_int8(i, 1));
      c.stage = spi_text_or(i, 2, "");
      c.owner = oid_at(i, 3);
      c.search_path = spi_text_or(i, 4, "");
      c.source = oid_at(i, 5);
      c.source_name = spi_text_or(i, 6, "");
      c.kind = spi_text_or(i, 7, "");
      c.mapping = spi_text_or(i, 8, "");
      c.missing = spi_text_or(i, 10, "");
      captures.push_back(std::move(c));
    }
  });
  return captures;
}

namespace {

// The stages a statement returns as (stage_id, name, mapping_kind, mapping, scope_count).
std::vector<PartitionReader> readers_from(const char* sql, Oid rel) {
  std::vector<PartitionReader> readers;
  as_extension_owner([&] {
    const uint64 n = spi_exec(sql, {oid_arg(rel)}, true);
    for (uint64 i = 0; i < n; ++i)
      readers.push_back({static_cast<int32>(spi_int8(i, 1)), spi_text_or(i, 2, ""), spi_text_or(i, 3, "all"),
                         spi_text_or(i, 4, ""), spi_int8(i, 5)});
  });
  return readers;
}

}  // namespace

std::vector<PartitionReader> partition_readers(Oid anchor) {
  return readers_from(
      "SELECT DISTINCT ON (ss.stage_id) ss.stage_id, s.name, ss.mapping_kind, coalesce(ss.mapping, ''), "
      "       coalesce(st.scope_count, 0) "
      "FROM pg_catalog.pg_partition_ancestors($1) WITH ORDINALITY AS a(anc, lvl) "
      "JOIN incview.stage_source ss ON ss.source = a.anc JOIN incview.stage s ON s.id = ss.stage_id "
      "LEFT JOIN incview.stage_state st ON st.stage_id = s.id "
      "ORDER BY ss.stage_id, a.lvl",
      anchor);
}

std::vector<PartitionReader> readers_of(Oid table) {
  return readers_from(
      "SELECT ss.stage_id, s.name, ss.mapping_kind, coalesce(ss.mapping, ''), coalesce(st.scope_count, 0) "
      "FROM incview.stage_source ss JOIN incview.stage s ON s.id = ss.stage_id "
      "LEFT JOIN incview.stage_state st ON st.stage_id = s.id "
      "WHERE ss.source = $1 ORDER BY ss.stage_id",
      table);
}

std::vector<Oid> sources_without_replica_trigger() {
  std::vector<Oid> sources;
  as_extension_owner([&] {
    const uint64 n = spi_exec(
        "SELECT DISTINCT ss.source::oid::text FROM incview.stage_source ss "
        "JOIN pg_catalog.pg_class c ON c.oid = ss.source AND c.relkind = 'r' "
        "WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t WHERE t.tgrelid = ss.source "
        "                  AND t.tgname = 'incview_capture_row')",
        {}, true);
    for (uint64 i = 0; i < n; ++i) sources.push_back(oid_at(i, 1));
  });
  return sources;
}

// Our name AND our function: a user's trigger that merely borrows the name is not ours.
constexpr const char* kIdleTables =
    "SELECT DISTINCT t.tgrelid::oid::text FROM pg_catalog.pg_trigger t "
    "WHERE t.tgfoid IN (SELECT p.oid FROM pg_catalog.pg_proc p WHERE p.pronamespace = "
    "'incview'::pg_catalog.regnamespace "
    "                   AND p.proname OPERATOR(pg_catalog.=) ANY ('{capture,capture_citus}'::pg_catalog.name[])) "
    "  AND t.tgname OPERATOR(pg_catalog.=) ANY ('{incview_capture_ins,incview_capture_upd,incview_capture_del,"
    "                                             incview_capture_trunc,incview_capture_row}'::pg_catalog.name[]) "
    "  AND NOT EXISTS (SELECT 1 FROM incview.stage_source ss WHERE ss.source = t.tgrelid) "
    "  AND ($1::pg_catalog.oid IS NULL OR t.tgrelid = $1::pg_catalog.oid)";

std::vector<Oid> tables_with_idle_capture(std::optional<Oid> table) {
  std::vector<Oid> out;
  as_extension_owner([&] {
    const uint64 n = spi_exec(kIdleTables, {table ? oid_arg(*table) : null_arg(OIDOID)}, true);
    for (uint64 i = 0; i < n; ++i) out.push_back(oid_at(i, 1));
  });
  return out;
}

std::vector<SourceRow> source_rows_as_printed(const StageRecord& stage) {
  std::vector<SourceRow> sources;
  const std::string path = stage_search_path(stage.search_path);
  AsRole role(extension_owner());
  with_session_settings(path, [&] {
    const uint64 n = spi_exec(
        "SELECT ss.source::pg_catalog.text, c.relname, ss.mapping_kind, coalesce(ss.mapping, '') "
        "FROM incview.stage_source ss JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) ss.source "
        "WHERE ss.stage_id OPERATOR(pg_catalog.=) $1 ORDER BY 1",
        {int4_arg(stage.id)});
    for (uint64 i = 0; i < n; ++i)
      sources.push_back({spi_text_or(i, 1, ""), spi_text_or(i, 2, ""), spi_text_or(i, 3, ""), spi_text_or(i, 4, "")});
  });
  return sources;
}

std::vector<std::string> declared_sources(int32 stage_id) {
  std::vector<std::string> declared;
  as_extension_owner([&] {
    const uint64 n = spi_exec(
        "SELECT source::text FROM incview.stage_source WHERE stage_id = $1 AND declared "
        "ORDER BY 1",
        {int4_arg(stage_id)});
    for (uint64 i = 0; i < n; ++i) declared.push_back(spi_text_or(i, 1, ""));
  });
  return declared;
}

std::vector<Oid> declared_source_oids(int32 stage_id) {
  std::vector<Oid> declared;
  as_extension_owner([&] {
    spi_exec("SELECT source::oid::text FROM incview.stage_source WHERE stage_id = $1 AND declared",
             {int4_arg(stage_id)});
    for (uint64 i = 0; i < SPI_processed; ++i) declared.push_back(static_cast<Oid>(std::stoul(spi_text_or(i, 1, "0"))));
  });
  return declared;
}

std::optional<std::string> source_with_capture_off(int32 stage_id) {
  std::optional<std::string> off;
  as_extension_owner([&] {
    if (!catalog_is_0_2()) return;
    off = spi_scalar("SELECT incview.capture_off($1)", {int4_arg(stage_id)});
  });
  return off;
}

std::vector<Oid> table_sources_of(int32 stage_id) {
  std::vector<Oid> sources;
  as_extension_owner([&] {
    const uint64 n = spi_exec(
        "SELECT ss.source::oid::text FROM incview.stage_source ss "
        "JOIN pg_catalog.pg_class c ON c.oid = ss.source "
        "WHERE ss.stage_id = $1 AND c.relkind IN ('r', 'p')",
        {int4_arg(stage_id)}, true);
    for (uint64 i = 0; i < n; ++i) sources.push_back(static_cast<Oid>(std::stoul(spi_text_or(i, 1, "0"))));
  });
  return sources;
}

}  // namespace incview::pg
