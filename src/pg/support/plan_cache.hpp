// A bounded map of kept plans by key, for statements our code runs many times per backend
// (catalog statements in spi_exec, the scoped statements of small refresh batches). Plans of
// statements that are no longer run stay until the map is full; then all are freed together,
// but only at a moment when none of them is executing (a nested refresh may run inside one):
// callers hold an InUse while they execute a plan of the cache.
#pragma once
#include <string>
#include <unordered_map>
#include <vector>

#include "pg/support/pg_headers.hpp"

namespace incview::pg {

class PlanCache {
 public:
  // cursor_options: 0 for SPI_prepare's default, CURSOR_OPT_GENERIC_PLAN to plan once.
  PlanCache(size_t max_plans, int cursor_options) : max_plans_(max_plans), cursor_options_(cursor_options) {}
  PlanCache(const PlanCache&) = delete;
  PlanCache& operator=(const PlanCache&) = delete;

  // The plan kept under `key` for `sql`, prepared and kept now if needed; nullptr when the
  // map is full while one of its plans may be executing (the caller plans this once).
  SPIPlanPtr get(const std::string& key, const std::string& sql, std::vector<Oid>& types);

  // Marks a plan of this cache (or a statement that may run one) as executing.
  class InUse {
   public:
    explicit InUse(PlanCache& cache) : cache_(cache) { ++cache_.executing_; }
    ~InUse() { --cache_.executing_; }
    InUse(const InUse&) = delete;
    InUse& operator=(const InUse&) = delete;

   private:
    PlanCache& cache_;
  };

 private:
  size_t max_plans_;
  int cursor_options_;
  int executing_ = 0;
  std::unordered_map<std::string, SPIPlanPtr> plans_;
};

}  // namespace incview::pg
