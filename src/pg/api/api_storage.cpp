// SQL entry points for how a stage is stored: declared indexes, retention, partitions.
#include "core/sql_text.hpp"
#include "pg/catalog/captured_changes.hpp"
#include "pg/api/args.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/catalog/dirty_queue.hpp"
#include "pg/catalog/stage_rows.hpp"
#include "pg/support/guard.hpp"
#include "pg/storage/partitions.hpp"
#include "pg/refresh/refresher.hpp"
#include "pg/storage/retention.hpp"
#include "pg/support/role.hpp"
#include "pg/support/spi.hpp"
#include "pg/storage/stage_indexes.hpp"

extern "C" {
PG_FUNCTION_INFO_V1(incview_add_index);
PG_FUNCTION_INFO_V1(incview_drop_index);
PG_FUNCTION_INFO_V1(incview_set_retention);
PG_FUNCTION_INFO_V1(incview_apply_retention);
PG_FUNCTION_INFO_V1(incview_rebuild_partition);
}

using namespace incview;
using namespace incview::pg;

Datum incview_add_index(PG_FUNCTION_ARGS) {
  return entry_guard([&]() -> Datum {
    const std::string name = required_text(fcinfo, 0, "stage");
    const std::string definition = required_text(fcinfo, 1, "definition");
    spi_connect();
    const StageRecord stage = load_owned_stage(name, "change it");
    std::string index;
    as_owner_of(stage, [&] { index = add_declared_index(stage, definition); });
    spi_finish();
    return text_result(index);
  });
}

Datum incview_drop_index(PG_FUNCTION_ARGS) {
  return entry_guard([&]() -> Datum {
    const std::string name = required_text(fcinfo, 0, "stage");
    const std::string index = required_text(fcinfo, 1, "index_name");
    spi_connect();
    const StageRecord stage = load_owned_stage(name, "change it");
    as_owner_of(stage, [&] { drop_declared_index(stage, index); });
    spi_finish();
    PG_RETURN_VOID();
  });
}

Datum incview_set_retention(PG_FUNCTION_ARGS) {
  return entry_guard([&]() -> Datum {
    const std::string name = required_text(fcinfo, 0, "stage");
    const auto column = arg_text(fcinfo, 1);
    const SpiArg keep = PG_ARGISNULL(2) ? null_arg(INTERVALOID) : SpiArg{INTERVALOID, PG_GETARG_DATUM(2), false};
    spi_connect();
    const StageRecord stage = load_owned_stage(name, "change it");
    if (!keep.isnull) {
      if (!column)
        throw Error(sqlstate::kNullValueNotAllowed, "parameter \"column\" must not be NULL when keep is given");
      if (spi_scalar("SELECT $1 <= interval '0'", {keep}) == std::optional<std::string>("t"))
        throw Error(sqlstate::kInvalidParameterValue, "keep must be a positive interval");
      const auto type = column_type(stage.target, *column);
      if (!type)
        throw Error(sqlstate::kUndefinedColumn,
                    "retention column \"" + *column + "\" is not a column of stage \"" + name + "\"");
      if (type->find("timestamp") != 0 && *type != "date")
        throw Error(sqlstate::kInvalidParameterValue,
                    "retention column \"" + *column + "\" has type " + *type + "; it must be a date or timestamp");
    }
    save_retention(stage.id, keep.isnull ? null_arg(TEXTOID) : text_arg(*column), keep);
    spi_finish();
    PG_RETURN_VOID();
  });
}

Datum incview_apply_retention(PG_FUNCTION_ARGS) {
  return entry_guard([&]() -> Datum {
    const std::string name = required_text(fcinfo, 0, "stage");
    spi_connect();
    const StageRecord stage = load_owned_stage(name, "change it");
    const int64 rows = apply_retention(stage);
    spi_finish();
    PG_RETURN_INT64(rows);
  });
}

Datum incview_rebuild_partition(PG_FUNCTION_ARGS) {
  return entry_guard([&]() -> Datum {
    const std::string name = required_text(fcinfo, 0, "stage");
    if (PG_ARGISNULL(1)) throw Error(sqlstate::kNullValueNotAllowed, "parameter \"value\" must not be NULL");
    const std::string value = *arg_text(fcinfo, 1);
    spi_connect();
    const StageRecord stage = load_owned_stage(name, "refresh it");
    int64 inserted = 0;
    as_owner_of(stage, [&] {
      lock_stage(stage.id);
      const double t0 = monotonic_seconds();
      // Keys of this partition's scopes are made fresh by the rebuild (those still in change
      // records too: collected first).
      collect_captured(stage.id);
      size_t pos = 0;
      for (size_t i = 0; i < stage.shape.scope.size(); ++i)
        if (stage.shape.scope[i].name == stage.partition.column) pos = i;
      consume_partition_keys(stage, pos, value);
      RefreshStats stats;
      stats.engine = "partition";
      stats.inserted = rebuild_list_partition(stage, value);
      stats.scopes = -1;
      log_refresh(stage, stats, monotonic_seconds() - t0, std::nullopt);
      inserted = stats.inserted;
    });
    spi_finish();
    PG_RETURN_INT64(inserted);
  });
}
