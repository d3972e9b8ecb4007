// Reading and writing pg_incview's catalog tables (schema incview).
#pragma once
#include "pg/support/pg_headers.hpp"

#include "core/stage_options.hpp"
#include "core/stage_partitioning.hpp"
#include "core/stage_sql.hpp"
#include "pg/support/role.hpp"

namespace incview::pg {

struct StageRecord {
  int32 id = 0;
  std::string name;
  Engine engine = Engine::Auto;  // as declared (incview.stage.engine)
  Oid target = InvalidOid;
  Oid owner = InvalidOid;
  std::string search_path;  // the creator's search_path: the stage's SQL always runs under it
  // Scope independence (issue 17): whether a scoped refresh is right for this query.
  // refresh scope by scope: proven, or declared by the owner (false when never analyzed)
  bool scope_pushdown = true;
  bool independence_known = true;     // false: never analyzed (refreshes rebuild and analyze)
  bool declared_independent = false;  // the owner's override (incview.declare_independent)
  std::string independence_problem;   // what the analysis found ("" when proven)
  bool has_downstream =
      false;  // other stages read its table  // false: a source's scans never see the scope filter (see plan_reach)
  StageShape shape;             // query, quoted target, columns, scope (with types), unique_key
  StagePartitioning partition;  // none unless created with partition_by
  std::string target_schema;    // unquoted parts of the target's name
  std::string target_table;
  std::vector<Oid> scope_types;  // element type of each scope column
  // Engine delta (delta_engine.hpp), when on: shape.query is the query the engine builds the
  // table from and shape.columns ends with its delta_hidden hidden columns.
  std::string delta_queue;      // quoted queue table; empty when the delta engine is off
  std::string delta_fold;       // the fold statement
  std::string delta_fold_fast;  // the fold of the usual case (empty: none, fold only)
  std::string delta_fold_one;   // the fold of one queued row (empty: none)
  size_t delta_hidden = 0;
};

// The catalog versions this library serves: the extension's default_version, and the one
// before it for the window between installing the library and ALTER EXTENSION ... UPDATE
// (0.1 lacks refresh_log.owner; every other difference is in SQL objects only).
inline constexpr const char* kCatalogVersion = "0.2";

// The installed version of pg_incview's SQL objects; ERROR 55000 for one this library
// does not serve.
std::string check_catalog_version();

// Whether the catalog is at 0.2 (refresh_log.owner, incview.stages.capture_off), not 0.1.
bool catalog_is_0_2();

// Loads a stage by name; ERROR 42704 naming it when there is none. with_summary (the
// refresh call): the statement that checks the cached record's version also reads what is
// queued for the stage, for the dirty_summary that follows (dirty_queue.hpp).
StageRecord load_stage(const std::string& name, bool with_summary = false);
std::optional<StageRecord> find_stage(const std::string& name, bool with_summary = false);

// ERROR 42501 unless the current user has the privileges of the stage's owner.
void check_stage_owner(const StageRecord& stage, const char* action);

// load_stage + check_stage_owner + an ERROR when its table was dropped behind our back.
StageRecord load_owned_stage(const std::string& name, const char* action, bool with_summary = false);

// Runs body as the stage's owner, restricted, under its search path (role.hpp): every
// entry point that runs a stage's SQL does its work inside this, whoever called it.
template <typename F>
void as_owner_of(const StageRecord& stage, F&& body) {
  as_stage_owner(stage.owner, stage.search_path, body);
}

// format_type of a column of a table, nullopt when there is no such column.
std::optional<std::string> column_type(Oid table, const std::string& column);

struct RefreshStats {
  std::string engine;
  int64 scopes = 0;
  int64 deleted = 0;
  int64 inserted = 0;
  int64 updated = 0;
  int64 scope_count = -1;  // scopes of the table after a rebuild, when it counted them (-1: not)
};

// Appends to incview.refresh_log and updates incview.stage_state (as the extension owner).
// keep_failure: an earlier step of this same run failed, so a later successful step must
// not report the stage idle (its failed keys are still queued).
void log_refresh(const StageRecord& stage, const RefreshStats& stats, double seconds,
                 const std::optional<std::string>& error, bool keep_failure = false);

// Records a queued key the refresh had to drop (it cannot be read as the scope types):
// a refresh_log row with the error, and the stage's last_error.
// incview.stage_state.scope_count: the exact number of scopes in the stage's table.
void save_scope_count(int32 stage_id, int64 count);

// The verdict of the scope independence analysis (query/explain.cpp): no problem means
// independent. A 0.1 catalog keeps the verdict only.
void save_independence(int32 stage_id, const std::optional<std::string>& problem);

void log_dropped_key(const StageRecord& stage, const std::string& message);

}  // namespace incview::pg
