// The dirty queue incview.dirty_scope, seen from the refresher (and the scheduler's
// removal of keys no stage will consume, at the end). Consistency rule
// (docs/design.md): a queued key commits with the change it describes, so a refresher that
// deletes the key and then runs the stage query in a later statement sees the change.
#pragma once
#include "pg/catalog/catalog.hpp"
#include "pg/refresh/key_batch.hpp"

namespace incview::pg {

// What is queued for the stage, in one statement (one snapshot, one executor start-up: it
// runs on every refresh call, issue 12 item 4): its keys and markers and, for a delta
// stage, whether its delta queue holds a row (the probe that spares an empty fold).
struct DirtySummary {
  bool every_scope = false;
  int64 keys = 0;
  int64 total_scopes = 0;      // incview.stage_state.scope_count (0 = unknown)
  bool deltas_queued = false;  // a delta stage's queue may hold a row (false: it is empty, or no delta stage)
};
DirtySummary dirty_summary(const StageRecord& stage);

// The summary read by the stage's load moments ago, in the statement that checked the stage
// row's version (find_stage with the summary: incview.refresh, issue 13's one-row target):
// dirty_summary takes it instead of running its own statement when it is for this stage, in
// this transaction, nothing of this transaction's own was written since (the command counter
// has not moved: a collection of change records writes keys) and it was not used yet. It was
// read before the stage's lock: what it saw queued is either still queued when the lock is
// granted, or was consumed by a refresh that committed before the lock was granted; what it
// did not see was committed after its snapshot, and waits for the next refresh, as if it had
// come a moment later (the argument of the delta probe, dirty_summary).
void note_dirty_summary(int32 stage_id, const DirtySummary& summary);

// The summary columns find_stage appends to its version check (over incview.stage s), for a
// stage whose delta queue is `delta_queue` ("" for none); summary_from_row reads them back:
// the summary when nothing is in the key queue, nullopt when keys or a marker are (then
// dirty_summary counts them with its own statement).
std::string summary_columns(const std::string& delta_queue);
std::optional<DirtySummary> summary_from_row(int first_column);

// Takes the next batch of at most `limit` dirty keys after `after` (keyset order over the
// jsonb keys; nullopt = from the start) and deletes their queue rows in the same
// statement. Leaves the typed keys in SPI_tuptable and returns the batch and the last key.
struct DirtyBatch {
  std::vector<KeyBatch> batches;  // zero or one batch
  std::optional<std::string> last_key;
  bool full = false;  // as many keys as the limit: more may be queued past last_key
};
DirtyBatch take_dirty_batch(const StageRecord& stage, const std::optional<std::string>& after, int64 limit);

// The batch's keys in the queue's form (jsonb[]), built as the stage owner; nullopt when
// the batch is empty.
std::optional<Datum> queue_keys_of(const StageRecord& stage, const KeyBatch& batch);

// Whether any of these keys (jsonb[]) is queued for the stage, or an "every scope" marker.
bool any_queued(const StageRecord& stage, Datum keys);

// Removes queued keys a refresh of these scopes makes redundant.
void consume_dirty_keys(const StageRecord& stage, const KeyBatch& batch);
// Removes every queued key (and marker) of the stage: before a full rebuild. Collects its
// change records first unless the caller just did (collected = true: a refresh run's first
// step, in the same transaction; records committed since wait for the next collection).
void consume_all_dirty(const StageRecord& stage, bool collected = false);

// Removes the queued keys whose scope column at `pos` (its place in the stage's scope)
// is `value` (as text): rebuild_partition makes that list partition fresh. Does not
// collect change records (the caller does).
void consume_partition_keys(const StageRecord& stage, size_t pos, const std::string& value);

// Writes: deletes the keys queued for stages that no longer exist. drop_stage deletes its
// stage's keys, but a writer whose transaction was open on a source another stage still
// reads (drop_stage does not wait for those: no DROP TRIGGER) queued keys for it that
// commit after the drop, and nothing would ever consume them (test/scenario/orphan_keys.sh).
// Runs as the caller, the scheduler (next_due.hpp's context), not as the extension owner.
void forget_keys_of_dropped_stages();

}  // namespace incview::pg
