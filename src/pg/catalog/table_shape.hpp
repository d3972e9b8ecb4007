#pragma once
// "Is this table still exactly the one our scripts made?" — asked before pg_incview writes a
// row of its own catalog without a statement (log_rows, state_heap): a trigger, index or column
// someone added by hand must see every row, so any difference sends the write to SQL. The
// answer is kept per table until a relcache message for it arrives.

extern "C" {
#include "postgres.h"

#include "utils/rel.h"
}

namespace incview::pg {

// A plain heap table (not partitioned, not forced row security) of exactly these column types,
// none dropped. Inside pg_call.
bool plain_table_of(Relation rel, const Oid* types, int count);

// A btree index without expression or predicate, immediate, valid and ready, not an exclusion
// constraint: what CatalogTupleInsert/Update's index maintenance handles. Inside pg_call.
bool plain_btree(Relation index);

// One table's remembered answer. `check` runs (inside pg_call) only when the table differs
// from the one last checked or a relcache message for it came in since.
class ShapeMemo {
 public:
  template <typename Check>
  bool get(Relation rel, Check&& check) {
    if (RelationGetRelid(rel) == table_) return ok_;
    watch();
    ok_ = check(rel);
    table_ = RelationGetRelid(rel);
    return ok_;
  }
  void forget(Oid relid) {
    if (relid == InvalidOid || relid == table_) table_ = InvalidOid;
  }

 private:
  void watch();  // registers this memo with the one relcache callback
  Oid table_ = InvalidOid;
  bool ok_ = false;
  bool watched_ = false;
};

}  // namespace incview::pg
