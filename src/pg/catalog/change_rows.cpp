#include "pg/catalog/change_rows.hpp"

#include "pg/support/guard.hpp"
#include "pg/support/relcache_watch.hpp"

extern "C" {
#include "access/heapam.h"
#include "access/table.h"
#include "catalog/pg_am.h"
#include "catalog/pg_trigger.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
#include "utils/xid8.h"
}

namespace incview::pg {

namespace {

// incview.source_change's columns, in order (sql/pg_incview--0.1--0.2.sql).
constexpr int kColumns = 5;
const Oid kColumnTypes[kColumns] = {INT4ARRAYOID, XID8OID, JSONBARRAYOID, TIMESTAMPTZOID, INT8OID};

// The table whose shape was last found right, until a relcache message for it (or for every
// relation) arrives: CREATE INDEX, CREATE TRIGGER, ALTER TABLE and DROP all send one, and
// table_open processes pending messages before we look.
Oid checked_table = InvalidOid;

void relcache_callback(Datum, Oid relid) {
  if (relid == InvalidOid || relid == checked_table) checked_table = InvalidOid;
}

// The table's triggers are none, or only our script's BEFORE INSERT row trigger that turns a
// restored record into one of the restoring transaction (it is meant not to fire here: a
// direct heap insert fires nothing). Any other trigger would silently miss our rows.
bool only_restore_trigger(Relation rel) {
  const TriggerDesc* td = rel->trigdesc;
  if (td == nullptr) return true;
  if (td->numtriggers != 1) return false;
  const Trigger& t = td->triggers[0];
  if (strcmp(t.tgname, "incview_restored") != 0 || !TRIGGER_FOR_ROW(t.tgtype) || !TRIGGER_FOR_BEFORE(t.tgtype) ||
      !TRIGGER_FOR_INSERT(t.tgtype) || TRIGGER_FOR_UPDATE(t.tgtype) || TRIGGER_FOR_DELETE(t.tgtype) ||
      t.tgqual != nullptr)
    return false;
  char* fn = get_func_name(t.tgfoid);
  const bool ours = fn != nullptr && strcmp(fn, "source_change_restored") == 0 &&
                    get_func_namespace(t.tgfoid) == RelationGetNamespace(rel);
  if (fn) pfree(fn);
  return ours;
}

// A direct heap insert maintains no index and fires nothing: refuse a table that is not the
// one our script made. Inside pg_call.
void check_shape(Relation rel) {
  if (RelationGetRelid(rel) == checked_table) return;
  watch_relcache(relcache_callback);  // once: watch_relcache ignores a second call
  TupleDesc desc = RelationGetDescr(rel);
  bool ours = rel->rd_rel->relkind == RELKIND_RELATION && rel->rd_rel->relam == HEAP_TABLE_AM_OID &&
              RelationGetIndexList(rel) == NIL && only_restore_trigger(rel) && desc->natts == kColumns;
  for (int i = 0; ours && i < kColumns; ++i)
    ours = !TupleDescAttr(desc, i)->attisdropped && TupleDescAttr(desc, i)->atttypid == kColumnTypes[i];
  if (!ours)
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                    errmsg("incview.source_change is not the table pg_incview made"),  // not SQL: message
                    errdetail("capture appends to it without the executor: it must keep its five columns and have "
                              "no index and no trigger"),
                    errhint("drop what was added to incview.source_change")));  // not SQL: hint
  checked_table = RelationGetRelid(rel);
}

}  // namespace

Oid change_record_table() {
  Oid rel = InvalidOid;
  pg_call([&] {
    const Oid ns = get_namespace_oid("incview", true);
    if (OidIsValid(ns)) rel = get_relname_relid("source_change", ns);
  });
  return rel;
}

void append_change_record(Oid table, const std::vector<int32>& stage_ids, const std::vector<Datum>* keys) {
  // The array's elements, as Datums, in the memory of the call (no allocation in the common
  // case of a few stages).
  Datum small_ids[8];
  std::vector<Datum> many_ids;
  Datum* ids = small_ids;
  if (stage_ids.size() > 8) {
    many_ids.resize(stage_ids.size());
    ids = many_ids.data();
  }
  for (size_t i = 0; i < stage_ids.size(); ++i) ids[i] = Int32GetDatum(stage_ids[i]);
  const int nids = static_cast<int>(stage_ids.size());
  const Datum* key_data = keys ? keys->data() : nullptr;
  const int nkeys = keys ? static_cast<int>(keys->size()) : 0;
  pg_call([&] {
    Relation rel = table_open(table, RowExclusiveLock);
    check_shape(rel);
    Datum values[kColumns];
    bool nulls[kColumns] = {false, false, keys == nullptr, false, false};
    values[0] = PointerGetDatum(construct_array(ids, nids, INT4OID, 4, true, TYPALIGN_INT));
    values[1] = FullTransactionIdGetDatum(GetTopFullTransactionId());
    values[2] =
        keys ? PointerGetDatum(construct_array(const_cast<Datum*>(key_data), nkeys, JSONBOID, -1, false, TYPALIGN_INT))
             : Datum(0);
    // now(), as dirty_scope.dirtied_at's default: lag counts from the writer's transaction.
    values[3] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
    // The writing statement's command id: a collection earlier in this transaction did not
    // see this record (captured_changes.hpp).
    values[4] = Int64GetDatum(static_cast<int64>(GetCurrentCommandId(true)));
    HeapTuple tuple = heap_form_tuple(RelationGetDescr(rel), values, nulls);
    simple_heap_insert(rel, tuple);
    heap_freetuple(tuple);
    table_close(rel, NoLock);
  });
}

}  // namespace incview::pg
