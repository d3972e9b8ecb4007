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
#include "pg/catalog/stage_definition.hpp"
#include "pg/catalog/stage_sources.hpp"
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

bool any_stage() {
  bool any = false;
  as_extension_owner([&] { any = spi_scalar("SELECT 1 FROM incview.stage LIMIT 1").has_value(); });
  return any;
}

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
  struct Affected {
    int32 id;
    Oid view;
    std::string search_path;
  };
  std::vector<Affected> affected;
  as_extension_owner([&] {
    const uint64 n = spi_exec(
        "SELECT DISTINCT s.id, s.definition::oid::text, s.search_path FROM incview.stage s "
        "CROSS JOIN pg_catalog.pg_event_trigger_ddl_commands() AS c "
        "WHERE s.definition IS NOT NULL "
        "  AND (c.classid = 'pg_catalog.pg_namespace'::pg_catalog.regclass "
        "       OR EXISTS (SELECT 1 FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid "
        "                  WHERE d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass "
        "                    AND r.ev_class = s.definition AND d.refclassid = c.classid AND d.refobjid = c.objid))",
        {}, true);
    for (uint64 i = 0; i < n; ++i)
      affected.push_back({static_cast<int32>(spi_int8(i, 1)), static_cast<Oid>(std::stoul(spi_text_or(i, 2, "0"))),
                          spi_text_or(i, 3, "")});
  });
  for (const auto& a : affected) {
    const std::string text = definition_text(a.view, a.search_path);
    if (text.empty()) continue;
    as_extension_owner([&] {
      spi_exec("UPDATE incview.stage SET query = $2 WHERE id = $1 AND query IS DISTINCT FROM $2",
               {int4_arg(a.id), text_arg(text)});
    });
  }
}

// A scope column of a 'same' source renamed: the source is read through a lookup mapping
// naming the column's new name (what 'same' meant, under the new name).
void rename_same_captures(const ColumnChange& c) {
  struct Source {
    int32 stage_id;
    std::vector<std::string> scope;
  };
  std::vector<Source> found;
  as_extension_owner([&] {
    const uint64 n = spi_exec(
        "SELECT ss.stage_id, u.col FROM incview.stage_source ss JOIN incview.stage s ON s.id = ss.stage_id "
        "CROSS JOIN LATERAL unnest(s.scope) WITH ORDINALITY AS u(col, ord) "
        "WHERE ss.source = $1 AND ss.mapping_kind = 'same' AND $2 = ANY (s.scope) ORDER BY ss.stage_id, u.ord",
        {oid_arg(c.rel), text_arg(c.column)}, true);
    for (uint64 i = 0; i < n; ++i) {
      const int32 id = static_cast<int32>(spi_int8(i, 1));
      if (found.empty() || found.back().stage_id != id) found.push_back({id, {}});
      found.back().scope.push_back(spi_text_or(i, 2, ""));
    }
  });
  for (const auto& f : found) {
    const std::string mapping = renamed_same_mapping(f.scope, c.column, c.new_name);
    as_extension_owner([&] {
      spi_exec(
          "UPDATE incview.stage_source SET mapping_kind = 'lookup', mapping = $3 WHERE stage_id = $1 AND source = $2",
          {int4_arg(f.stage_id), oid_arg(c.rel), text_arg(mapping)});
    });
    invalidate_capture(c.rel);
  }
}

// Every capture whose mapping no longer fits its source (a 'same' source without a scope
// column, a lookup mapping that no longer prepares as the stage's owner) dirties every
// scope from now on: correct, if slower, until the owner maps the source again.
void check_captures() {
  struct Capture {
    int32 stage_id;
    std::string stage;
    Oid owner;
    std::string search_path;
    Oid source;
    std::string source_name;
    std::string kind;
    std::string mapping;
    std::vector<std::string> scope;
    std::string missing;  // 'same': scope columns the source lacks
  };
  std::vector<Capture> captures;
  as_extension_owner([&] {
    const uint64 n = spi_exec(
        "SELECT ss.stage_id, s.name, s.owner::oid::text, s.search_path, ss.source::oid::text, ss.source::text, "
        "       ss.mapping_kind, coalesce(ss.mapping, ''), pg_catalog.array_to_json(s.scope)::text, "
        "       (SELECT pg_catalog.string_agg(w, ', ') FROM unnest(s.scope) AS w "
        "        WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a WHERE a.attrelid = ss.source "
        "                          AND a.attname = w AND a.attnum > 0 AND NOT a.attisdropped)) "
        "FROM incview.stage_source ss JOIN incview.stage s ON s.id = ss.stage_id "
        "JOIN pg_catalog.pg_class c ON c.oid = ss.source AND c.relkind IN ('r', 'p') "
        "WHERE ss.mapping_kind IN ('same', 'lookup') ORDER BY ss.stage_id, ss.source",
        {}, true);
    for (uint64 i = 0; i < n; ++i) {
      Capture c;
      c.stage_id = static_cast<int32>(spi_int8(i, 1));
      c.stage = spi_text_or(i, 2, "");
      c.owner = static_cast<Oid>(std::stoul(spi_text_or(i, 3, "0")));
      c.search_path = spi_text_or(i, 4, "");
      c.source = static_cast<Oid>(std::stoul(spi_text_or(i, 5, "0")));
      c.source_name = spi_text_or(i, 6, "");
      c.kind = spi_text_or(i, 7, "");
      c.mapping = spi_text_or(i, 8, "");
      c.missing = spi_text_or(i, 10, "");
      captures.push_back(std::move(c));
    }
  });
  for (auto& c : captures) {
    std::string problem;
    if (c.kind == "same") {
      if (c.missing.empty()) continue;
      problem = "it has no column " + c.missing + " any more";
    } else {
      as_extension_owner([&] {
        const uint64 n = spi_exec(
            "SELECT u FROM incview.stage s, unnest(s.scope) WITH ORDINALITY AS x(u, o) "
            "WHERE s.id = $1 ORDER BY o",
            {int4_arg(c.stage_id)}, true);
        for (uint64 i = 0; i < n; ++i) c.scope.push_back(spi_text_or(i, 1, ""));
      });
      CaptureSpec spec;
      spec.kind = MappingKind::Lookup;
      spec.scope = c.scope;
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
    as_extension_owner([&] {
      spi_exec(
          "UPDATE incview.stage_source SET mapping_kind = 'all', mapping = NULL WHERE stage_id = $1 AND source = $2",
          {int4_arg(c.stage_id), oid_arg(c.source)});
    });
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
      std::optional<std::string> stage, table;
      as_extension_owner([&] {
        spi_exec("SELECT s.name, s.target::text FROM incview.stage s WHERE s.target = $1 AND $2 = ANY (s.columns)",
                 {oid_arg(c.rel), text_arg(c.column)}, true);
        if (SPI_processed > 0) {
          stage = spi_text(0, 1);
          table = spi_text(0, 2);
        }
      });
      if (!stage) continue;
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
    std::vector<std::string> names;
    as_extension_owner([&] {
      const uint64 n = spi_exec(
          "SELECT DISTINCT s.id, s.name FROM incview.stage s "
          "JOIN pg_catalog.pg_event_trigger_dropped_objects() AS d "
          "  ON d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objsubid = 0 "
          " AND (d.objid = s.definition::oid OR d.objid = s.target::oid) ORDER BY s.id",
          {}, true);
      for (uint64 i = 0; i < n; ++i) names.push_back(spi_text_or(i, 2, ""));
    });
    for (const auto& name : names) {
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
