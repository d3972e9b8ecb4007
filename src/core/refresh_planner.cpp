#include "core/refresh_planner.hpp"

namespace incview {

Engine batch_engine(const EngineFacts& facts) {
  // Scopes not shown independent (and not declared so by the owner): only a rebuild is
  // right, whatever the engine.
  if (!facts.scopes_independent) return Engine::Full;
  // Delta stages re-derive queued scopes (markers, refresh_scopes) like replace, after
  // settling their delta queue (delta_engine.hpp).
  if (facts.delta_active || facts.declared == Engine::Delta) return Engine::Replace;
  if (facts.declared != Engine::Auto) return facts.declared;
  // diff writes only rows that changed, which spares the stages reading this one (their
  // capture sees only real changes); without readers, replace is cheaper. With or without
  // a unique_key: without one, diff pairs rows as a multiset.
  if (!facts.has_downstream) return Engine::Replace;
  // Citus refuses the diff's UPDATE on a distributed table (docs/citus.md).
  return facts.target_is_citus && facts.target_is_citus() ? Engine::Replace : Engine::Diff;
}

bool diff_may_run(Engine declared, bool target_is_citus, bool has_unique_key) {
  if (declared == Engine::Diff || has_unique_key) return true;
  return declared == Engine::Auto && !target_is_citus;
}

Engine rebuild_engine(const EngineFacts& facts) { return facts.declared == Engine::Diff ? Engine::Diff : Engine::Full; }

RefreshMode plan_refresh(const RefreshInput& in) {
  if (!in.every_scope && in.dirty == 0) return RefreshMode::Nothing;
  if (in.every_scope || !in.facts.scopes_independent || in.facts.declared == Engine::Full) return RefreshMode::Full;
  if (in.facts.declared != Engine::Auto) return RefreshMode::Batches;
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
