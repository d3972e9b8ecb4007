#include "pg/catalog/stage_probe.hpp"

#include "pg/support/guard.hpp"

extern "C" {
#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/varlena.h"
}

namespace incview::pg {

namespace {

// The attribute number of `column` when its type is `type`; 0 otherwise. Inside pg_call.
AttrNumber column_of(Relation rel, const char* column, Oid type) {
  TupleDesc desc = RelationGetDescr(rel);
  for (int i = 0; i < desc->natts; ++i) {
    Form_pg_attribute a = TupleDescAttr(desc, i);
    if (!a->attisdropped && strcmp(NameStr(a->attname), column) == 0) return a->atttypid == type ? a->attnum : 0;
  }
  return 0;
}

// A plain, valid btree index of `rel` named `index` whose first column is `attno`;
// InvalidOid otherwise. Inside pg_call.
Oid btree_on(Relation rel, const char* index, AttrNumber attno) {
  const Oid oid = get_relname_relid(index, RelationGetNamespace(rel));
  if (!OidIsValid(oid)) return InvalidOid;
  Relation i = index_open(oid, AccessShareLock);
  const bool ok = i->rd_index->indrelid == RelationGetRelid(rel) && i->rd_rel->relam == BTREE_AM_OID &&
                  i->rd_index->indisvalid && i->rd_index->indkey.values[0] == attno &&
                  RelationGetIndexPredicate(i) == NIL;
  index_close(i, AccessShareLock);
  return ok ? oid : InvalidOid;
}

// Tables read as the extension owner, their owner: row security does not apply unless forced
// (or another role owns the table): then the statement, which applies the policies.
bool plain_table(Relation rel) {
  return rel->rd_rel->relkind == RELKIND_RELATION &&
         check_enable_rls(RelationGetRelid(rel), InvalidOid, true) != RLS_ENABLED;
}

}  // namespace

std::optional<StageProbe> probe_stage(const std::string& name, const std::optional<std::string>& delta_queue) {
  StageProbe out;
  bool ok = false;
  const char* stage_name = name.c_str();
  pg_call([&] {
    const Oid ns = get_namespace_oid("incview", true);
    if (!OidIsValid(ns)) return;
    const Oid stage_oid = get_relname_relid("stage", ns), source_oid = get_relname_relid("stage_source", ns),
              change_oid = get_relname_relid("source_change", ns), dirty_oid = get_relname_relid("dirty_scope", ns);
    if (!OidIsValid(stage_oid) || !OidIsValid(source_oid) || !OidIsValid(change_oid) || !OidIsValid(dirty_oid)) return;
    // As a statement: this transaction's earlier writes visible, the snapshot a statement
    // would take now (READ COMMITTED: a new one).
    CommandCounterIncrement();
    Snapshot snapshot = RegisterSnapshot(GetTransactionSnapshot());
    bool shape = true;

    // The stage row, by its unique name.
    Relation stage = table_open(stage_oid, AccessShareLock);
    const AttrNumber a_id = column_of(stage, "id", INT4OID), a_name = column_of(stage, "name", TEXTOID),
                     a_target = column_of(stage, "target", REGCLASSOID);
    const Oid by_name = a_name ? btree_on(stage, "stage_name_key", a_name) : InvalidOid;
    shape = plain_table(stage) && a_id && a_target && OidIsValid(by_name);
    Oid target = InvalidOid;
    if (shape) {
      Relation index = index_open(by_name, AccessShareLock);
      ScanKeyData key;
      ScanKeyEntryInitialize(&key, 0, a_name, BTEqualStrategyNumber, InvalidOid, index->rd_indcollation[0], F_TEXTEQ,
                             CStringGetTextDatum(stage_name));
      index_close(index, AccessShareLock);
      SysScanDesc scan = systable_beginscan(stage, by_name, true, snapshot, 1, &key);
      HeapTuple tuple = systable_getnext(scan);
      if (HeapTupleIsValid(tuple)) {
        bool isnull = false;
        out.found = true;
        out.id = DatumGetInt32(heap_getattr(tuple, a_id, RelationGetDescr(stage), &isnull));
        target = DatumGetObjectId(heap_getattr(tuple, a_target, RelationGetDescr(stage), &isnull));
        // As the statement spelled it: s.xmin::text || ':' || s.ctid::text.
        char ctid[64];
        snprintf(ctid, sizeof ctid, "%u:(%u,%u)", HeapTupleHeaderGetRawXmin(tuple->t_data),
                 ItemPointerGetBlockNumberNoCheck(&tuple->t_self), ItemPointerGetOffsetNumberNoCheck(&tuple->t_self));
        out.version = ctid;
      }
      systable_endscan(scan);
    }
    table_close(stage, NoLock);  // held to commit, as a statement holds it

    if (shape && out.found) {  // another stage reading its table (no index on source: a small table)
      Relation rel = table_open(source_oid, AccessShareLock);
      const AttrNumber a_stage = column_of(rel, "stage_id", INT4OID), a_source = column_of(rel, "source", REGCLASSOID);
      shape = plain_table(rel) && a_stage && a_source;
      if (shape) {
        ScanKeyData key;
        ScanKeyInit(&key, a_source, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(target));
        SysScanDesc scan = systable_beginscan(rel, InvalidOid, false, snapshot, 1, &key);
        HeapTuple tuple;
        while (!out.has_downstream && HeapTupleIsValid(tuple = systable_getnext(scan))) {
          bool isnull = false;
          out.has_downstream = DatumGetInt32(heap_getattr(tuple, a_stage, RelationGetDescr(rel), &isnull)) != out.id;
        }
        systable_endscan(scan);
      }
      table_close(rel, NoLock);  // held to commit, as a statement holds it
    }

    if (shape && out.found) {  // a change record naming it: stage_ids holds its id
      Relation rel = table_open(change_oid, AccessShareLock);
      const AttrNumber a_ids = column_of(rel, "stage_ids", INT4ARRAYOID);
      shape = plain_table(rel) && a_ids;
      if (shape) {
        SysScanDesc scan = systable_beginscan(rel, InvalidOid, false, snapshot, 0, nullptr);
        HeapTuple tuple;
        while (!out.records && HeapTupleIsValid(tuple = systable_getnext(scan))) {
          bool isnull = false;
          const Datum d = heap_getattr(tuple, a_ids, RelationGetDescr(rel), &isnull);
          if (isnull) continue;
          ArrayType* ids = DatumGetArrayTypeP(d);
          Datum* elems = nullptr;
          bool* nulls = nullptr;
          int n = 0;
          deconstruct_array(ids, INT4OID, sizeof(int32), true, TYPALIGN_INT, &elems, &nulls, &n);
          for (int i = 0; i < n && !out.records; ++i) out.records = !nulls[i] && DatumGetInt32(elems[i]) == out.id;
        }
        systable_endscan(scan);
      }
      table_close(rel, NoLock);  // held to commit, as a statement holds it
    }

    if (shape && out.found && delta_queue) {  // a key or marker queued: the index on (stage_id, key)
      Relation rel = table_open(dirty_oid, AccessShareLock);
      const AttrNumber a_stage = column_of(rel, "stage_id", INT4OID);
      const Oid index = a_stage ? btree_on(rel, "dirty_scope_stage_key", a_stage) : InvalidOid;
      shape = plain_table(rel) && OidIsValid(index);
      if (shape) {
        ScanKeyData key;
        ScanKeyInit(&key, a_stage, BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum(out.id));
        SysScanDesc scan = systable_beginscan(rel, index, true, snapshot, 1, &key);
        out.keys_queued = HeapTupleIsValid(systable_getnext(scan));
        systable_endscan(scan);
      }
      table_close(rel, NoLock);  // held to commit, as a statement holds it
    }

    UnregisterSnapshot(snapshot);
    ok = shape;
  });
  if (!ok) return std::nullopt;
  return out;
}

}  // namespace incview::pg
