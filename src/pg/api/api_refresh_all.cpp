// incview._refresh_all_step(stage, run): one step of incview.refresh_all's run of a stage.
// refresh_all is PL/pgSQL because it COMMITs after every step (a long refresh holds no lock
// and loses nothing when interrupted); what a step does, where the next one continues and
// when the run is over are decided here, by the same code as incview.refresh and the
// scheduler's workers (refresh_step, core/refresh_steps.hpp's StepRun), so the procedure's
// loop only carries the run from one transaction to the next.
#include "core/refresh_steps.hpp"
#include "pg/api/args.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/refresh/stage_refresh.hpp"
#include "pg/support/guard.hpp"
#include "pg/support/spi.hpp"

extern "C" {
PG_FUNCTION_INFO_V1(incview_refresh_all_step);
}

using namespace incview;
using namespace incview::pg;

namespace {

// The run as refresh_all carries it: {"after": <last key>, "failed": <bool>}; NULL is the
// start. Read with pg_catalog's operators only, schema-qualified (the caller's search path is
// not pinned; NULLIF would look up = through it).
StepRun run_from_json(FunctionCallInfo fcinfo) {
  StepRun run;
  if (PG_ARGISNULL(1)) return run;
  spi_exec(
      "SELECT CASE WHEN pg_catalog.jsonb_typeof($1 OPERATOR(pg_catalog.->) 'after') OPERATOR(pg_catalog.=) 'null' "
      "       THEN NULL ELSE ($1 OPERATOR(pg_catalog.->) 'after')::pg_catalog.text END, "
      "       coalesce(($1 OPERATOR(pg_catalog.->>) 'failed') OPERATOR(pg_catalog.=) 'true', false)::pg_catalog.text",
      {{JSONBOID, PG_GETARG_DATUM(1), false}}, true);
  if (auto after = spi_text(0, 1)) run.after = *after;
  run.failed = spi_text_or(0, 2, "false") == "true";
  return run;
}

}  // namespace

// Returns the run to pass to the next call, or NULL when the run is over. The caller must
// be allowed to refresh the stage (its owner or a member of the owner's role), as for
// incview.refresh_step.
Datum incview_refresh_all_step(PG_FUNCTION_ARGS) {
  return entry_guard([&]() -> Datum {
    const std::string name = required_text(fcinfo, 0, "stage");
    spi_connect();
    StepRun run = run_from_json(fcinfo);
    const StageRecord stage = load_owned_stage(name, "refresh it");
    const bool more = run.advance(refresh_step(stage, run.after, run.failed));
    spi_finish();
    if (!more) PG_RETURN_NULL();
    const std::string next = "{\"after\": " + *run.after + ", \"failed\": " + (run.failed ? "true" : "false") + "}";
    Datum result = 0;
    pg_call([&] { result = DirectFunctionCall1(jsonb_in, CStringGetDatum(next.c_str())); });
    return result;
  });
}
