#include "pg/support/role.hpp"

#include "pg/support/guard.hpp"
#include "pg/support/spi.hpp"

namespace incview::pg {

AsRole::AsRole(Oid role, bool restricted) {
  GetUserIdAndSecContext(&saved_user_, &saved_context_);
  // Restriction is sticky: a nested switch (say to the extension owner for a catalog
  // write inside the owner's refresh) keeps the flags of the scope around it.
  SetUserIdAndSecContext(role, saved_context_ | SECURITY_LOCAL_USERID_CHANGE |
                                   (restricted ? SECURITY_RESTRICTED_OPERATION : 0));
}

AsRole::~AsRole() { SetUserIdAndSecContext(saved_user_, saved_context_); }

Oid extension_owner() {
  static Oid cached = InvalidOid;
  static Oid cached_db = InvalidOid;
  if (cached != InvalidOid && cached_db == MyDatabaseId) return cached;
  auto v = spi_scalar("SELECT extowner::oid::text FROM pg_catalog.pg_extension WHERE extname = 'pg_incview'");
  if (!v) throw Error(sqlstate::kUndefinedObject, "extension \"pg_incview\" is not installed in this database");
  cached = static_cast<Oid>(std::stoul(*v));
  cached_db = MyDatabaseId;
  return cached;
}

std::string stage_search_path(const std::string& stored) {
  // Stages stored before 0.2 kept the creator's raw setting, which may not mention
  // pg_temp (then searched first for tables): append it.
  if (stored.find("pg_temp") != std::string::npos) return stored;
  return stored.empty() ? std::string("pg_temp") : stored + ", pg_temp";
}

std::string creator_search_path() {
  // Under the caller's own path (it is what we record); every name below is qualified.
  const auto schemas = spi_scalar(
      "SELECT pg_catalog.string_agg(pg_catalog.quote_ident(s), ', ' ORDER BY n) "
      "FROM pg_catalog.unnest(pg_catalog.current_schemas(false)) WITH ORDINALITY AS u(s, n) "
      "WHERE s OPERATOR(pg_catalog.!~) '^pg_(toast_)?temp_'");
  const std::string out = schemas.value_or("");
  return out.empty() ? std::string("pg_temp") : out + ", pg_temp";
}

}  // namespace incview::pg
