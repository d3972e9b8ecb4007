// Prepared statements kept for the life of a backend by a cache that a relcache callback may
// reset at any time (capture's per-source cache): a reset must not free a plan that a
// running statement is executing, and a callback may call no PostgreSQL function. So a
// KeptPlans set only hands its plans over to a list when it dies, and the owner of the
// cache frees that list when nothing runs (free_released_plans).
#pragma once
#include "pg/support/pg_headers.hpp"

namespace incview::pg {

// SPI_prepare + SPI_keepplan; throws when the text does not prepare.
SPIPlanPtr prepare_kept(const std::string& sql, int nargs, Oid* types);

// SPI_execute_plan (read-write, all rows); throws on an SPI error code.
void run_kept(SPIPlanPtr plan, Datum* values, const char* nulls);

// A fixed number of plan slots, filled on first use.
template <int N>
struct KeptPlans {
  SPIPlanPtr plan[N] = {};
  KeptPlans() = default;
  KeptPlans(const KeptPlans&) = delete;
  KeptPlans& operator=(const KeptPlans&) = delete;
  ~KeptPlans();
};

// Hands a plan to the list freed by free_released_plans (no PostgreSQL call; out of memory:
// the plan leaks rather than throwing from a destructor).
void release_plan(SPIPlanPtr plan) noexcept;

// SPI_freeplan for every released plan: call only when no kept plan runs.
void free_released_plans();

template <int N>
KeptPlans<N>::~KeptPlans() {
  for (SPIPlanPtr p : plan)
    if (p) release_plan(p);
}

}  // namespace incview::pg
