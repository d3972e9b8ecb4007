// The engine decision, in one place: how a stage's dirty scopes are re-derived (by batches
// of scopes or by one rebuild) and which engine writes the rows. Choosing by an estimated
// cost ratio (full_refresh_ratio) comes from the health-directory import scenario (seed 001,
// docs/design.md): batches over the dirty keys, a rebuild when most keys are dirty.
#pragma once
#include "core/no_postgres.hpp"

#include <cstdint>
#include <functional>

#include "core/stage_options.hpp"

namespace incview {

enum class RefreshMode { Nothing, Batches, Full };

// What the engine choice depends on, read from the stage's catalog row.
struct EngineFacts {
  Engine declared = Engine::Auto;  // incview.stage.engine
  bool scopes_independent = true;  // proven or declared by the owner (scope_pushdown)
  bool has_unique_key = false;
  bool has_downstream = false;  // other stages read its table
  bool delta_active = false;    // engine delta with its queue on (delta_engine.hpp)
  // Asked only when the answer matters (auto, with a unique key and readers): a catalog
  // lookup in PostgreSQL. Unset: not Citus.
  std::function<bool()> target_is_citus;
};

// The engine one batch of scopes is written with: Replace or Diff, or Full when batches are
// not right at all (scopes not shown independent, or engine full): the batch then becomes
// a rebuild.
Engine batch_engine(const EngineFacts& facts);

// Whether the diff statement may ever write a stage created with `declared` (create_stage
// checks that statement only then): engine diff; auto, which diffs once the stage has
// readers, except on Citus (batch_engine); any stage with a unique_key, which set_engine
// may switch to diff later.
bool diff_may_run(Engine declared, bool target_is_citus, bool has_unique_key);

// How a rebuild writes the table: Diff (one whole-table diff: only changed rows are
// written, which spares the stages reading it) for a diff stage, else Full (delete all,
// insert all).
Engine rebuild_engine(const EngineFacts& facts);

struct RefreshInput {
  EngineFacts facts;
  bool every_scope = false;  // an "every scope" marker is queued
  std::int64_t dirty = 0;    // distinct dirty keys queued
  std::int64_t total = 0;    // scopes in the stage (last counted); 0 = unknown
  double full_ratio = 0.5;   // incview.full_refresh_ratio
};

// Default of incview.full_refresh_ratio: the share of dirty scopes above which `auto`
// rebuilds. Re-measured with each change to either path (bench/rebuild.md, share sweep).
inline constexpr double kDefaultFullRefreshRatio = 0.25;

// Batches re-run the scoped query per key; past some share of dirty keys one full
// rebuild is cheaper (engine auto only). An "every scope" marker, scopes not shown
// independent or engine full always mean a rebuild.
RefreshMode plan_refresh(const RefreshInput& in);

const char* to_string(RefreshMode mode);

}  // namespace incview
