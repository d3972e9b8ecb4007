#include "pg/catalog/delta_queue_rows.hpp"

#include <unordered_set>

#include "pg/support/guard.hpp"
#include "pg/support/relcache_watch.hpp"

extern "C" {
#include "access/heapam.h"
#include "access/table.h"
#include "catalog/pg_am.h"
#include "utils/inval.h"
#include "utils/rel.h"
}

namespace incview::pg {

namespace {

// Queues whose shape was last found plain, until a relcache message for them (or for every
// relation) arrives: CREATE INDEX, CREATE TRIGGER, ALTER TABLE and DROP all send one, and
// table_open processes pending messages before we look.
std::unordered_set<Oid> checked;

void relcache_callback(Datum, Oid relid) {
  if (relid == InvalidOid)
    checked.clear();
  else
    checked.erase(relid);
}

// A direct heap insert maintains no index, fires nothing, checks no constraint and ignores
// policies: only a table with none of those takes one. Inside pg_call.
bool plain(Relation rel) {
  if (checked.count(RelationGetRelid(rel))) return true;
  watch_relcache(relcache_callback);  // once: watch_relcache ignores a second call
  const TupleConstr* constr = RelationGetDescr(rel)->constr;
  const bool ok = rel->rd_rel->relkind == RELKIND_RELATION && rel->rd_rel->relam == HEAP_TABLE_AM_OID &&
                  !rel->rd_rel->relrowsecurity && rel->trigdesc == nullptr && RelationGetIndexList(rel) == NIL &&
                  (constr == nullptr || constr->num_check == 0);
  if (ok) checked.insert(RelationGetRelid(rel));
  return ok;
}

}  // namespace

bool append_delta_row(Oid queue, const std::vector<Oid>& types, Datum* values, bool* nulls) {
  return append_delta_rows(queue, types, {DeltaRow{values, nulls}});
}

bool append_delta_rows(Oid queue, const std::vector<Oid>& types, const std::vector<DeltaRow>& rows) {
  bool done = false;
  pg_call([&] {
    Relation rel = table_open(queue, RowExclusiveLock);
    TupleDesc desc = RelationGetDescr(rel);
    bool ok = plain(rel) && desc->natts == static_cast<int>(types.size());
    for (int i = 0; ok && i < desc->natts; ++i) {
      Form_pg_attribute a = TupleDescAttr(desc, i);
      ok = !a->attisdropped && a->atttypid == types[i];
      for (size_t r = 0; ok && r < rows.size(); ++r) ok = !(a->attnotnull && rows[r].nulls[i]);
    }
    if (ok) {
      for (const DeltaRow& r : rows) {
        HeapTuple tuple = heap_form_tuple(desc, r.values, r.nulls);
        simple_heap_insert(rel, tuple);
        heap_freetuple(tuple);
      }
      done = true;
    }
    table_close(rel, NoLock);
  });
  return done;
}

std::vector<Oid> delta_queue_types(Oid queue) {
  std::vector<Oid> types;
  pg_call([&] {
    Relation rel = try_table_open(queue, RowExclusiveLock);
    if (rel == nullptr) return;
    TupleDesc desc = RelationGetDescr(rel);
    for (int i = 0; i < desc->natts; ++i) {
      Form_pg_attribute a = TupleDescAttr(desc, i);
      types.push_back(a->attisdropped ? InvalidOid : a->atttypid);
    }
    table_close(rel, NoLock);
  });
  return types;
}

}  // namespace incview::pg
