#include "pg/role.hpp"

#include "pg/guard.hpp"
#include "pg/spi.hpp"

namespace incview::pg {

AsRole::AsRole(Oid role) {
  GetUserIdAndSecContext(&saved_user_, &saved_context_);
  SetUserIdAndSecContext(role, saved_context_ | SECURITY_LOCAL_USERID_CHANGE);
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

}  // namespace incview::pg
