// The refresh call's version check and queue probes without a statement (issue 13's one-row
// target): the kept-plan SELECT that checked the cached stage row's version and probed the
// queues was ~28 % of a one-row delta refresh call, mostly executor start-up and the
// sequential scan of the delta queue (bench/fixed_cost.md). The same questions, answered by
// index and heap scans under the snapshot the statement would take, as the extension owner:
//  - the incview.stage row of this name: its version (xmin:ctid, as the statement spelled
//    it), id and target (unique index on name);
//  - whether another stage reads its table (incview.stage_source, scanned on source);
//  - whether a change record names it (incview.source_change, which keeps no index);
//  - with a queue: whether a key or marker is queued (incview.dirty_scope's index on
//    (stage_id, key)). Whether a delta stage's queue holds a row is asked by the refresh
//    itself, under the stage's lock, by the one scan that also reads the row of a one-row
//    change (delta_single.hpp): asked here too, it was a second scan of the same pages.
// Whatever looks unlike the tables our scripts made (a column's type, a missing index,
// forced row security) gives nullopt: the caller runs the statement, as before.
#pragma once
#include <optional>
#include <string>

#include "pg/support/pg_headers.hpp"

namespace incview::pg {

struct StageProbe {
  bool found = false;  // no stage of that name (the rest unset)
  std::string version;
  bool has_downstream = false;
  int32 id = 0;
  bool records = false;      // a change record names the stage
  bool keys_queued = false;  // with a queue: a key or marker in incview.dirty_scope
};

// delta_queue: the quoted queue name of the cached record ("" none, nullopt: no probe of the
// queues). Catalog 0.2 only. As the extension owner.
std::optional<StageProbe> probe_stage(const std::string& name, const std::optional<std::string>& delta_queue);

}  // namespace incview::pg
