#include "pg/support/plan_cache.hpp"

#include "pg/support/guard.hpp"

namespace incview::pg {

SPIPlanPtr PlanCache::get(const std::string& key, const std::string& sql, std::vector<Oid>& types) {
  auto it = plans_.find(key);
  if (it != plans_.end()) return it->second;
  if (plans_.size() >= max_plans_) {
    if (executing_ > 0) return nullptr;  // one of them may be running: free them later
    for (auto& kv : plans_) {
      SPIPlanPtr p = kv.second;
      pg_call([&] { SPI_freeplan(p); });
    }
    plans_.clear();
  }
  SPIPlanPtr plan = nullptr;
  const char* text = sql.c_str();
  const int nargs = static_cast<int>(types.size());
  Oid* t = types.data();
  const int options = cursor_options_;
  pg_call([&] {
    plan = options != 0 ? SPI_prepare_cursor(text, nargs, t, options) : SPI_prepare(text, nargs, t);
    if (plan) SPI_keepplan(plan);
  });
  if (plan) plans_.emplace(key, plan);
  return plan;
}

}  // namespace incview::pg
