// SQL entry points about the stage graph: alter_stage (redefine, cycle-checked) and
// graph_dot.
#include <algorithm>

#include "core/graph_dot.hpp"
#include "core/sql_text.hpp"
#include "core/stage_sql.hpp"
#include "pg/api/args.hpp"
#include "pg/capture/capture.hpp"
#include "pg/capture/idle_capture.hpp"
#include "pg/citus/citus.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/catalog/dirty_queue.hpp"
#include "pg/catalog/index_rows.hpp"
#include "pg/catalog/source_rows.hpp"
#include "pg/support/guard.hpp"
#include "pg/refresh/delta_engine.hpp"
#include "pg/capture/new_source_lock.hpp"
#include "pg/query/query_check.hpp"
#include "pg/refresh/refresher.hpp"
#include "pg/support/role.hpp"
#include "pg/support/spi.hpp"
#include "pg/catalog/stage_graph_catalog.hpp"
#include "pg/storage/stage_indexes.hpp"
#include "pg/storage/stage_table.hpp"
#include "pg/catalog/stage_definition.hpp"
#include "pg/refresh/stage_refresh.hpp"
#include "pg/catalog/stage_sources.hpp"

extern "C" {
PG_FUNCTION_INFO_V1(incview_alter_stage);
PG_FUNCTION_INFO_V1(incview_graph_dot);
}

using namespace incview;
using namespace incview::pg;

namespace {

struct Column {
  std::string name;
  std::string type;
  bool operator==(const Column& o) const { return name == o.name && type == o.type; }
};

// Output columns of a query, from a zero-row run.
std::vector<Column> query_columns(const std::string& query) {
  spi_exec("SELECT * FROM (\n" + query + "\n) AS s LIMIT 0");
  std::vector<Column> out;
  const int natts = SPI_tuptable->tupdesc->natts;
  for (int i = 0; i < natts; ++i) {
    Form_pg_attribute a = TupleDescAttr(SPI_tuptable->tupdesc, i);
    char* type = nullptr;
    const Oid t = a->atttypid;
    const int32 mod = a->atttypmod;
    pg_call([&] { type = format_type_with_typemod(t, mod); });
    out.push_back({NameStr(a->attname), type});
  }
  return out;
}

std::vector<Column> table_columns(Oid table) {
  const uint64 n = spi_exec(
      "SELECT attname, format_type(atttypid, atttypmod) FROM pg_catalog.pg_attribute "
      "WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
      {oid_arg(table)});
  std::vector<Column> out;
  for (uint64 i = 0; i < n; ++i) out.push_back({spi_text_or(i, 1, ""), spi_text_or(i, 2, "")});
  return out;
}

// The end of a column-changing alter_stage: the old table goes, the new one (built and
// filled as `built_name`) takes its name, and so do its indexes (an index named after the
// built table is renamed after the stage's table, as PostgreSQL would have named it).
void swap_in_rebuilt_table(const StageRecord& stage, const std::string& old_target, const std::string& built_name,
                           const std::string& table_name) {
  spi_exec("DROP TABLE " + old_target);
  spi_exec("ALTER TABLE " + stage.shape.target + " RENAME TO " + quote_ident(table_name));
  std::vector<std::string> indexes;
  spi_exec(
      "SELECT c.relname::text FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid "
      "WHERE i.indrelid = $1 ORDER BY 1",
      {oid_arg(stage.target)}, true);
  for (uint64 i = 0; i < SPI_processed; ++i) indexes.push_back(spi_text_or(i, 1, ""));
  for (const auto& index : indexes) {
    if (index.rfind(built_name, 0) != 0) continue;
    const std::string renamed = (table_name + index.substr(built_name.size())).substr(0, NAMEDATALEN - 1);
    const std::string qualified = quote_ident(stage.target_schema) + "." + quote_ident(renamed);
    if (spi_scalar("SELECT pg_catalog.to_regclass($1)::text", {text_arg(qualified)})) continue;  // name taken
    spi_exec("ALTER INDEX " + quote_ident(stage.target_schema) + "." + quote_ident(index) + " RENAME TO " +
             quote_ident(renamed));
    rename_declared_index(stage.id, index, renamed);
  }
}

}  // namespace

// incview.alter_stage(name, query): redefines a stage. Re-discovers its sources, keeps the
// mappings declared for sources it still reads, and rebuilds. Refuses a definition that
// would close a cycle (naming every stage on it) and leaves everything as it was.
Datum incview_alter_stage(PG_FUNCTION_ARGS) {
  return entry_guard([&]() -> Datum {
    const std::string name = required_text(fcinfo, 0, "name");
    const std::string query = required_text(fcinfo, 1, "query");
    spi_connect();
    const StageRecord old = load_stage(name);
    check_stage_owner(old, "change it");
    if (old.shape.target.empty())
      throw Error(sqlstate::kUndefinedObject, "the target table of stage \"" + name + "\" no longer exists");
    if (delta_active(old))
      throw Error(sqlstate::kFeatureNotSupported,
                  "alter_stage is not supported while stage \"" + name + "\" uses the delta engine",
                  "the engine's queue and statements are derived from the old query",
                  "incview.set_engine('" + name + "', 'replace'), then alter_stage, then set_engine again");
    // The new definition runs, like the old one, as the stage's owner (a superuser altering
    // somebody's stage must not run its functions as superuser), under the caller's path.
    const std::string search_path = creator_search_path();
    as_stage_owner(old.owner, search_path, [&] {
      OwnStageDdl own;  // our DROP TABLE / DROP VIEW below must not take the stage with them
      const CheckedQuery checked = check_stage_query(query);
      refuse_own_tables(checked.relations);
      check_source_privileges(old.owner, checked.relations);
      const StageInputs inputs = stage_inputs(checked.text, checked.relations);
      refuse_uncapturable(inputs);
      if (!inputs.citus.empty() || is_citus_table(old.target))
        throw Error(sqlstate::kFeatureNotSupported, "alter_stage is not supported for a stage over Citus tables",
                    "its table is distributed by the scope and co-located with its sources",
                    "drop the stage and create it again with the new query");

      // Stages whose tables the new query reads become upstreams: check for a cycle first.
      StageGraph graph = load_stage_graph(name);
      refuse_cycle(graph, name, checked.relations, "redefining stage \"" + name + "\"");

      // The table keeps its identity when the columns stay; otherwise it is re-created,
      // which other stages reading it would not survive.
      const std::vector<Column> now = table_columns(old.target);
      const std::vector<Column> next = query_columns(checked.text);
      std::vector<std::string> next_names;
      for (const auto& c : next) next_names.push_back(c.name);
      for (const auto& want : {std::make_pair(std::string("scope"), std::vector<std::string>()),
                               std::make_pair(std::string("unique_key"), old.shape.unique_key)}) {
        std::vector<std::string> names = want.second;
        if (want.first == "scope")
          for (const auto& c : old.shape.scope) names.push_back(c.name);
        for (const auto& c : names)
          if (std::find(next_names.begin(), next_names.end(), c) == next_names.end())
            throw Error(sqlstate::kUndefinedColumn,
                        want.first + " column \"" + c + "\" is not an output column of the new query",
                        "the query returns: " + join(next_names, ", "));
      }
      Oid target = old.target;
      std::vector<std::string> declared_indexes;
      std::string swap_from, swap_name;  // set when the table is re-created beside the old one
      if (!(now == next) && old.partition.partitioned())
        throw Error(sqlstate::kFeatureNotSupported, "cannot change the columns of partitioned stage \"" + name + "\"",
                    "", "keep the columns and their types, or drop the stage and create it again");
      if (!(now == next)) {
        const auto dependents = graph.downstreams(name);
        if (!dependents.empty())
          throw Error(sqlstate::kFeatureNotSupported,
                      "cannot change the columns of stage \"" + name + "\" while other stages read its table",
                      "stages reading " + old.shape.target + ": " + join(dependents, ", "),
                      "keep the columns and their types, or drop those stages first");
        StageShape shape = old.shape;
        shape.query = checked.text;
        shape.columns = next_names;
        // Built beside the old table, which readers go on reading (with its old rows) until the
        // swap at the end: DROP of the old table and RENAME of the new one, the only moments
        // that take ACCESS EXCLUSIVE (issue 19: never for the duration of a build).
        swap_from = old.shape.target;
        swap_name = "incview_new_" + std::to_string(old.target);
        shape.target = quote_ident(old.target_schema) + "." + quote_ident(swap_name);
        target = create_stage_table(old.target_schema, shape.target, checked.text);
        create_key_indexes(StageSql(shape), !shape.unique_key.empty());
        // Declared indexes went with the old table: declare them again on the new one.
        declared_indexes = take_declared_index_definitions(old.id);
      }

      // Sources: drop what is no longer read (declared mappings of still-read sources stay).
      const std::vector<Oid> read_before = sources_of(old.id);
      std::vector<Oid> still_read = checked.relations;
      still_read.insert(still_read.end(), inputs.function_tables.begin(), inputs.function_tables.end());
      // Sources no longer read: their triggers go at the end (drop_capture_if_idle), if no other
      // stage reads them and the table is free; never a lock on a source the stage still reads.
      std::vector<Oid> no_longer_read;
      for (Oid s : trigger_sources(old.id))
        if (std::find(still_read.begin(), still_read.end(), s) == still_read.end()) no_longer_read.push_back(s);
      std::string oids = "{";
      for (size_t i = 0; i < checked.relations.size(); ++i)
        oids += (i ? "," : "") + std::to_string(checked.relations[i]);
      oids += "}";
      save_redefinition(old.id, oids, checked.text, json_string_array(next_names), target, search_path);
      drop_definition_view(old.id);
      create_definition_view(old.id, name, checked.text, old.owner, search_path);
      const StageRecord stage = load_stage(name);
      for (const auto& d : declared_indexes) add_declared_index(stage, d);
      register_sources(stage, checked.relations, read_before);
      register_inputs(stage, inputs, read_before);
      for (Oid d : declared_source_oids(stage.id)) install_capture(d);

      rebuild_and_log(stage);
      if (!swap_from.empty()) swap_in_rebuilt_table(stage, swap_from, swap_name, old.target_table);
      for (Oid s : no_longer_read) invalidate_capture(s);
      (void)drop_capture_if_idle(no_longer_read, IdleLock::IfFree);
    });
    spi_finish();
    PG_RETURN_VOID();
  });
}

Datum incview_graph_dot(PG_FUNCTION_ARGS) {
  return entry_guard([&]() -> Datum {
    spi_connect();
    std::vector<DotStage> stages;
    std::vector<DotSource> sources;
    load_graph_dot(stages, sources);
    spi_finish();
    return text_result(graph_dot(stages, sources));
  });
}
