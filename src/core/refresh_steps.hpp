// One refresh run as a sequence of steps over the dirty queue in keyset order: the one rule
// of the loop (issue 15). incview.refresh (all steps in one transaction) and the scheduler's
// workers (one transaction per step) run it with run_steps; incview.refresh_all, a PL/pgSQL
// procedure because it COMMITs between steps, carries a StepRun from one call of
// incview._refresh_all_step to the next and stops when that says the run is over.
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

// Where a run stands between its steps: what the next step is given, and what the run has
// done so far.
struct StepRun {
  std::optional<std::string> after;  // keyset position to continue after; nullopt: the start
  bool failed = false;               // an earlier step of this run failed
  std::int64_t scopes = 0;           // re-derived so far (a rebuild's -1 not counted)

  // Takes a step's result; true when the run goes on (the step left a last key).
  bool advance(const StepResult& result) {
    failed = failed || result.failed;
    if (result.scopes > 0) scopes += result.scopes;
    after = result.last_key;
    return after.has_value();
  }
};

// Runs step(after, run_failed) from the start of the queue (after = nullopt) until a step
// says the run is over (last_key = nullopt), or step returns nullopt to stop it early
// (shutdown, the stage dropped). run_failed tells a step that an earlier one failed, so it
// keeps the failure visible. Returns the scopes re-derived (a rebuild's -1 not counted).
template <typename Step>
std::int64_t run_steps(Step&& step) {
  StepRun run;
  for (;;) {
    const std::optional<StepResult> result = step(run.after, run.failed);
    if (!result || !run.advance(*result)) break;
  }
  return run.scopes;
}

}  // namespace incview
