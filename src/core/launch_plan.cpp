#include "core/launch_plan.hpp"

#include <algorithm>
#include <numeric>

namespace incview {

std::int64_t due_time(const DatabaseDemandFacts& d) {
  if (d.work_pending) return std::numeric_limits<std::int64_t>::min();
  std::int64_t due = d.next_due;
  if (d.dirtied) {
    due = std::min(due, d.next_due_if_dirty);
    if (d.min_max_lag_us > 0 && d.dirtied_at <= kNever - d.min_max_lag_us)
      due = std::min(due, d.dirtied_at + d.min_max_lag_us);
  }
  return due;
}

std::vector<std::size_t> launch_order(const std::vector<WaitingDatabase>& waiting, int free_places) {
  std::vector<std::size_t> order(waiting.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (waiting[a].waiting_since != waiting[b].waiting_since)
      return waiting[a].waiting_since < waiting[b].waiting_since;
    return waiting[a].id < waiting[b].id;
  });
  order.resize(static_cast<std::size_t>(std::clamp<long>(free_places, 0, static_cast<long>(order.size()))));
  return order;
}

}  // namespace incview
