#include "pg/catalog/table_shape.hpp"

#include <vector>

#include "pg/support/relcache_watch.hpp"

extern "C" {
#include "access/relation.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "utils/inval.h"
#include "utils/rel.h"
}

namespace incview::pg {

namespace {

// Every memo of this backend; one callback forgets for all (PostgreSQL allows a bounded number
// of relcache callbacks per backend, so not one each).
std::vector<ShapeMemo*>& memos() {
  static std::vector<ShapeMemo*> all;
  return all;
}

void relcache_callback(Datum, Oid relid) {
  for (ShapeMemo* m : memos()) m->forget(relid);
}

}  // namespace

void ShapeMemo::watch() {
  if (watched_) return;
  watch_relcache(relcache_callback);  // once: watch_relcache ignores a second call
  memos().push_back(this);
  watched_ = true;
}

bool plain_table_of(Relation rel, const Oid* types, int count) {
  TupleDesc desc = RelationGetDescr(rel);
  bool ok = rel->rd_rel->relkind == RELKIND_RELATION && rel->rd_rel->relam == HEAP_TABLE_AM_OID &&
            !rel->rd_rel->relforcerowsecurity && desc->natts == count;
  for (int i = 0; ok && i < count; ++i)
    ok = !TupleDescAttr(desc, i)->attisdropped && TupleDescAttr(desc, i)->atttypid == types[i];
  return ok;
}

bool plain_btree(Relation index) {
  return index->rd_rel->relam == BTREE_AM_OID && RelationGetIndexExpressions(index) == NIL &&
         RelationGetIndexPredicate(index) == NIL && index->rd_index->indimmediate && index->rd_index->indisvalid &&
         index->rd_index->indisready && !index->rd_index->indisexclusion;
}

}  // namespace incview::pg
