// SQL entry points for running engine `delta` in production (issue 13): the float drift
// re-derive, on demand (incview.rederive) and on a cadence the background scheduler keeps
// (incview.set_rederive). docs/engines.md, "Exactness".
#include "pg/api/args.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/catalog/delta_rows.hpp"
#include "pg/refresh/delta_engine.hpp"
#include "pg/support/guard.hpp"
#include "pg/support/spi.hpp"

extern "C" {
PG_FUNCTION_INFO_V1(incview_set_rederive);
PG_FUNCTION_INFO_V1(incview_rederive);
}

using namespace incview;
using namespace incview::pg;

// incview.set_rederive(stage, every interval): the scheduler re-derives the stage's folded
// groups when `every` has passed since the last complete re-derive; NULL turns it off. A
// setting of the delta engine (kept in incview.delta_stage): set_engine to another engine
// drops it. Refused where nothing can drift, so a setting never silently does nothing.
Datum incview_set_rederive(PG_FUNCTION_ARGS) {
  return entry_guard([&]() -> Datum {
    const std::string name = required_text(fcinfo, 0, "stage");
    const SpiArg every = PG_ARGISNULL(1) ? null_arg(INTERVALOID) : SpiArg{INTERVALOID, PG_GETARG_DATUM(1), false};
    spi_connect();
    const StageRecord stage = load_owned_stage(name, "change it");
    if (!every.isnull && spi_scalar("SELECT $1 <= interval '0'", {every}) == std::optional<std::string>("t"))
      throw Error(sqlstate::kInvalidParameterValue, "every must be a positive interval");
    if (!every.isnull && !rederives(stage))
      throw Error(sqlstate::kInvalidParameterValue,
                  "stage \"" + name + "\" has nothing to re-derive: " +
                      (delta_active(stage) ? "it has no sum or avg over real or double precision (its folds are exact)"
                                           : "it does not run the delta engine"),
                  "", "a re-derive repairs the float rounding of folded sums; see docs/engines.md");
    save_rederive_every(stage.id, every);
    spi_finish();
    PG_RETURN_VOID();
  });
}

// incview.rederive(stage) -> bigint: re-derives every group folded since it was derived,
// now, in the caller's transaction (batches of incview.batch_size groups); returns how many.
// 0 for a stage where nothing can drift.
Datum incview_rederive(PG_FUNCTION_ARGS) {
  return entry_guard([&]() -> Datum {
    const std::string name = required_text(fcinfo, 0, "stage");
    spi_connect();
    const StageRecord stage = load_owned_stage(name, "refresh it");
    const int64 groups = rederive_folded(stage);
    spi_finish();
    PG_RETURN_INT64(groups);
  });
}
