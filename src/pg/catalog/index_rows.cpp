#include "pg/catalog/index_rows.hpp"

#include "pg/support/role.hpp"
#include "pg/support/spi.hpp"

namespace incview::pg {

bool declared_index_exists(int32 stage_id, const std::string& index_name) {
  bool exists = false;
  as_extension_owner([&] {
    exists = spi_scalar("SELECT 1 FROM incview.stage_index WHERE stage_id = $1 AND index_name = $2",
                        {int4_arg(stage_id), text_arg(index_name)})
                 .has_value();
  });
  return exists;
}

void save_declared_index(int32 stage_id, const std::string& index_name, const std::string& definition) {
  as_extension_owner([&] {
    spi_exec("INSERT INTO incview.stage_index (stage_id, index_name, definition) VALUES ($1, $2, $3)",
             {int4_arg(stage_id), text_arg(index_name), text_arg(definition)});
  });
}

std::optional<std::string> find_declared_index(int32 stage_id, const std::string& name_or_definition) {
  std::optional<std::string> name;
  as_extension_owner([&] {
    name = spi_scalar(
        "SELECT index_name FROM incview.stage_index WHERE stage_id = $1 "
        "AND (index_name = $2 OR definition = $2)",
        {int4_arg(stage_id), text_arg(name_or_definition)});
  });
  return name;
}

void forget_declared_index(int32 stage_id, const std::string& index_name) {
  as_extension_owner([&] {
    spi_exec("DELETE FROM incview.stage_index WHERE stage_id = $1 AND index_name = $2",
             {int4_arg(stage_id), text_arg(index_name)});
  });
}

std::vector<std::array<std::string, 3>> stage_table_indexes(const StageRecord& stage) {
  const uint64 n = spi_exec(
      "SELECT x.indexrelid::regclass::text, "
      "       coalesce(d.definition, CASE WHEN x.indisunique THEN 'unique key' ELSE 'scope' END), "
      "       (SELECT string_agg(c.relname, ' ') FROM pg_catalog.pg_partition_tree(x.indexrelid) t "
      "        JOIN pg_catalog.pg_class c ON c.oid = t.relid) "
      "FROM pg_catalog.pg_index x JOIN pg_catalog.pg_class ic ON ic.oid = x.indexrelid "
      "LEFT JOIN incview.stage_index d ON d.stage_id = $2 AND d.index_name = ic.relname "
      "WHERE x.indrelid = $1 ORDER BY 1",
      {oid_arg(stage.target), int4_arg(stage.id)});
  std::vector<std::array<std::string, 3>> indexes;
  for (uint64 i = 0; i < n; ++i)
    indexes.push_back({spi_text_or(i, 1, ""), spi_text_or(i, 2, ""), spi_text_or(i, 3, "")});
  return indexes;
}

void rename_declared_index(int32 stage_id, const std::string& index_name, const std::string& renamed) {
  as_extension_owner([&] {
    spi_exec("UPDATE incview.stage_index SET index_name = $3 WHERE stage_id = $1 AND index_name = $2",
             {int4_arg(stage_id), text_arg(index_name), text_arg(renamed)});
  });
}

std::vector<std::string> take_declared_index_definitions(int32 stage_id) {
  std::vector<std::string> defs;
  as_extension_owner([&] {
    spi_exec("SELECT definition FROM incview.stage_index WHERE stage_id = $1 ORDER BY index_name",
             {int4_arg(stage_id)});
    for (uint64 i = 0; i < SPI_processed; ++i) defs.push_back(spi_text_or(i, 1, ""));
    spi_exec("DELETE FROM incview.stage_index WHERE stage_id = $1", {int4_arg(stage_id)});
  });
  return defs;
}

}  // namespace incview::pg
