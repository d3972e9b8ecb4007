// Decides how a stage's dirty scopes are re-derived (seed 001's cost ratio, made explicit).
#pragma once
#include "core/no_postgres.hpp"

#include <cstdint>
#include <string>

namespace incview {

enum class RefreshMode { Nothing, Batches, Full };

struct RefreshInput {
  std::string engine;          // auto | replace | diff | full
  bool every_scope = false;    // an "every scope" marker is queued
  std::int64_t dirty = 0;      // distinct dirty keys queued
  std::int64_t total = 0;      // scopes in the stage (last counted); 0 = unknown
  double full_ratio = 0.5;     // incview.full_refresh_ratio
};

// Default of incview.full_refresh_ratio: the share of dirty scopes above which `auto`
// rebuilds. Re-measured with each change to either path (bench/rebuild.md, share sweep).
inline constexpr double kDefaultFullRefreshRatio = 0.25;

// Batches re-run the scoped query per key; past some share of dirty keys one full
// rebuild is cheaper. An "every scope" marker always means a full rebuild.
RefreshMode plan_refresh(const RefreshInput& in);

const char* to_string(RefreshMode mode);

}  // namespace incview
