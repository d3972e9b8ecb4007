// A stage's query kept also as a view (issue 11, item 5: stages under DDL, like views).
//
// The view incview_stage.<stage name>, owned by the stage's owner, is never read: it is
// there so that PostgreSQL records in pg_depend what the query reads (tables, columns,
// functions, types), and so
//  - DROP TABLE / DROP COLUMN / ALTER COLUMN TYPE of something the query reads is refused
//    naming the view, i.e. the stage; with CASCADE the view goes, and the sql_drop event
//    trigger takes the stage with it (stage_ddl.cpp);
//  - renames are followed: after a rename, the stage's stored query becomes the view's
//    current definition (pg_get_viewdef);
//  - pg_dump orders the view after everything it reads, so a restore re-creates the
//    dependencies.
// See docs/reference.md, "Stages under DDL".
#pragma once
#include "pg/support/pg_headers.hpp"

#include "pg/catalog/catalog.hpp"

namespace incview::pg {

inline constexpr const char* kDefinitionSchema = "incview_stage";

// ERROR 42622 when the stage name cannot name its view (longer than NAMEDATALEN - 1 bytes:
// PostgreSQL would truncate it, and two stages could then share one view name).
void check_stage_name_length(const std::string& name);

// Whether this catalog has incview.stage.definition (0.2).
bool has_definitions();

// Creates the stage's view from `query` (as the extension owner under the stage's search
// path, so names resolve as in every refresh), hands it to the stage's owner and records it
// in incview.stage.definition. Nothing on catalog 0.1.
void create_definition_view(int32 stage_id, const std::string& name, const std::string& query, Oid owner,
                            const std::string& search_path);

// Forgets the stage's view in the catalog, then drops it.
void drop_definition_view(int32 stage_id);

// The view's current definition under `search_path`, without the trailing ';'.
std::string definition_text(Oid view, const std::string& search_path);

// While one of these lives, the DDL pg_incview itself runs (drop_stage, alter_stage
// re-creating a table or a view) is not acted on by the stage DDL event triggers.
class OwnStageDdl {
 public:
  OwnStageDdl();
  ~OwnStageDdl();
  OwnStageDdl(const OwnStageDdl&) = delete;
  OwnStageDdl& operator=(const OwnStageDdl&) = delete;
};
bool in_own_stage_ddl();

}  // namespace incview::pg
