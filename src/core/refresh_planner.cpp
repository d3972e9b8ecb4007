#include "core/refresh_planner.hpp"

namespace incview {

RefreshMode plan_refresh(const RefreshInput& in) {
  if (!in.every_scope && in.dirty == 0) return RefreshMode::Nothing;
  if (in.every_scope || in.engine == "full") return RefreshMode::Full;
  if (in.engine != "auto") return RefreshMode::Batches;
  if (in.total > 0 && static_cast<double>(in.dirty) > in.full_ratio * static_cast<double>(in.total))
    return RefreshMode::Full;
  return RefreshMode::Batches;
}

const char* to_string(RefreshMode mode) {
  switch (mode) {
    case RefreshMode::Nothing: return "nothing";
    case RefreshMode::Batches: return "batches";
    case RefreshMode::Full: return "full";
  }
  return "?";
}

}  // namespace incview
