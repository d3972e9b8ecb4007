#include "pg/catalog/stage_definition.hpp"

#include "core/sql_text.hpp"
#include "pg/support/guard.hpp"
#include "pg/support/role.hpp"
#include "pg/support/spi.hpp"

namespace incview::pg {

namespace {

int own_ddl_depth = 0;

// Our own DDL on a stage's view: as the extension owner (members of PUBLIC have no rights
// on schema incview_stage), under the stage's search path when names must resolve as the
// stage's SQL resolves them.
template <typename F>
void as_definition_keeper(const std::string& search_path, F&& body) {
  AsRole role(extension_owner());
  with_session_settings(stage_search_path(search_path), body);
}

}  // namespace

OwnStageDdl::OwnStageDdl() { ++own_ddl_depth; }
OwnStageDdl::~OwnStageDdl() { --own_ddl_depth; }
bool in_own_stage_ddl() { return own_ddl_depth > 0; }

void check_stage_name_length(const std::string& name) {
  if (name.size() >= NAMEDATALEN)
    throw Error(sqlstate::kNameTooLong, "stage name \"" + name.substr(0, 40) + "...\" is too long",
                "a stage name names its definition view " + std::string(kDefinitionSchema) + ".<name>, at most " +
                    std::to_string(NAMEDATALEN - 1) + " bytes",
                "choose a shorter name");
}

bool has_definitions() { return catalog_is_0_2(); }

void create_definition_view(int32 stage_id, const std::string& name, const std::string& query, Oid owner,
                            const std::string& search_path) {
  if (!has_definitions()) return;
  const std::string view = quote_qualified(kDefinitionSchema, name);
  as_definition_keeper(search_path, [&] {
    spi_exec("CREATE VIEW " + view + " AS\n" + query);
    spi_exec("ALTER VIEW " + view + " OWNER TO " +
             *spi_scalar("SELECT pg_catalog.quote_ident(pg_catalog.pg_get_userbyid($1))", {oid_arg(owner)}));
  });
  as_extension_owner([&] {
    spi_exec("UPDATE incview.stage SET definition = pg_catalog.to_regclass($2) WHERE id = $1",
             {int4_arg(stage_id), text_arg(view)});
  });
}

void drop_definition_view(int32 stage_id) {
  if (!has_definitions()) return;
  std::optional<std::string> view;
  as_extension_owner([&] {
    view = spi_scalar(
        "SELECT s.definition::pg_catalog.text FROM incview.stage s "
        "JOIN pg_catalog.pg_class c ON c.oid = s.definition WHERE s.id = $1",
        {int4_arg(stage_id)});
    spi_exec("UPDATE incview.stage SET definition = NULL WHERE id = $1", {int4_arg(stage_id)});
  });
  if (!view) return;
  OwnStageDdl own;
  as_extension_owner([&] { spi_exec("DROP VIEW " + *view); });  // (regclass text is qualified and quoted)
}

std::string definition_text(Oid view, const std::string& search_path) {
  std::string text;
  as_definition_keeper(search_path, [&] {
    text = spi_scalar("SELECT pg_catalog.pg_get_viewdef($1)", {oid_arg(view)}).value_or("");
  });
  // " SELECT ...;" -> "SELECT ..." (the stored form: one statement, no trailing ';')
  const auto first = text.find_first_not_of(" \t\n");
  text = first == std::string::npos ? "" : text.substr(first);
  while (!text.empty() && (text.back() == ';' || isspace(static_cast<unsigned char>(text.back())))) text.pop_back();
  return text;
}

}  // namespace incview::pg
