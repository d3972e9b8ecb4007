// Who runs what (docs/design.md, "Who runs as whom"; docs/security.md). Two kinds of SQL run inside pg_incview:
// - the stage owner's SQL (its query, mappings, conditions, casts to its types, index
//   expressions and triggers of its table): as_stage_owner — as that owner, with
//   SECURITY_RESTRICTED_OPERATION, under the stage's search_path (pg_temp explicit and
//   last), and every GUC it changes rolled back, the way REFRESH MATERIALIZED VIEW runs a
//   matview's query (CVE-2022-1552);
// - pg_incview's own catalog and queue work: as_extension_owner — over our tables and
//   jsonb only, search_path pinned to "pg_catalog, pg_temp" (functions and operators never
//   resolve through pg_temp, so only built-ins are reachable unqualified).
#pragma once
#include "pg/support/pg_headers.hpp"

namespace incview::pg {

// Runs a scope of code as another role. The destructor only restores two backend
// globals: it cannot fail. `restricted` adds SECURITY_RESTRICTED_OPERATION (no temp
// objects, no SET ROLE / SESSION AUTHORIZATION, no holdable cursors) until the scope ends.
class AsRole {
 public:
  explicit AsRole(Oid role, bool restricted = false);
  ~AsRole();
  AsRole(const AsRole&) = delete;
  AsRole& operator=(const AsRole&) = delete;

 private:
  Oid saved_user_;
  int saved_context_;
};

// Owner of the pg_incview extension in this database (cached per backend; the
// extension owner changes only through REASSIGN OWNED, after which a reconnect is needed).
Oid extension_owner();

// The search path a stage's SQL runs under: the stored one with pg_temp explicit and last,
// so an unqualified table name never resolves to somebody's temp table first.
std::string stage_search_path(const std::string& stored);

// The current session's effective search path in the stored form: schemas that exist,
// quoted, the session's own temp schema left out, pg_temp last.
std::string creator_search_path();

}  // namespace incview::pg

#include "pg/support/guard.hpp"
#include "pg/support/spi.hpp"

namespace incview::pg {

// Runs body at a new GUC nest level with the settings every statement of ours needs:
// - search_path as given (the stage's, or the safe one for catalog work);
// - extra_float_digits = 3: scope keys are built as jsonb from floats, and a writer's
//   extra_float_digits = 0 must not round them into another scope;
// - jit = off: refresh statements are many short plans over a batch; JIT compilation cost
//   more than it saved (a diff batch of 1000 patients went from 1.19 s to 0.33 s).
// Restored here on normal exit; on error the (sub)transaction abort that follows every
// error unwinds the nest level.
//
// A setting that already has the wanted effect is left alone (this runs per captured
// statement, and each set_config_option + its restore is measurable on the write path):
// any extra_float_digits > 0 already prints floats exactly (shortest round-trip form), and
// a nest level is only opened when something changes.
template <typename F>
void with_session_settings(const std::string& path, F&& body) {
  int level = -1;
  const char* p = path.c_str();
  pg_call([&] {
    const bool set_path = namespace_search_path == nullptr || strcmp(namespace_search_path, p) != 0;
    const bool set_digits = extra_float_digits <= 0;
    const bool set_jit = jit_enabled;
    if (!set_path && !set_digits && !set_jit) return;
    level = NewGUCNestLevel();
    if (set_path)
      (void)set_config_option("search_path", p, PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
    if (set_digits)
      (void)set_config_option("extra_float_digits", "3", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
    if (set_jit) (void)set_config_option("jit", "off", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
  });
  body();
  if (level >= 0) pg_call([&] { AtEOXact_GUC(true, level); });
}

// Catalog and queue work: as the extension owner, with a search_path no caller can
// plant objects in (what SECURITY DEFINER ... SET search_path would do).
inline constexpr const char* kSafeSearchPath = "pg_catalog, pg_temp";

template <typename F>
void as_extension_owner(F&& body) {
  AsRole role(extension_owner());
  CatalogPlans plans;  // our catalog statements: fixed texts, kept prepared
  with_session_settings(kSafeSearchPath, body);
}

// The stage owner's SQL: as `owner`, restricted, under the stage's search path, at a GUC
// nest level that is always rolled back (AtEOXact_GUC(false)): a set_config(..., false)
// or SET inside the owner's code never outlives it, in a writer's backend, a caller's
// session or a background worker. On error the enclosing (sub)transaction's abort
// unwinds the nest level and AsRole's destructor restores the user.
template <typename F>
void as_stage_owner(Oid owner, const std::string& stored_search_path, F&& body) {
  const std::string path = stage_search_path(stored_search_path);
  AsRole role(owner, true);
  CatalogPlans no_plans(false);  // the owner's SQL: only small batches keep plans (batch_plans.hpp)
  int level = 0;
  pg_call([&] { level = NewGUCNestLevel(); });
  with_session_settings(path, body);
  pg_call([&] { AtEOXact_GUC(false, level); });
}

}  // namespace incview::pg
