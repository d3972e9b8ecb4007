// Kept plans for the scoped statements of small batches (issue 12, item 4: the freshness
// lag of a continuous stage). Under a steady stream of writes the scheduler refreshes a few
// keys per pass, and planning the stage's DELETE and INSERT again for every pass was a
// fixed cost of each (bench/fixed_cost.md, "Kept plans for small batches").
//
// A batch of at most kKeptPlanMaxKeys keys runs a generic plan prepared once per backend
// (the keys are a parameter: the index plan a few keys want); a larger batch is planned
// with its keys, as every batch was before, because its best plan depends on them.
//
// A kept plan never outlives what it was made from:
//  - it is found by the statement's text (the stage's query and target are in it), the
//    role running it and the search path in force: a new query (alter_stage), a new owner
//    or a new search path looks up another plan;
//  - PostgreSQL's plan cache replans it when a table, view, index or inlined function it
//    depends on changes (DDL, CREATE OR REPLACE), and when row security depends on the role;
//  - privileges are checked at every execution, as the stage's owner.
// It runs exactly where the statement did: as the stage's owner, restricted, GUCs rolled
// back (as_owner_of). Not used when Citus is installed (it plans distributed statements
// its own way).
#pragma once
#include "pg/support/spi.hpp"

namespace incview::pg {

inline constexpr int64 kKeptPlanMaxKeys = 100;

// spi_exec of a scoped statement over a batch of `keys` keys, through a kept generic plan
// when the batch is small (see above).
uint64 spi_exec_batch(const std::string& sql, const std::vector<SpiArg>& args, int64 keys);

}  // namespace incview::pg
