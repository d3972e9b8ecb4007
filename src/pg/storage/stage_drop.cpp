// Dropping a stage (stage_drop.hpp). Moved out of the catalog layer (issue 15): besides our
// rows it drops the stage's table, its delta queue and its idle capture triggers.
#include "pg/storage/stage_drop.hpp"

#include "core/sql_text.hpp"
#include "pg/capture/capture.hpp"
#include "pg/capture/idle_capture.hpp"
#include "pg/catalog/stage_definition.hpp"
#include "pg/catalog/stage_rows.hpp"
#include "pg/citus/citus.hpp"
#include "pg/refresh/delta_engine.hpp"
#include "pg/support/guard.hpp"
#include "pg/support/role.hpp"
#include "pg/support/spi.hpp"

namespace incview::pg {

void drop_stage_cascade(const StageRecord& stage, bool cascade, bool check_owners) {
  const std::vector<std::string> dependents = stages_reading_table_of(stage);
  if (!dependents.empty() && !cascade)
    throw Error(sqlstate::kDependentObjectsStillExist,
                "cannot drop stage \"" + stage.name + "\" because other stages depend on it",
                "stages reading " + stage.shape.target + ": " + join(dependents, ", "),
                "use incview.drop_stage('" + stage.name + "', cascade => true) to drop them too");
  for (const auto& d : dependents) {
    auto dep = find_stage(d);
    if (!dep) continue;  // already dropped through another path of the cascade
    if (check_owners) check_stage_owner(*dep, "drop it");
    if (!check_owners) {
      const std::string m = "drop cascades to stage \"" + d + "\"";
      const char* text = m.c_str();
      pg_call([&] { ereport(NOTICE, (errmsg("%s", text))); });
    }
    drop_stage_cascade(*dep, true, check_owners);
  }
  // The stage's trigger-carrying sources, to drop triggers no stage needs once it is gone.
  const std::vector<Oid> sources = trigger_sources(stage.id);
  // The catalog rows go first: the event triggers that see our DROPs below then find no
  // stage to act on (and OwnStageDdl tells them it is us).
  delete_queued_keys(stage.id);
  drop_delta_queue(stage);
  drop_definition_view(stage.id);
  delete_stage_rows(stage.id);
  OwnStageDdl own;
  if (!stage.shape.target.empty() &&
      spi_scalar("SELECT pg_catalog.to_regclass($1)::text", {text_arg(stage.shape.target)}))
    spi_exec("DROP TABLE " + stage.shape.target);
  // Last, so a lock it takes lasts only until commit; never waits (idle_capture.hpp).
  for (Oid s : sources) invalidate_capture(s);
  (void)drop_capture_if_idle(sources, IdleLock::IfFree);
  forget_unused_citus_sources();  // key queues of Citus sources no stage reads any more
}

}  // namespace incview::pg
