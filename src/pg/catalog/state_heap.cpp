#include "pg/catalog/state_heap.hpp"

#include "pg/catalog/table_shape.hpp"
#include "pg/support/guard.hpp"

extern "C" {
#include "access/genam.h"
#include "access/heapam.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_trigger.h"
#include "executor/executor.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
}

namespace incview::pg {

namespace {

// incview.stage_state's columns (0.1's script; 0.2 adds none), in order.
constexpr int kColumns = 9;
enum Col {
  kStageId,
  kStatus,
  kLastRefresh,
  kLastDuration,
  kLastError,
  kFailures,
  kScopeCount,
  kLastRetention,
  kNextAttempt
};
const Oid kTypes[kColumns] = {INT4OID, TEXTOID, TIMESTAMPTZOID, INTERVALOID,   TEXTOID,
                              INT4OID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID};

ShapeMemo shape;
Oid primary_key = InvalidOid;

// One index, the primary key: a plain btree on stage_id. Inside pg_call.
bool our_index(Relation rel) {
  List* indexes = RelationGetIndexList(rel);
  bool ok = list_length(indexes) == 1;
  if (ok) {
    Relation index = index_open(linitial_oid(indexes), AccessShareLock);
    ok = plain_btree(index) && index->rd_index->indnkeyatts == 1 && index->rd_index->indkey.values[0] == kStageId + 1;
    primary_key = RelationGetRelid(index);
    index_close(index, AccessShareLock);
  }
  list_free(indexes);
  return ok;
}

// The only triggers: the foreign key's own checks on stage_id (REFERENCES incview.stage),
// which an UPDATE leaving stage_id as it is does not fire. Inside pg_call.
bool only_foreign_key_triggers(Relation rel) {
  if (rel->trigdesc == nullptr) return true;
  for (int i = 0; i < rel->trigdesc->numtriggers; ++i) {
    const Trigger& t = rel->trigdesc->triggers[i];
    if (!t.tgisinternal || (t.tgfoid != F_RI_FKEY_CHECK_INS && t.tgfoid != F_RI_FKEY_CHECK_UPD)) return false;
  }
  return true;
}

// Inside pg_call.
bool check_shape(Relation rel) {
  return shape.get(rel, [](Relation r) {
    return plain_table_of(r, kTypes, kColumns) && only_foreign_key_triggers(r) && our_index(r);
  });
}

// The new version's index entry when the update was not HOT (as CatalogTupleUpdate's
// CatalogIndexInsert does; the index has no expression). Inside pg_call.
void insert_index_entries(Relation rel, HeapTuple tuple) {
  if (HeapTupleIsHeapOnly(tuple)) return;
  CatalogIndexState indstate = CatalogOpenIndexes(rel);
  TupleTableSlot* slot = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsHeapTuple);
  ExecStoreHeapTuple(tuple, slot, false);
  for (int i = 0; i < indstate->ri_NumIndices; ++i) {
    IndexInfo* info = indstate->ri_IndexRelationInfo[i];
    Datum values[INDEX_MAX_KEYS];
    bool isnull[INDEX_MAX_KEYS];
    FormIndexDatum(info, slot, nullptr, values, isnull);
    index_insert(indstate->ri_IndexRelationDescs[i], values, isnull, &tuple->t_self, rel,
                 info->ii_Unique ? UNIQUE_CHECK_YES : UNIQUE_CHECK_NO, false, info);
  }
  ExecDropSingleTupleTableSlot(slot);
  CatalogCloseIndexes(indstate);
}

}  // namespace

bool update_state_row_ok(int32 stage_id, int64 duration_us, bool keep_failure) {
  bool written = false;
  pg_call([&] {
    const Oid ns = get_namespace_oid("incview", true);
    const Oid table = OidIsValid(ns) ? get_relname_relid("stage_state", ns) : InvalidOid;
    if (!OidIsValid(table)) return;
    Relation rel = table_open(table, RowExclusiveLock);
    // Row security as the statement would apply it (not to the table's owner unless forced).
    if (!check_shape(rel) || check_enable_rls(table, InvalidOid, true) == RLS_ENABLED) {
      table_close(rel, RowExclusiveLock);
      return;
    }
    // As a statement would: see what this transaction wrote before, under the snapshot a
    // statement would take now (READ COMMITTED: a new one; otherwise the transaction's).
    CommandCounterIncrement();
    Snapshot snapshot = RegisterSnapshot(GetTransactionSnapshot());
    ScanKeyData key;
    ScanKeyInit(&key, kStageId + 1, BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum(stage_id));
    SysScanDesc scan = systable_beginscan(rel, primary_key, true, snapshot, 1, &key);
    HeapTuple old = systable_getnext(scan);
    if (HeapTupleIsValid(old)) {
      Datum values[kColumns];
      bool nulls[kColumns];
      bool replace[kColumns] = {false};
      heap_deform_tuple(old, RelationGetDescr(rel), values, nulls);
      Interval* duration = static_cast<Interval*>(palloc0(sizeof(Interval)));
      duration->time = duration_us;
      values[kLastRefresh] = TimestampTzGetDatum(GetCurrentTimestamp());
      nulls[kLastRefresh] = false;
      replace[kLastRefresh] = true;
      values[kLastDuration] = IntervalPGetDatum(duration);
      nulls[kLastDuration] = false;
      replace[kLastDuration] = true;
      if (!keep_failure) {
        values[kStatus] = CStringGetTextDatum("idle");
        nulls[kStatus] = false;
        nulls[kLastError] = true;
        values[kFailures] = Int32GetDatum(0);
        nulls[kFailures] = false;
        nulls[kNextAttempt] = true;
        replace[kStatus] = replace[kLastError] = replace[kFailures] = replace[kNextAttempt] = true;
      }
      HeapTuple tuple = heap_modify_tuple(old, RelationGetDescr(rel), values, nulls, replace);
      ItemPointerData otid = old->t_self;
      TM_FailureData tmfd;
      LockTupleMode lockmode;
      // Waits for a concurrent updater as the statement would; anything but success leaves
      // the row to the statement.
      const TM_Result result =
          heap_update(rel, &otid, tuple, GetCurrentCommandId(true), InvalidSnapshot, true /* wait */, &tmfd, &lockmode);
      if (result == TM_Ok) {
        insert_index_entries(rel, tuple);
        written = true;
      }
      heap_freetuple(tuple);
    }
    systable_endscan(scan);
    UnregisterSnapshot(snapshot);
    table_close(rel, NoLock);
  });
  return written;
}

}  // namespace incview::pg
