// SQL entry points about the stage graph: alter_stage (redefine, cycle-checked) and
// graph_dot.
#include <algorithm>

#include "core/graph_dot.hpp"
#include "core/sql_text.hpp"
#include "core/stage_sql.hpp"
#include "pg/args.hpp"
#include "pg/capture.hpp"
#include "pg/citus.hpp"
#include "pg/catalog.hpp"
#include "pg/dirty_queue.hpp"
#include "pg/guard.hpp"
#include "pg/query_check.hpp"
#include "pg/refresher.hpp"
#include "pg/role.hpp"
#include "pg/spi.hpp"
#include "pg/stage_graph_catalog.hpp"
#include "pg/stage_indexes.hpp"
#include "pg/stage_refresh.hpp"
#include "pg/stage_sources.hpp"

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
    // The new definition runs, like the old one, as the stage's owner (a superuser altering
    // somebody's stage must not run its functions as superuser), under the caller's path.
    const std::string search_path = creator_search_path();
    as_stage_owner(old.owner, search_path, [&] {
    const CheckedQuery checked = check_stage_query(query);
    check_source_privileges(old.owner, checked.relations);
    const StageInputs inputs = stage_inputs(checked.text, checked.relations);
    refuse_uncapturable(inputs);
    if (!inputs.citus.empty() || is_citus_table(old.target))
      throw Error(sqlstate::kFeatureNotSupported, "alter_stage is not supported for a stage over Citus tables",
                  "its table is distributed by the scope and co-located with its sources",
                  "drop the stage and create it again with the new query");

    // Stages whose tables the new query reads become upstreams: check for a cycle first.
    StageGraph graph = load_stage_graph(name);
    std::vector<std::pair<std::string, Oid>> targets;
    as_extension_owner([&] {
      const uint64 n = spi_exec("SELECT s.name, s.target::oid::text FROM incview.stage s");
      for (uint64 i = 0; i < n; ++i)
        targets.push_back({spi_text_or(i, 1, ""), static_cast<Oid>(std::stoul(spi_text_or(i, 2, "0")))});
    });
    for (const auto& [stage_name, target] : targets)
      for (Oid rel : checked.relations)
        if (rel == target) {
          const auto cycle = graph.cycle_if_added(stage_name, name);
          if (!cycle.empty())
            throw Error(sqlstate::kInvalidRecursion,
                        "redefining stage \"" + name + "\" would close a cycle: " + format_cycle(cycle),
                        "stages on the cycle: " + join(cycle, ", "),
                        "a stage may not read, directly or through other stages, its own table");
          graph.add_edge(stage_name, name);
        }

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
    if (!(now == next) && old.partition.partitioned())
      throw Error(sqlstate::kFeatureNotSupported,
                  "cannot change the columns of partitioned stage \"" + name + "\"", "",
                  "keep the columns and their types, or drop the stage and create it again");
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
      spi_exec("DROP TABLE " + old.shape.target);
      spi_exec("CREATE TABLE " + old.shape.target + " AS SELECT * FROM (\n" + checked.text + "\n) AS s WITH NO DATA");
      target = static_cast<Oid>(std::stoul(*spi_scalar("SELECT $1::regclass::oid::text", {text_arg(old.shape.target)})));
      const StageSql sql(shape);
      spi_exec(sql.create_scope_index());
      if (!shape.unique_key.empty()) spi_exec(sql.create_unique_index());
      // Declared indexes went with the old table: declare them again on the new one.
      std::vector<std::string> defs;
      as_extension_owner([&] {
        spi_exec("SELECT definition FROM incview.stage_index WHERE stage_id = $1 ORDER BY index_name", {int4_arg(old.id)});
        for (uint64 i = 0; i < SPI_processed; ++i) defs.push_back(spi_text_or(i, 1, ""));
        spi_exec("DELETE FROM incview.stage_index WHERE stage_id = $1", {int4_arg(old.id)});
      });
      declared_indexes = defs;
    }

    // Sources: drop what is no longer read (declared mappings of still-read sources stay).
    std::vector<Oid> still_read = checked.relations;
    still_read.insert(still_read.end(), inputs.function_tables.begin(), inputs.function_tables.end());
    remove_capture(old, still_read);
    std::string oids = "{";
    for (size_t i = 0; i < checked.relations.size(); ++i) oids += (i ? "," : "") + std::to_string(checked.relations[i]);
    oids += "}";
    as_extension_owner([&] {
      spi_exec("DELETE FROM incview.stage_source WHERE stage_id = $1 AND (NOT declared OR NOT source = ANY($2::oid[]))",
               {int4_arg(old.id), text_arg(oids)});
      spi_exec(
          "UPDATE incview.stage SET query = $2, columns = ARRAY(SELECT jsonb_array_elements_text($3::jsonb)), "
          "target = $4::oid::regclass, search_path = $5 WHERE id = $1",
          {int4_arg(old.id), text_arg(checked.text), text_arg(json_string_array(next_names)), oid_arg(target),
           text_arg(search_path)});
    });
    const StageRecord stage = load_stage(name);
    for (const auto& d : declared_indexes) add_declared_index(stage, d);
    register_sources(stage, checked.relations);
    register_inputs(stage, inputs);
    std::vector<Oid> declared;
    as_extension_owner([&] {
      spi_exec("SELECT source::oid::text FROM incview.stage_source WHERE stage_id = $1 AND declared",
               {int4_arg(stage.id)});
      for (uint64 i = 0; i < SPI_processed; ++i) declared.push_back(static_cast<Oid>(std::stoul(spi_text_or(i, 1, "0"))));
    });
    for (Oid d : declared) install_capture(d);

    rebuild_and_log(stage);
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
    as_extension_owner([&] {
      uint64 n = spi_exec(
          "SELECT s.name, s.target::text, array_to_string(s.scope, ', '), s.policy, "
          "       (SELECT count(DISTINCT d.key) FROM incview.dirty_scope d WHERE d.stage_id = s.id), "
          "       EXISTS (SELECT 1 FROM incview.dirty_scope d WHERE d.stage_id = s.id AND d.key IS NULL) "
          "FROM incview.stage s ORDER BY s.name");
      for (uint64 i = 0; i < n; ++i)
        stages.push_back({spi_text_or(i, 1, ""), spi_text_or(i, 2, ""), spi_text_or(i, 3, ""), spi_text_or(i, 4, ""),
                          spi_int8(i, 5), spi_bool(i, 6)});
      n = spi_exec(
          "SELECT d.name, ss.source::text, ss.mapping_kind, coalesce(u.name, '') "
          "FROM incview.stage_source ss JOIN incview.stage d ON d.id = ss.stage_id "
          "LEFT JOIN incview.stage u ON u.target = ss.source ORDER BY 1, 2");
      for (uint64 i = 0; i < n; ++i)
        sources.push_back({spi_text_or(i, 1, ""), spi_text_or(i, 2, ""), spi_text_or(i, 3, ""), spi_text_or(i, 4, "")});
    });
    spi_finish();
    return text_result(graph_dot(stages, sources));
  });
}
