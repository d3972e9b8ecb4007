// Indexes declared on a stage's table (the notification service scenario, seed 004: the indexes its read queries need).
#pragma once
#include "pg/catalog/catalog.hpp"

namespace incview::pg {

// Checks the definition ("updated_at DESC", "(org_id, cluster, notified_at DESC)"),
// creates the index (on every partition too) and records it; returns the index name.
std::string add_declared_index(const StageRecord& stage, const std::string& definition);

void drop_declared_index(const StageRecord& stage, const std::string& index_name);

}  // namespace incview::pg
