// The number of scopes in a stage's table, counted after a full build: auto's
// batches-or-rebuild choice (core/refresh_planner.hpp) and capture's "every scope" marker
// threshold compare with it. Above the catalog (which stores it) and capture (whose cached
// per-stage settings it invalidates), so neither calls up into the other.
#pragma once
#include "pg/catalog/catalog.hpp"

namespace incview::pg {

// Counts, stores and tells capture; returns the count. `relation` (quoted, qualified):
// count there instead, e.g. a rebuild's new heap before it is swapped in (so the count does
// not scan the table under the swap's lock).
int64 record_scope_count(const StageRecord& stage, const std::string& relation = "");

// Stores and tells capture a count already known (counted while the rows were written,
// storage/scope_tally.hpp); returns it.
int64 record_known_scope_count(const StageRecord& stage, int64 count);

}  // namespace incview::pg
