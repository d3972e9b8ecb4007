#include "pg/capture/change_record.hpp"

#include <string>
#include <unordered_set>

#include "pg/support/guard.hpp"

extern "C" {
#include "access/heapam.h"
#include "access/table.h"
#include "catalog/pg_am.h"
#include "catalog/pg_trigger.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "nodes/makefuncs.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
#include "utils/xid8.h"
}

namespace incview::pg {

namespace {

// incview.source_change's columns, in order (sql/pg_incview--0.1--0.2.sql).
constexpr int kColumns = 5;
const Oid kColumnTypes[kColumns] = {INT4ARRAYOID, XID8OID, JSONBARRAYOID, TIMESTAMPTZOID, INT8OID};

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

// Appends one record. `keys` null: every scope.
void write_record(Oid table, const std::vector<int32>& stage_ids, const std::vector<Datum>* keys) {
  std::vector<Datum> ids(stage_ids.size());
  for (size_t i = 0; i < stage_ids.size(); ++i) ids[i] = Int32GetDatum(stage_ids[i]);
  const Datum* id_data = ids.data();
  const int nids = static_cast<int>(ids.size());
  const Datum* key_data = keys ? keys->data() : nullptr;
  const int nkeys = keys ? static_cast<int>(keys->size()) : 0;
  pg_call([&] {
    Relation rel = table_open(table, RowExclusiveLock);
    TupleDesc desc = RelationGetDescr(rel);
    // A direct heap insert maintains no index and fires nothing: refuse a table that is not
    // the one our script made (an index added by hand would silently miss our rows).
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
    Datum values[kColumns];
    bool nulls[kColumns] = {false, false, keys == nullptr, false, false};
    values[0] = PointerGetDatum(construct_array(const_cast<Datum*>(id_data), nids, INT4OID, 4, true, TYPALIGN_INT));
    values[1] = FullTransactionIdGetDatum(GetTopFullTransactionId());
    values[2] =
        keys ? PointerGetDatum(construct_array(const_cast<Datum*>(key_data), nkeys, JSONBOID, -1, false, TYPALIGN_INT))
             : Datum(0);
    // now(), as dirty_scope.dirtied_at's default: lag counts from the writer's transaction.
    values[3] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
    // The writing statement's command id: a collection earlier in this transaction did not
    // see this record (captured_changes.hpp).
    values[4] = Int64GetDatum(static_cast<int64>(GetCurrentCommandId(true)));
    HeapTuple tuple = heap_form_tuple(desc, values, nulls);
    simple_heap_insert(rel, tuple);
    table_close(rel, NoLock);
  });
}

// The distinct keys of the changed rows. Rows are deduplicated on the raw bytes of their
// key columns first (binary-equal values are equal), and jsonb is built once per distinct
// value by PostgreSQL's own jsonb_build_array, so a key reads exactly as the SQL capture
// and the refresher build it.
class KeyCollector {
 public:
  KeyCollector(const KeyGroup& group, TupleDesc desc, int64 threshold)
      : group_(group), desc_(desc), threshold_(threshold) {
    const int n = static_cast<int>(group.columns.size());
    values_.resize(n);
    nulls_.resize(n);
    pg_call([&] {
      List* args = NIL;
      for (Oid t : group.types) args = lappend(args, makeNullConst(t, -1, InvalidOid));
      FuncExpr* expr =
          makeFuncExpr(F_JSONB_BUILD_ARRAY_ANY, JSONBOID, args, InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
      flinfo_ = static_cast<FmgrInfo*>(palloc0(sizeof(FmgrInfo)));
      fmgr_info(F_JSONB_BUILD_ARRAY_ANY, flinfo_);
      fmgr_info_set_expr(reinterpret_cast<Node*>(expr), flinfo_);
      fcinfo_ = static_cast<FunctionCallInfo>(palloc0(SizeForFunctionCallInfo(n)));
      InitFunctionCallInfoData(*fcinfo_, flinfo_, n, InvalidOid, nullptr, nullptr);
      slot_ = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
    });
  }
  ~KeyCollector() {
    if (slot_) {
      TupleTableSlot* s = slot_;
      try {
        pg_call([&] { ExecDropSingleTupleTableSlot(s); });
      } catch (...) {  // the statement's memory goes with its context anyway
      }
    }
  }
  KeyCollector(const KeyCollector&) = delete;
  KeyCollector& operator=(const KeyCollector&) = delete;

  // Adds the keys of every row of the transition table; false once there are more
  // distinct keys than the group's threshold (the caller writes a marker).
  bool add_rows(Tuplestorestate* rows) {
    if (!rows) return true;
    pg_call([&] {
      // A read pointer of our own (other triggers read the same transition table), from the start.
      const int ptr = tuplestore_alloc_read_pointer(rows, EXEC_FLAG_REWIND);
      tuplestore_select_read_pointer(rows, ptr);
      tuplestore_rescan(rows);
    });
    std::string raw;
    for (;;) {
      bool got = false;
      pg_call([&] { got = tuplestore_gettupleslot(rows, true, false, slot_); });
      if (!got) return true;
      raw.clear();
      for (size_t i = 0; i < group_.columns.size(); ++i) append_raw(i, raw);
      if (!seen_.insert(raw).second) continue;
      if (static_cast<int64>(seen_.size()) > threshold_) return false;
      Datum key = 0;
      pg_call([&] {
        for (size_t i = 0; i < values_.size(); ++i) {
          fcinfo_->args[i].value = values_[i];
          fcinfo_->args[i].isnull = nulls_[i];
        }
        fcinfo_->isnull = false;
        key = FunctionCallInvoke(fcinfo_);
      });
      keys_.push_back(key);
    }
  }

  const std::vector<Datum>& keys() const { return keys_; }

 private:
  // The column's value (kept for jsonb) and its bytes, null flag first.
  void append_raw(size_t i, std::string& raw) {
    const AttrNumber att = group_.columns[i];
    Form_pg_attribute a = TupleDescAttr(desc_, att - 1);
    Datum d = 0;
    bool isnull = false;
    pg_call([&] {
      d = slot_getattr(slot_, att, &isnull);
      if (!isnull && a->attlen == -1) d = PointerGetDatum(pg_detoast_datum_packed(reinterpret_cast<varlena*>(d)));
    });
    values_[i] = d;
    nulls_[i] = isnull;
    raw.push_back(isnull ? '\0' : '\1');
    if (isnull) return;
    if (a->attbyval) {
      raw.append(reinterpret_cast<const char*>(&d), sizeof(Datum));
    } else if (a->attlen == -1) {
      const varlena* v = reinterpret_cast<const varlena*>(DatumGetPointer(d));
      const uint32 len = VARSIZE_ANY_EXHDR(v);
      raw.append(reinterpret_cast<const char*>(&len), sizeof len);
      raw.append(VARDATA_ANY(v), len);
    } else {
      raw.append(DatumGetPointer(d), a->attlen);
    }
  }

  const KeyGroup& group_;
  TupleDesc desc_;
  int64 threshold_;
  FmgrInfo* flinfo_ = nullptr;
  FunctionCallInfo fcinfo_ = nullptr;
  TupleTableSlot* slot_ = nullptr;
  std::vector<Datum> values_;
  std::vector<bool> nulls_;
  std::unordered_set<std::string> seen_;
  std::vector<Datum> keys_;
};

}  // namespace

bool builtin_key_type(Oid type) {
  Oid base = InvalidOid;
  pg_call([&] { base = getBaseType(type); });
  switch (base) {
    case INT2OID:
    case INT4OID:
    case INT8OID:
    case OIDOID:
    case NUMERICOID:
    case BOOLOID:
    case TEXTOID:
    case VARCHAROID:
    case UUIDOID:
    case DATEOID: return true;
    default: return false;
  }
}

Oid change_record_table() {
  Oid rel = InvalidOid;
  pg_call([&] {
    const Oid ns = get_namespace_oid("incview", true);
    if (OidIsValid(ns)) rel = get_relname_relid("source_change", ns);
  });
  return rel;
}

void write_marker_record(Oid table, const std::vector<int32>& stage_ids) { write_record(table, stage_ids, nullptr); }

void capture_group(Oid table, const KeyGroup& group, const TriggerData* td, CaptureEvent event, int64 rows,
                   int64 threshold) {
  if (event == CaptureEvent::Truncate) {
    write_record(table, group.stage_ids, nullptr);
    return;
  }
  if (rows == 0) return;
  if (group.columns.empty()) {
    write_record(table, group.stage_ids, nullptr);
    return;
  }
  KeyCollector keys(group, td->tg_relation->rd_att, threshold);
  const bool fits = keys.add_rows(event == CaptureEvent::Delete ? nullptr : td->tg_newtable) &&
                    keys.add_rows(event == CaptureEvent::Insert ? nullptr : td->tg_oldtable);
  if (!fits)
    write_record(table, group.stage_ids, nullptr);
  else if (!keys.keys().empty())
    write_record(table, group.stage_ids, &keys.keys());
}

}  // namespace incview::pg
