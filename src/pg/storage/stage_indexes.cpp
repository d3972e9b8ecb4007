#include "pg/storage/stage_indexes.hpp"

#include "core/sql_text.hpp"
#include "pg/catalog/index_rows.hpp"
#include "pg/support/guard.hpp"
#include "pg/support/role.hpp"
#include "pg/support/spi.hpp"

namespace incview::pg {

namespace {

// The definition is embedded in our CREATE INDEX: it must parse as exactly one index
// statement's column list, nothing more.
void check_definition(const std::string& definition) {
  const bool wrapped = !definition.empty() && definition.front() == '(';
  const std::string probe = "CREATE INDEX ON incview_probe " + (wrapped ? definition : "(" + definition + ")");
  const char* text = probe.c_str();
  List* raw = nullptr;
  bool ok = false;
  pg_call([&] {
    raw = pg_parse_query(text);
    if (list_length(raw) == 1) {
      RawStmt* rs = linitial_node(RawStmt, raw);
      if (IsA(rs->stmt, IndexStmt)) {
        auto* ix = reinterpret_cast<IndexStmt*>(rs->stmt);
        ok = ix->whereClause == nullptr && ix->indexIncludingParams == NIL && ix->options == NIL;
      }
    }
  });
  if (!ok)
    throw Error(
        sqlstate::kInvalidParameterValue, "invalid index definition: " + definition, "",
        "give the indexed columns or expressions, e.g. 'updated_at DESC' or '(org_id, cluster, notified_at DESC)'");
}

}  // namespace

std::string add_declared_index(const StageRecord& stage, const std::string& definition) {
  check_definition(definition);
  const std::string hash = *spi_scalar("SELECT substr(md5($1), 1, 8)", {text_arg(definition)});
  const std::string name = stage.target_table.substr(0, 50) + "_" + hash + "_idx";
  if (declared_index_exists(stage.id, name))
    throw Error(sqlstate::kDuplicateObject, "stage \"" + stage.name + "\" already has the index " + definition);
  spi_exec(StageSql(stage.shape).create_declared_index(name, definition));
  save_declared_index(stage.id, name, definition);
  return name;
}

void drop_declared_index(const StageRecord& stage, const std::string& index_name) {
  // Accept the name or the definition it was declared with.
  const std::optional<std::string> name = find_declared_index(stage.id, index_name);
  if (!name)
    throw Error(sqlstate::kUndefinedObject, "stage \"" + stage.name + "\" has no declared index \"" + index_name + "\"",
                "", "see SELECT * FROM incview.stage_index");  // not SQL: a hint to the user
  spi_exec("DROP INDEX IF EXISTS " + quote_qualified(stage.target_schema, *name));
  forget_declared_index(stage.id, *name);
}

}  // namespace incview::pg
