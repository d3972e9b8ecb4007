#include "pg/storage/swap_lock_log.hpp"

#include <chrono>
#include <cstdio>

#include "pg/support/guard.hpp"

extern "C" {
#include "access/xact.h"
}

namespace incview::pg {

namespace {

using Clock = std::chrono::steady_clock;

// One pending swap per backend at a time (a transaction rebuilds one stage per swap; a
// second swap in the same transaction reports the first one's lock as still held, since
// it is: the message is written when the first ends, which is when the lock goes).
struct PendingSwap {
  bool active = false;
  SubTransactionId subxact = InvalidSubTransactionId;
  Clock::time_point taken, swapped;
  double waited_ms = 0;
  char what[2 * NAMEDATALEN + 160] = {0};
};
PendingSwap pending;
bool callbacks_registered = false;

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

// Called by PostgreSQL at the end of the (sub)transaction: nothing here may throw.
void report(const char* how) {
  const double held = ms_since(pending.taken);
  const double swap = std::chrono::duration<double, std::milli>(pending.swapped - pending.taken).count();
  pending.active = false;
  ereport(DEBUG1, (errmsg("%s held ACCESS EXCLUSIVE for %.1f ms until %s", pending.what, held, how),
                   errdetail("waited %.1f ms for the lock (polling, never queued); the catalog swap took %.1f ms, "
                             "the rest of the hold is the rest of the transaction",
                             pending.waited_ms, pending.swapped == Clock::time_point{} ? held : swap)));
}

void on_xact(XactEvent event, void*) {
  if (!pending.active) return;
  if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT)
    report("commit");
  else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
    report("rollback");
}

void on_subxact(SubXactEvent event, SubTransactionId my_subid, SubTransactionId parent_subid, void*) {
  if (!pending.active || my_subid != pending.subxact) return;
  // The subtransaction that took the lock rolls back: the lock goes with it. It commits:
  // the lock passes to its parent.
  if (event == SUBXACT_EVENT_ABORT_SUB)
    report("the rollback of its subtransaction");
  else if (event == SUBXACT_EVENT_COMMIT_SUB)
    pending.subxact = parent_subid;
}

}  // namespace

void swap_lock_taken(const std::string& stage, const std::string& table, double waited_ms) {
  pg_call([&] {
    if (!callbacks_registered) {
      RegisterXactCallback(on_xact, nullptr);
      RegisterSubXactCallback(on_subxact, nullptr);
      callbacks_registered = true;
    }
    if (pending.active) return;  // an earlier swap's lock, still held: its report comes first
    pending.active = true;
    pending.subxact = GetCurrentSubTransactionId();
    pending.taken = Clock::now();
    pending.swapped = Clock::time_point{};
    pending.waited_ms = waited_ms;
    snprintf(pending.what, sizeof pending.what, "stage \"%s\": the storage swap of %s", stage.c_str(), table.c_str());
  });
}

void swap_lock_swapped() {
  if (pending.active && pending.swapped == Clock::time_point{}) pending.swapped = Clock::now();
}

}  // namespace incview::pg
