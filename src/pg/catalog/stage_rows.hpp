// incview.stage rows outside loading a stage (catalog.hpp): what the DDL triggers and
// set_policy read and write. Every function runs as the extension owner under the safe
// search path (docs/design.md, "The catalog layer").
#pragma once
#include <optional>
#include <vector>

#include "pg/catalog/catalog.hpp"
#include "pg/support/spi.hpp"

namespace incview::pg {

// Reads: whether any stage exists (the DDL triggers' cheap way out).
bool any_stage();

// A stage whose definition view depends on an object the running ddl_command_end trigger's
// command renamed or moved (every stage with a view, for a schema).
struct RenamedDefinition {
  int32 id;
  Oid view;  // incview.stage.definition
  std::string search_path;
};

// Reads (pg_event_trigger_ddl_commands(), pg_depend, pg_rewrite).
std::vector<RenamedDefinition> stages_with_renamed_inputs();

// Writes: the stage's stored query (nothing when it is already this text).
void save_stage_query(int32 stage_id, const std::string& query);

// A stage whose table has a column of this name.
struct StageColumn {
  std::optional<std::string> stage;  // its name
  std::optional<std::string> table;  // its target, as regclass prints it
};

// Reads: the stage whose target is `target` and whose columns include `column`.
std::optional<StageColumn> stage_with_column(Oid target, const std::string& column);

// Reads: the names of the stages whose definition view or table the running sql_drop
// trigger's command dropped (pg_event_trigger_dropped_objects()), by id.
std::vector<std::string> stages_with_dropped_relations();

// Reads: the stage's scope columns in order.
std::vector<std::string> stage_scope_columns(int32 stage_id);

// Writes: the stage's refresh policy (mode, every, at, max_lag as given to set_policy),
// and clears incview.stage_state.next_attempt: a new policy is a fresh start for a
// failing stage.
void save_policy(int32 stage_id, const std::string& mode, const SpiArg& every, const SpiArg& at, const SpiArg& max_lag);

// Writes: the stage's retention (column text or NULL, keep interval or NULL, as given to
// set_retention), and an "every scope" marker into incview.dirty_scope when the new window
// is wider than the old one (or gone): rows retention removed come back only by a rebuild
// at the next refresh; a narrower window only needs apply_retention.
void save_retention(int32 stage_id, const SpiArg& column, const SpiArg& keep);

// ensure_fresh's glance (api_refresh.cpp, clean_at_a_glance): a stage with exactly one
// scope column, as text; all nullopt when `name` is no such stage.
struct SingleScopeStage {
  std::optional<std::string> id;
  std::optional<std::string> owner;  // its oid
  std::optional<std::string> kind;   // 'text' or the integer type's maximum; nullopt for another type
};

// Reads: the stage named `name` if it has a single scope column (incview.stage,
// pg_attribute). Read-only, with kept plans: it runs before every read ensure_fresh guards.
SingleScopeStage single_scope_stage(const std::string& name);

// Reads: the other half of ensure_fresh's glance at such a stage (`kind` from
// single_scope_stage): true when keys (jsonb) is a JSON array whose every element has the
// stage's clean shape — for 'text' a string, else a number spelled as an integer within
// the type's maximum — and neither one of them (as jsonb_build_array(key), the queue's
// form of a one-column key) nor an "every scope" marker is queued for the stage
// (incview.queued_keys: dirty_scope and the change records not yet collected). False for
// anything else: the caller then takes the full path, which casts and reports. Read-only,
// with kept plans.
bool no_key_queued_at_a_glance(int32 stage_id, Datum keys, const std::string& kind);

// Writes: a new stage's incview.stage row, its incview.stage_state row and (0.2 catalog)
// its incview.capture_mark row (so that two first collections take turns,
// captured_changes.hpp); returns its id. `row` is create_stage's values in the order of
// the INSERT: name, query, scope (JSON array), unique_key (JSON array, [] for none),
// columns (JSON array), target, engine, owner, search_path, policy, partition_by.
int32 insert_stage(const std::vector<SpiArg>& row);

// Reads: the names of the other stages that read this stage's table, sorted (drop_stage
// refuses or cascades to them: storage/stage_drop.hpp).
std::vector<std::string> stages_reading_table_of(const StageRecord& stage);

// Writes: deletes the stage's queued keys (incview.dirty_scope); the first step of dropping it.
void delete_queued_keys(int32 stage_id);

// Writes: deletes the stage's incview.stage_source and incview.stage rows, then (0.2
// catalog) the change records only this stage still needed (captured_changes.hpp).
void delete_stage_rows(int32 stage_id);

// Writes: the stage's engine (set_engine, when the delta engine is off).
void save_engine(int32 stage_id, const std::string& engine);

// Writes: the owner's override of the independence analysis (declare_independent).
void save_declared_independent(int32 stage_id, bool independent);

}  // namespace incview::pg
