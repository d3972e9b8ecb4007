// SQL entry points around the dirty queue: map_source, refresh, refresh_step, refresh_order.
#include "core/capture_sql.hpp"
#include "core/sql_text.hpp"
#include "pg/api/args.hpp"

extern "C" {
#include "catalog/pg_type_d.h"
}
#include "pg/capture/capture.hpp"
#include "pg/citus/citus.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/catalog/source_rows.hpp"
#include "pg/support/guard.hpp"
#include "pg/capture/new_source_lock.hpp"
#include "pg/query/query_check.hpp"
#include "pg/support/role.hpp"
#include "pg/support/spi.hpp"
#include "pg/catalog/stage_graph_catalog.hpp"
#include "pg/refresh/stage_refresh.hpp"
#include "pg/catalog/stage_sources.hpp"

extern "C" {
PG_FUNCTION_INFO_V1(incview_map_source);
PG_FUNCTION_INFO_V1(incview_refresh);
PG_FUNCTION_INFO_V1(incview_refresh_step);
PG_FUNCTION_INFO_V1(incview_refresh_order);
}

using namespace incview;
using namespace incview::pg;

namespace {

// How a value of this type looks as jsonb: number, boolean, json or string.
std::string json_kind(Oid type) {
  char category = 0;
  bool preferred = false;
  pg_call([&] { get_type_category_preferred(getBaseType(type), &category, &preferred); });
  if (type == JSONOID || type == JSONBOID) return "json value";
  if (category == TYPCATEGORY_NUMERIC) return "number";
  if (category == TYPCATEGORY_BOOLEAN) return "boolean";
  return "string";
}

}  // namespace

Datum incview_map_source(PG_FUNCTION_ARGS) {
  return entry_guard([&]() -> Datum {
    const std::string name = required_text(fcinfo, 0, "stage");
    if (PG_ARGISNULL(1)) throw Error(sqlstate::kNullValueNotAllowed, "parameter \"source\" must not be NULL");
    const Oid source = PG_GETARG_OID(1);
    const auto mapping = arg_text(fcinfo, 2);
    spi_connect();
    const StageRecord stage = load_owned_stage(name, "change it");
    // A mapping runs in every writer's transaction on the source, as the stage's owner: the
    // owner must be able to read the source and put triggers on it, whether or not the
    // query reads it (a table read inside a function is declared this way).
    refuse_own_tables({source});
    check_source_privileges(stage.owner, {source});
    if (is_citus_table(source))
      throw Error(sqlstate::kFeatureNotSupported, "map_source is not supported for Citus tables",
                  "changes on the shards are captured by the distribution column (distributed tables) or dirty "
                  "every scope (reference tables); a mapping would run on the shards, where pg_incview's catalog is "
                  "not",
                  "see docs/citus.md");
    as_owner_of(stage, [&] {
      const auto source_name = spi_scalar("SELECT $1::regclass::text", {oid_arg(source)});
      // Declaring a stage's table (its own, or a downstream one's) as its source is a cycle.
      StageGraph graph = load_stage_graph();
      refuse_cycle(graph, name, {source}, "reading " + source_name.value_or("?") + " in stage \"" + name + "\"");
      std::string kind = "all";
      std::optional<std::string> text;
      if (mapping) {
        kind = "lookup";
        text = check_select_syntax(*mapping, "a mapping");
        // Run it once over an empty `changed` to check names, types and the column count.
        uint64 natts = 0;
        std::vector<Oid> types;
        spi_exec("SELECT m.* FROM (SELECT * FROM " + *source_name + " LIMIT 0) AS changed, LATERAL (\n" + *text +
                     "\n) AS m LIMIT 0",
                 {}, true);
        natts = static_cast<uint64>(SPI_tuptable->tupdesc->natts);
        for (uint64 i = 0; i < natts; ++i) types.push_back(TupleDescAttr(SPI_tuptable->tupdesc, i)->atttypid);
        if (natts != stage.shape.scope.size())
          throw Error(sqlstate::kInvalidParameterValue,
                      "mapping for source " + *source_name + " returns " + std::to_string(natts) +
                          " columns; stage \"" + name + "\" has " + std::to_string(stage.shape.scope.size()) +
                          " scope columns",
                      "", "return the scope columns in order: " + StageSql(stage.shape).scope_columns());
        // Keys are compared as jsonb: a text '5' never equals the number 5, so a mapping of
        // the wrong kind would queue keys no refresh can consume.
        for (size_t i = 0; i < types.size(); ++i) {
          const std::string want = json_kind(stage.scope_types[i]), got = json_kind(types[i]);
          if (want != got)
            throw Error(sqlstate::kDatatypeMismatch,
                        "mapping for source " + *source_name + " returns a " + got + " in column " +
                            std::to_string(i + 1) + ", but scope column \"" + stage.shape.scope[i].name + "\" is " +
                            stage.shape.scope[i].type,
                        "", "cast the mapping's column to " + stage.shape.scope[i].type);
        }
      }
      const std::vector<Oid> read_before = sources_of(stage.id);
      save_declared_source(stage.id, source, kind, text);
      lock_new_source(source, read_before);  // a source the stage did not read: its open writers first
      install_capture(source);
    });
    spi_finish();
    PG_RETURN_VOID();
  });
}

Datum incview_refresh(PG_FUNCTION_ARGS) {
  return entry_guard([&]() -> Datum {
    const std::string name = required_text(fcinfo, 0, "stage");
    spi_connect();
    // The version check also reads the queue summary the refresh starts from (dirty_queue.hpp).
    const StageRecord stage = load_owned_stage(name, "refresh it", /*with_summary=*/true);
    // (No capture check here: refresh is the hot path; verify, rebuild and incview.stages say it.)
    const int64 scopes = refresh_stage(stage);
    spi_finish();
    PG_RETURN_INT64(scopes);
  });
}

Datum incview_refresh_step(PG_FUNCTION_ARGS) {
  return entry_guard([&]() -> Datum {
    const std::string name = required_text(fcinfo, 0, "stage");
    spi_connect();
    std::optional<std::string> after;
    if (!PG_ARGISNULL(1)) after = spi_scalar("SELECT $1::text", {{JSONBOID, PG_GETARG_DATUM(1), false}});
    const StageRecord stage = load_owned_stage(name, "refresh it");
    const StepResult step = refresh_step(stage, after);
    spi_finish();
    Datum result = 0;
    const char* last = step.last_key ? step.last_key->c_str() : nullptr;
    pg_call([&] {
      TupleDesc desc;
      if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE) elog(ERROR, "record expected");
      desc = BlessTupleDesc(desc);
      Datum values[3] = {Int64GetDatum(step.scopes), last ? DirectFunctionCall1(jsonb_in, CStringGetDatum(last)) : 0,
                         BoolGetDatum(step.failed)};
      bool nulls[3] = {false, last == nullptr, false};
      result = HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
    });
    return result;
  });
}

Datum incview_refresh_order(PG_FUNCTION_ARGS) {
  return entry_guard([&]() -> Datum {
    spi_connect();
    const std::vector<std::string> order = load_stage_graph().topological_order();
    spi_finish();
    Datum result = 0;
    pg_call([&] {
      Datum* elems = static_cast<Datum*>(palloc(sizeof(Datum) * (order.size() + 1)));
      for (size_t i = 0; i < order.size(); ++i) elems[i] = CStringGetTextDatum(order[i].c_str());
      result =
          PointerGetDatum(construct_array(elems, static_cast<int>(order.size()), TEXTOID, -1, false, TYPALIGN_INT));
    });
    return result;
  });
}
