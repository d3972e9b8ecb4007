// One refresh run as a sequence of steps over the dirty queue in keyset order: the one copy
// of the loop that incview.refresh (all steps in one transaction) and the scheduler's
// workers (one transaction per step) share (issue 15).
#pragma once
#include "core/no_postgres.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace incview {

struct StepResult {
  std::int64_t scopes = 0;              // scopes re-derived by this step (-1: full rebuild)
  std::optional<std::string> last_key;  // keyset position to continue after; nullopt = done
  bool failed = false;
};

// Runs step(after, run_failed) from the start of the queue (after = nullopt) until a step
// says the run is over (last_key = nullopt), or step returns nullopt to stop it early
// (shutdown, the stage dropped). run_failed tells a step that an earlier one failed, so it
// keeps the failure visible. Returns the scopes re-derived (a rebuild's -1 not counted).
template <typename Step>
std::int64_t run_steps(Step&& step) {
  std::int64_t total = 0;
  bool failed = false;
  std::optional<std::string> after;
  do {
    const std::optional<StepResult> result = step(after, failed);
    if (!result) break;
    failed = failed || result->failed;
    if (result->scopes > 0) total += result->scopes;
    after = result->last_key;
  } while (after);
  return total;
}

}  // namespace incview
