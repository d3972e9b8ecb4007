// One capture statement for several delta stages of one source (issue 18). Each delta stage's
// capture is an INSERT of the write statement's partial aggregates into its own queue
// (delta_plan.hpp, DeltaPlan::capture). Run one by one, a source with N delta stages costs
// every write statement N statements (executor start-up, snapshot, portal); joined as
// data-modifying CTEs of one statement, it costs one. The sub-statements of a WITH run on the
// same snapshot and none sees the others' rows: each reads only the source, its transition
// tables and the tables its stage joins, never another stage's queue, so the result is the
// same as running them one after the other.
#pragma once
#include "core/no_postgres.hpp"

#include <string>
#include <vector>

namespace incview {

// `WITH "__incview_c1" AS (<insert 1>), ... SELECT 1`: runs every INSERT once. One insert
// alone is returned as it is. Throws Error(XX000) when `inserts` is empty or one is empty.
std::string shared_delta_capture(const std::vector<std::string>& inserts);

}  // namespace incview
