#include "pg/storage/stage_table.hpp"

#include "core/sql_text.hpp"
#include "pg/support/spi.hpp"

namespace incview::pg {

namespace {

Oid table_oid(const std::string& qualified) {
  return static_cast<Oid>(std::stoul(*spi_scalar("SELECT $1::regclass::oid::text", {text_arg(qualified)})));
}

std::string create_as(const std::string& table, const std::string& query) {
  return "CREATE TABLE " + table + " AS SELECT * FROM (\n" + query + "\n) AS s WITH NO DATA";
}

}  // namespace

Oid create_stage_table(const std::string& schema, const std::string& target, const std::string& query,
                       const StagePartitioning& partition, const std::function<void(Oid shape)>& check_shape) {
  if (!partition.partitioned()) {
    spi_exec(create_as(target, query));
    return table_oid(target);
  }
  // (Not a temp table: none may be created in a security-restricted operation.)
  const std::string shape = quote_qualified(schema, "incview_shape_" + std::to_string(MyProcPid));
  spi_exec(create_as(shape, query));
  if (check_shape) check_shape(table_oid(shape));
  spi_exec("CREATE TABLE " + target + " (LIKE " + shape + " INCLUDING ALL)" + partition_clause(partition));
  spi_exec("DROP TABLE " + shape);
  return table_oid(target);
}

void create_key_indexes(const StageSql& sql, bool has_unique_key) {
  // A unique index leading with the scope columns finds a scope's rows as well as an index
  // on the scope alone: that one is not built (every build and every rebuild would sort the
  // table once more for it, and every write would maintain it).
  if (!(has_unique_key && sql.unique_index_leads_with_scope())) spi_exec(sql.create_scope_index());
  if (has_unique_key) spi_exec(sql.create_unique_index());
}

}  // namespace incview::pg
