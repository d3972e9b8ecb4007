#include "pg/support/kept_plans.hpp"

#include <vector>

#include "core/error.hpp"
#include "pg/support/guard.hpp"

namespace incview::pg {

namespace {
// Never destroyed: the caches holding KeptPlans are statics of other files, destroyed at
// backend exit in an order no file controls, and each releases its plans here then. A list
// destroyed before them would be written after its end (a glibc "double free" that took the
// whole server down: test/pgtap/capture_writepath.sql).
std::vector<SPIPlanPtr>& released_list() {
  static auto* list = new std::vector<SPIPlanPtr>();
  return *list;
}
}  // namespace

SPIPlanPtr prepare_kept(const std::string& sql, int nargs, Oid* types) {
  SPIPlanPtr plan = nullptr;
  const char* text = sql.c_str();
  pg_call([&] {
    plan = SPI_prepare(text, nargs, types);
    if (plan) SPI_keepplan(plan);
  });
  if (!plan) throw Error(sqlstate::kInternalError, "pg_incview: could not prepare capture statement");
  return plan;
}

void run_kept(SPIPlanPtr plan, Datum* values, const char* nulls) {
  int rc = 0;
  pg_call([&] { rc = SPI_execute_plan(plan, values, nulls, false, 0); });
  if (rc < 0) throw Error(sqlstate::kInternalError, "pg_incview: capture statement failed");
}

void release_plan(SPIPlanPtr plan) noexcept {
  try {
    released_list().push_back(plan);
  } catch (...) {  // out of memory: leak the plan rather than fail here
  }
}

void free_released_plans() {
  std::vector<SPIPlanPtr>& released = released_list();
  while (!released.empty()) {
    SPIPlanPtr p = released.back();
    released.pop_back();
    pg_call([&] { SPI_freeplan(p); });
  }
}

}  // namespace incview::pg
