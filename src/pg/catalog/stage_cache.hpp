// Per-backend cache of loaded stages (issue 12, item 4: the fixed cost of a refresh call).
//
// Loading a stage reads its incview.stage row, its target's names and its columns' current
// types (two catalog queries, the second the costlier). A long-lived session or worker that
// refreshes the same stage again and again re-reads the same answer each time. The cache
// keeps the StageRecord and revalidates it on every load with one cheap kept-plan query:
//  - the stage row's version (xmin and ctid): every change of the stage through the API
//    (set_engine, alter_stage, set_policy, declare_independent, owner change, drop and
//    re-create under the same name) writes a new row version;
//  - whether other stages read its table (has_downstream, from incview.stage_source: a
//    downstream stage created or dropped writes no row of this stage), re-read every time;
//  - PostgreSQL's own invalidation of what the record copies from the system catalogs:
//    relcache invalidation of the target (rename, ALTER COLUMN TYPE, columns), and syscache
//    invalidation of types and schemas (renames), which drop the affected entries.
// The privilege check (check_stage_owner) is never cached: it runs on every call.
#pragma once
#include "pg/catalog/catalog.hpp"

namespace incview::pg {

// The version of the stage row named `name` as the catalog shows it now, plus what the
// record holds that is not in that row; nullopt when there is no such stage.
struct StageRowVersion {
  std::string version;  // xmin:ctid of the incview.stage row
  bool has_downstream = false;
};

// The cached record of this version of the stage, if any (a copy).
std::optional<StageRecord> cached_stage(const std::string& name, const StageRowVersion& now);

// Remembers a record read while the cache's invalidation count was `epoch` (see
// stage_cache_epoch): if an invalidation arrived meanwhile, it is not kept.
void remember_stage(const std::string& name, const StageRowVersion& version, const StageRecord& record, uint64 epoch);

// The delta queue of the cached record of this stage, whatever its version ("" when it has
// none), if a record is cached; nullopt otherwise. For a probe with the check of the version:
// its answer counts only if the record is current. Whether the table still exists is not
// asked (a stage switched off delta dropped it): see delta_queue_exists.
std::optional<std::string> cached_delta_queue(const std::string& name);

// Whether the queue named by cached_delta_queue exists now: a name a statement can read
// without an ERROR (find_stage's statement, when the probe cannot answer).
bool delta_queue_exists(const std::string& queue);

// Forgets the stage of this name (it is gone).
void forget_stage(const std::string& name);

// Counts invalidations seen by this backend; read before loading a record to remember.
uint64 stage_cache_epoch();

}  // namespace incview::pg
