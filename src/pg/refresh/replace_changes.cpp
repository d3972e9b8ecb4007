#include "pg/refresh/replace_changes.hpp"

#include <cstring>

#include "core/replace_changes_sql.hpp"
#include "pg/citus/citus.hpp"
#include "pg/support/guard.hpp"

extern "C" {
#include "access/relation.h"
}

namespace incview::pg {

bool replace_writes_changes(const StageRecord& stage) {
  return incview::replace_writes_changes(stage.shape) && !(citus_installed() && is_citus_table(stage.target));
}

std::vector<std::string> compare_types(const StageRecord& stage) {
  const auto& columns = stage.shape.columns;
  std::vector<Oid> types(columns.size(), InvalidOid);
  std::vector<const char*> names;
  for (const auto& c : columns) names.push_back(c.c_str());
  const Oid target = stage.target;
  pg_call([&] {
    // The refresh writes the table next: this lock is one it takes anyway.
    Relation rel = relation_open(target, AccessShareLock);
    TupleDesc desc = RelationGetDescr(rel);
    for (int a = 0; a < desc->natts; ++a) {
      Form_pg_attribute att = TupleDescAttr(desc, a);
      if (att->attisdropped) continue;
      for (size_t i = 0; i < names.size(); ++i)
        if (strcmp(NameStr(att->attname), names[i]) == 0) types[i] = att->atttypid;
    }
    relation_close(rel, NoLock);
  });
  std::vector<std::string> out;
  for (size_t i = 0; i < types.size(); ++i) {
    if (!OidIsValid(types[i]))
      throw Error(sqlstate::kUndefinedColumn, "column \"" + columns[i] + "\" of stage \"" + stage.name +
                                                  "\" is missing from its target table " + stage.shape.target);
    const Oid type = types[i];
    const char* name = nullptr;
    pg_call([&] {
      name = format_type_extended(getBaseType(type), -1, FORMAT_TYPE_TYPEMOD_GIVEN | FORMAT_TYPE_FORCE_QUALIFY);
    });
    out.emplace_back(name);
  }
  return out;
}

}  // namespace incview::pg
