// The number of scopes in a stage's table, counted after a full build: auto's
// batches-or-rebuild choice (core/refresh_planner.hpp) and capture's "every scope" marker
// threshold compare with it. Above the catalog (which stores it) and capture (whose cached
// per-stage settings it invalidates), so neither calls up into the other.
#pragma once
#include "pg/catalog/catalog.hpp"

namespace incview::pg {

// Counts, stores and tells capture; returns the count.
int64 record_scope_count(const StageRecord& stage);

}  // namespace incview::pg
