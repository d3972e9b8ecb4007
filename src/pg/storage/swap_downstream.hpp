// The stages reading a table rebuilt by a storage swap (storage_swap.hpp): the swap writes
// no rows through the executor, so no capture trigger tells them what changed. Before the
// swap, while the old rows and the new heap are both at hand, the scopes whose rows changed
// are computed for each of them (core/swap_diff_sql.hpp) and queued; a stage the diff
// cannot serve gets one "every scope" marker, as every reader did before (docs/rebuild.md).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "pg/catalog/catalog.hpp"

namespace incview::pg {

struct DownstreamScopes {
  int32 stage_id = 0;
  bool every_scope = false;         // a marker: the keys could not (or should not) be computed
  std::optional<std::string> keys;  // jsonb[] text; none and no marker: nothing changed
  int64 count = 0;                  // keys in `keys`
  int64 cap = 0;                    // queue_keys' threshold for this stage
};

// Runs as the rebuilt stage's owner (restricted), who owns both the table and `new_heap`
// (quoted, qualified); the diff runs only built-in code and the unique index's equality
// operators. A reader gets a marker when its mapping is not 'same', a scope column is
// missing or of a non-built-in type, its owner may not SELECT the table or row security
// filters the owner's view of it, the table has no plain unique index to join on, the
// changed keys exceed its capture threshold (incview.capture_all_ratio of its scopes), or
// the diff fails. Nothing is queued here.
std::vector<DownstreamScopes> changed_downstream_scopes(const StageRecord& stage, const std::string& new_heap);

// Queues them (as the extension owner), in this transaction.
void queue_downstream_scopes(const std::vector<DownstreamScopes>& scopes);

}  // namespace incview::pg
