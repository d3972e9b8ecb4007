// DDL on what a stage reads and on a stage's own table (issue 11, item 5): the event
// triggers that, with the definition views of stage_definition.hpp, give stages what views
// have.
//
//  - ddl_command_start (ALTER TABLE): a column of a stage's table may not be dropped,
//    renamed or retyped by hand (the stage writes every column on each refresh); the
//    stage's query is changed with incview.alter_stage;
//  - ddl_command_end (ALTER ... RENAME, ALTER ... SET SCHEMA, ALTER TABLE): the stored
//    query of every stage whose view depends on the renamed object becomes the view's
//    current definition, and capture keeps fitting the sources: a renamed scope column of
//    a 'same' source is read under its new name (a lookup mapping), and a mapping that no
//    longer fits its source falls back to "every change dirties every scope" with a
//    WARNING (never a writer's statement failing in our trigger, never a stale stage);
//  - sql_drop: a stage whose definition view or table was dropped (DROP TABLE src CASCADE,
//    DROP TABLE of the stage's table, DROP OWNED) goes with it: its capture triggers,
//    catalog rows, queued keys and table, and the stages reading its table after it; and a
//    mapping naming something dropped falls back as after ALTER.
//
// Unlike the partition triggers of source_ddl.cpp these may fail the user's DDL: a
// half-registered stage is worse than a refused statement.
#include "core/capture_sql.hpp"
#include "core/sql_text.hpp"
#include "pg/capture/capture.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/ddl/ddl_event.hpp"
#include "pg/support/guard.hpp"
#include "pg/support/role.hpp"
#include "pg/support/spi.hpp"
#include "pg/catalog/source_rows.hpp"
#include "pg/catalog/stage_definition.hpp"
#include "pg/catalog/stage_rows.hpp"
#include "pg/catalog/stage_sources.hpp"
#include "pg/storage/stage_drop.hpp"
#include "pg/support/subxact.hpp"

extern "C" {
#include "commands/event_trigger.h"
PG_FUNCTION_INFO_V1(incview_on_stage_ddl_start);
PG_FUNCTION_INFO_V1(incview_on_stage_ddl_end);
PG_FUNCTION_INFO_V1(incview_on_stage_drop);
}

using namespace incview;
using namespace incview::pg;

namespace {

void notice(const std::string& message) {
  const char* m = message.c_str();
  pg_call([&] { ereport(NOTICE, (errmsg("%s", m))); });
}

void warn(const std::string& message, const std::string& hint) {
  const char* m = message.c_str();
  const char* h = hint.c_str();
  pg_call([&] { ereport(WARNING, (errmsg("%s", m), errhint("%s", h))); });
}

struct ColumnChange {
  Oid rel;
  std::string column;
  const char* verb;  // "drop", "rename", "change the type of"
  std::string new_name;
};

// Column changes of one ALTER TABLE (or ALTER TABLE ... RENAME COLUMN) statement.
std::vector<ColumnChange> column_changes(Node* stmt) {
  std::vector<ColumnChange> out;
  if (IsA(stmt, RenameStmt)) {
    auto* rs = reinterpret_cast<RenameStmt*>(stmt);
    if (rs->renameType == OBJECT_COLUMN && rs->subname && rs->newname)
      out.push_back({relation_of(rs->relation), rs->subname, "rename", rs->newname});
  } else if (IsA(stmt, AlterTableStmt)) {
    auto* at = reinterpret_cast<AlterTableStmt*>(stmt);
    const Oid rel = relation_of(at->relation);
    ListCell* lc;
    foreach (lc, at->cmds) {
      auto* cmd = static_cast<AlterTableCmd*>(lfirst(lc));
      if (!cmd->name) continue;
      if (cmd->subtype == AT_DropColumn) out.push_back({rel, cmd->name, "drop", ""});
      if (cmd->subtype == AT_AlterColumnType) out.push_back({rel, cmd->name, "change the type of", ""});
    }
  }
  return out;
}

// The stored query of each stage whose definition view depends on an object this command
// renamed or moved becomes the view's current definition (a schema: every stage).
void follow_renames() {
  for (const auto& a : stages_with_renamed_inputs()) {
    const std::string text = definition_text(a.view, a.search_path);
    if (text.empty()) continue;
    save_stage_query(a.id, text);
  }
}

// A scope column of a 'same' source renamed: the source is read through a lookup mapping
// naming the column's new name (what 'same' meant, under the new name).
void rename_same_captures(const ColumnChange& c) {
  for (const auto& f : same_sources_with_scope_column(c.rel, c.column)) {
    save_lookup_mapping(f.stage_id, c.rel, renamed_same_mapping(f.scope, c.column, c.new_name));
    invalidate_capture(c.rel);
  }
}

// Every capture whose mapping no longer fits its source (a 'same' source without a scope
// column, a lookup mapping that no longer prepares as the stage's owner) dirties every
// scope from now on: correct, if slower, until the owner maps the source again.
void check_captures() {
  for (const auto& c : mapped_captures()) {
    std::string problem;
    if (c.kind == "same") {
      if (c.missing.empty()) continue;
      problem = "it has no column " + c.missing + " any more";
    } else {
      CaptureSpec spec;
      spec.kind = MappingKind::Lookup;
      spec.scope = stage_scope_columns(c.stage_id);
      spec.mapping = c.mapping;
      const std::string check = lookup_check_statement(spec, c.source_name);
      auto error = in_subtransaction([&] {
        as_stage_owner(c.owner, c.search_path, [&] {
          const char* text = check.c_str();
          SPIPlanPtr plan = nullptr;
          pg_call([&] { plan = SPI_prepare(text, 0, nullptr); });
          if (!plan) throw Error(sqlstate::kInternalError, "could not prepare the mapping");
          pg_call([&] { SPI_freeplan(plan); });
        });
      });
      if (!error) continue;
      problem = "its mapping fails: " + error->message;
    }
    save_every_scope_mapping(c.stage_id, c.source);
    invalidate_capture(c.source);
    warn("pg_incview: capture of " + c.source_name + " for stage \"" + c.stage + "\" no longer fits it (" + problem +
             "): any change to " + c.source_name + " now dirties every scope",
         "map it again with incview.map_source('" + c.stage + "', '" + c.source_name +
             "', 'SELECT ... FROM changed ...')" + (c.kind == "lookup" ? "; the old mapping was: " + c.mapping : ""));
  }
}

}  // namespace

// Before ALTER TABLE: the columns of a stage's table are the stage's.
Datum incview_on_stage_ddl_start(PG_FUNCTION_ARGS) {
  return entry_guard([&]() -> Datum {
    EventTriggerData* ev = event_data(fcinfo);
    if (in_own_stage_ddl()) return static_cast<Datum>(0);
    const auto changes = column_changes(ev->parsetree);
    if (changes.empty()) return static_cast<Datum>(0);
    spi_connect();
    for (const auto& c : changes) {
      if (!OidIsValid(c.rel)) continue;
      const std::optional<StageColumn> column_of = stage_with_column(c.rel, c.column);
      if (!column_of || !column_of->stage) continue;
      const std::optional<std::string>& stage = column_of->stage;
      const std::optional<std::string>& table = column_of->table;
      throw Error(std::string(c.verb) == std::string("drop") ? sqlstate::kDependentObjectsStillExist
                                                             : sqlstate::kFeatureNotSupported,
                  std::string("cannot ") + c.verb + " column \"" + c.column + "\" of table " + *table +
                      ": it is a column of stage \"" + *stage + "\"",
                  "every refresh writes the stage's columns as its query returns them",
                  "change the stage's query with incview.alter_stage('" + *stage +
                      "', ...), or drop the stage with incview.drop_stage");
    }
    spi_finish();
    return static_cast<Datum>(0);
  });
}

// After ALTER ... RENAME / SET SCHEMA / ALTER TABLE: stored queries and captures follow.
Datum incview_on_stage_ddl_end(PG_FUNCTION_ARGS) {
  return entry_guard([&]() -> Datum {
    EventTriggerData* ev = event_data(fcinfo);
    if (in_own_stage_ddl()) return static_cast<Datum>(0);
    Node* stmt = ev->parsetree;
    const bool renames = IsA(stmt, RenameStmt) || IsA(stmt, AlterObjectSchemaStmt);
    const auto changes = column_changes(stmt);
    if (!renames && changes.empty()) return static_cast<Datum>(0);
    spi_connect();
    if (any_stage()) {
      if (renames) follow_renames();
      for (const auto& c : changes)
        if (OidIsValid(c.rel) && !c.new_name.empty()) rename_same_captures(c);
      check_captures();
    }
    spi_finish();
    return static_cast<Datum>(0);
  });
}

// After any DROP: stages whose definition view or table went go with them.
Datum incview_on_stage_drop(PG_FUNCTION_ARGS) {
  return entry_guard([&]() -> Datum {
    (void)event_data(fcinfo);
    if (in_own_stage_ddl()) return static_cast<Datum>(0);
    spi_connect();
    for (const auto& name : stages_with_dropped_relations()) {
      const auto stage = find_stage(name);
      if (!stage) continue;  // went with an upstream stage already
      notice("drop cascades to stage \"" + name + "\"");
      // As PostgreSQL's CASCADE drops other owners' objects: as the extension owner.
      as_extension_owner([&] { drop_stage_cascade(*stage, true, false); });
    }
    // A table or function only a mapping named (not the query) may be gone: that capture
    // must not fail the next write to its source.
    if (any_stage()) check_captures();
    spi_finish();
    return static_cast<Datum>(0);
  });
}
