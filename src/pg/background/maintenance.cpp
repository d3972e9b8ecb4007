// The scheduler's housekeeping (maintenance.hpp). Each piece commits in small transactions
// of its own and loads the stage anew in each, so a stage dropped or re-owned meanwhile is
// seen, and a failing piece never holds back the refreshes of the next pass.
#include "pg/background/maintenance.hpp"

#include <algorithm>

#include "pg/background/worker_common.hpp"
#include "pg/capture/idle_capture.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/catalog/next_due.hpp"
#include "pg/refresh/delta_engine.hpp"
#include "pg/storage/retention.hpp"
#include "pg/support/settings.hpp"
#include "pg/support/subxact.hpp"

extern "C" {
#include "postmaster/interrupt.h"
#include "utils/timestamp.h"
}

namespace incview::pg {

bool apply_due_retention() {
  std::vector<std::string> names;
  in_transaction([&] { names = stages_due_for_retention(); });
  for (const auto& name : names) {
    report_activity("pg_incview: removing expired rows of stage \"" + name + "\"");
    // One transaction per step, each loading the stage and switching to its owner anew
    // (the stage may be dropped or change owner between batches).
    auto step = [&](auto&& body) {
      bool gone = false;
      in_transaction([&] {
        auto stage = find_stage(name);
        if (!stage || stage->shape.target.empty() || stage->shape.retention_column.empty())
          gone = true;
        else
          body(*stage);
      });
      return !gone;
    };
    if (!step([](const StageRecord& s) { (void)drop_expired_partitions_as_owner(s); })) continue;
    bool more = true;
    while (more && !ShutdownRequestPending)
      if (!step([&](const StageRecord& s) { more = delete_expired_batch(s) >= kRetentionBatch; })) more = false;
    (void)step([](const StageRecord& s) { mark_retention_applied(s); });
  }
  return !names.empty();
}

// A batch of incview.batch_size groups per transaction (each one fold statement under the
// stage's lock: writers never wait, a refresh of the stage waits one batch at most).
// Bounded by the groups folded when it starts, as incview.rederive is.
bool apply_due_rederive() {
  std::vector<std::string> names;
  in_transaction([&] {
    if (!catalog_is_0_2()) return;
    names = stages_due_for_rederive();
  });
  const int64 limit = std::max(settings.batch_size, 1);
  for (const auto& name : names) {
    report_activity("pg_incview: re-deriving folded groups of stage \"" + name + "\"");
    int64 todo = -1;
    bool more = true;
    while (more && !ShutdownRequestPending) {
      in_transaction([&] {
        auto stage = find_stage(name);
        if (!stage || stage->shape.target.empty() || !rederives(*stage)) {
          more = false;
          return;
        }
        // A batch that fails (a source dropped meanwhile, the owner's SQL raising) is
        // reported and tried again at the next cadence, not on every pass.
        auto error = in_subtransaction([&] {
          if (todo < 0) todo = folded_groups(*stage);
          more = todo > 0 && rederive_batch(*stage, limit) >= limit;
        });
        todo -= limit;
        if (error) {
          more = false;
          const std::string msg = "pg_incview: re-derive of stage \"" + name + "\" failed: " + error->message;
          pg_call([&] { ereport(WARNING, (errmsg("%s", msg.c_str()))); });
        }
        if (!more) mark_rederived(*stage);
      });
    }
  }
  return !names.empty();
}

// Each table in a transaction of its own (its ACCESS EXCLUSIVE lock lasts only the DROP
// TRIGGERs), and only a table nobody holds a lock on: the scheduler never waits for one.
void drop_idle_capture_when_free() {
  static TimestampTz last = 0;
  const TimestampTz now = GetCurrentTimestamp();
  if (last != 0 && !TimestampDifferenceExceeds(last, now, 10000)) return;
  last = now;
  std::vector<Oid> tables;
  in_transaction([&] { tables = idle_capture_tables(); });
  for (Oid t : tables) {
    report_activity("pg_incview: dropping idle capture triggers");
    in_transaction([&] { (void)drop_capture_if_idle({t}, IdleLock::IfFree); });
  }
}

}  // namespace incview::pg
