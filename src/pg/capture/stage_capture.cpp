#include "pg/capture/stage_capture.hpp"

#include <algorithm>

#include "pg/capture/delta_direct.hpp"
#include "pg/support/guard.hpp"
#include "pg/support/role.hpp"
#include "pg/support/settings.hpp"
#include "pg/support/spi.hpp"

extern "C" {
#include "access/xact.h"
#include "commands/trigger.h"
#include "storage/lmgr.h"
#include "utils/rls.h"
}

namespace incview::pg {

namespace {

// Raw keys a lookup mapping may produce for one statement before it counts as "every
// scope": at least this many, more for big statements (a bulk write mapping one key per
// row is not a fan-out), so a mapping that explodes one row into millions of keys is cut
// short instead of collected.
constexpr int64 kLookupRawKeyFloor = 100000;
constexpr int64 kLookupRawKeysPerRow = 16;

int64 stage_threshold(const StageCapture& sc) { return marker_threshold(sc.scopes); }

CaptureSize size_for(int64 rows, int64 threshold) {
  if (rows <= 1) return CaptureSize::One;
  if (rows <= threshold) return CaptureSize::Few;  // distinct keys <= rows: never a marker
  return CaptureSize::Many;
}

// Phase 1 as the stage owner (restricted, its GUC changes rolled back), phase 2 as us.
void capture_as_owner(StageCapture& sc, CaptureEvent event, int64 rows, int64 threshold) {
  const int e = static_cast<int>(event);
  const bool lookup = sc.spec.kind == MappingKind::Lookup;
  const int64 cap = std::max(kLookupRawKeyFloor, rows * kLookupRawKeysPerRow);
  Datum args[1] = {Int64GetDatum(cap + 1)};
  Datum keys = 0;
  bool isnull = true;
  int64 raw = 0;
  as_stage_owner(sc.stage_owner, sc.search_path, [&] {
    if (!sc.owner_plans.plan[e]) {
      Oid types[1] = {INT8OID};
      sc.owner_plans.plan[e] =
          prepare_kept(lookup ? lookup_keys_statement(sc.spec, event) : owner_keys_statement(sc.spec, event), 1, types);
    }
    run_kept(sc.owner_plans.plan[e], args, nullptr);
    keys = spi_datum(0, 1, &isnull);
    raw = spi_int8(0, 2);
  });
  if (lookup && raw > cap) {
    sc.queue.queue_marker(event, sc.stage_id, threshold);
    return;
  }
  if (isnull) return;  // no key
  sc.queue.queue_keys(event, sc.stage_id, threshold, keys);
}

// Engine delta: the statement's partials per group into the stage's queue, in one
// statement run as the stage owner (restricted, GUCs rolled back), like a lookup mapping:
// the WHERE clause and the aggregates' arguments are the owner's SQL. TRUNCATE, and rows
// row-level security would hide from the owner, queue an "every scope" marker instead.
//
// A join's side: Δ(A⋈B) = ΔA⋈B holds with B as it is right after A's statement, which is what
// the trigger reads when statements and their triggers alternate. When B has a statement of
// its own whose AFTER trigger has not fired yet (a foreign-key cascade from A's statement, a
// data-modifying WITH writing both, a user trigger on A writing B), B already holds that
// statement's rows and one of the two deltas would be computed against the wrong state: such
// a statement queues an "every scope" marker (a rebuild that discards the queued deltas).
//
// Writers of two sides in parallel: each would read the other side without the other's
// uncommitted rows, and neither delta would cover the pair (a fact inserted for a tag whose
// name another transaction is changing). So the sides order themselves on the stage's queue:
// the first table in FROM (the facts, usually) captures under the ROW EXCLUSIVE lock its
// queue INSERT takes, the other sides first take SHARE ROW EXCLUSIVE, which conflicts with
// both: a capture waits for the other sides' writers that have captured to commit, and its
// statement's snapshot, taken after the wait (READ COMMITTED), sees their rows. Writers of the
// first side still run in parallel with each other. A transaction snapshot (REPEATABLE READ,
// SERIALIZABLE) cannot see what it waited for: such a writer queues a marker.
void capture_delta(StageCapture& sc, Oid relid, CaptureEvent event, int64 threshold) {
  const bool rls = event != CaptureEvent::Truncate && delta_rls_hides_rows(sc.stage_owner, relid);
  const bool interleaved = delta_interleaved(sc);
  if (!interleaved && event != CaptureEvent::Truncate) delta_wait_for_writers(sc);
  if (event == CaptureEvent::Truncate || rls || interleaved) {
    sc.queue.queue_marker(event, sc.stage_id, threshold);
    return;
  }
  const int e = static_cast<int>(event);
  as_stage_owner(sc.stage_owner, sc.search_path, [&] {
    if (!sc.owner_plans.plan[e]) sc.owner_plans.plan[e] = prepare_kept(sc.delta[e], 0, nullptr);
    run_kept(sc.owner_plans.plan[e], nullptr, nullptr);
  });
}

}  // namespace

bool delta_rls_hides_rows(Oid owner, Oid relid) {
  int rls = RLS_NONE;
  pg_call([&] { rls = check_enable_rls(relid, owner, true); });
  return rls == RLS_ENABLED;
}

bool delta_interleaved(const StageCapture& sc) {
  const bool joined = !sc.delta_pending_check.empty();
  bool interleaved = joined && IsolationUsesXactSnapshot();
  for (Oid other : sc.delta_pending_check)
    pg_call([&] { interleaved = interleaved || AfterTriggerPendingOnRel(other); });
  return interleaved;
}

void delta_wait_for_writers(const StageCapture& sc) {
  if (!sc.delta_waits_for_writers || !OidIsValid(sc.delta_queue)) return;
  const Oid queue = sc.delta_queue;
  pg_call([&] { LockRelationOid(queue, ShareRowExclusiveLock); });
}

bool capture_stage_direct(StageCapture& sc, const TriggerData* td, Oid relid, CaptureEvent event) {
  // Only single-table stages have direct parts: no join side to wait for or check.
  if (sc.delta[0].empty() || sc.direct.empty() || !sc.delta_pending_check.empty() || sc.delta_waits_for_writers)
    return false;
  if (event == CaptureEvent::Truncate) return false;
  if (delta_rls_hides_rows(sc.stage_owner, relid)) return false;  // the statement path queues the marker
  return capture_delta_direct(sc, td, event);
}

void capture_stage(StageCapture& sc, Oid relid, CaptureEvent event, int64 rows) {
  const int64 threshold = stage_threshold(sc);
  if (!sc.delta[0].empty()) {
    capture_delta(sc, relid, event, threshold);
    return;
  }
  const bool owner_code = event != CaptureEvent::Truncate && (sc.spec.kind == MappingKind::Lookup ||
                                                              (sc.spec.kind == MappingKind::Same && !sc.builtin_types));
  if (owner_code) {
    // The owner's code would see every changed row, including rows row-level security
    // hides from the owner: then it does not run, and the statement dirties every scope
    // (the refresh reads the source as the owner, under the same policies).
    int rls = RLS_NONE;
    const Oid owner = sc.stage_owner;
    pg_call([&] { rls = check_enable_rls(relid, owner, true); });
    if (rls == RLS_ENABLED)
      sc.queue.queue_marker(event, sc.stage_id, threshold);
    else
      capture_as_owner(sc, event, rows, threshold);
    return;
  }
  const CaptureSize size = sc.spec.kind == MappingKind::Same ? size_for(rows, threshold) : CaptureSize::Many;
  sc.queue.queue_changed_keys(sc.spec, event, size, sc.stage_id, threshold);
}

// Unknown or tiny stages never collapse: their keys are cheap.
int64 marker_threshold(int64 scopes) {
  if (scopes < 100) return INT64_MAX;
  return static_cast<int64>(settings.capture_all_ratio * static_cast<double>(scopes));
}

}  // namespace incview::pg
