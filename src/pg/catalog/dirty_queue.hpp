// The dirty queue incview.dirty_scope, seen from the refresher. Consistency rule
// (docs/design.md): a queued key commits with the change it describes, so a refresher that
// deletes the key and then runs the stage query in a later statement sees the change.
#pragma once
#include "pg/catalog/catalog.hpp"
#include "pg/refresh/key_batch.hpp"

namespace incview::pg {

struct DirtySummary {
  bool every_scope = false;
  int64 keys = 0;
  int64 total_scopes = 0;  // incview.stage_state.scope_count (0 = unknown)
};
DirtySummary dirty_summary(const StageRecord& stage);

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

}  // namespace incview::pg
