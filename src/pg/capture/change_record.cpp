#include "pg/capture/change_record.hpp"

#include <string>
#include <unordered_set>

#include "pg/catalog/change_rows.hpp"
#include "pg/support/guard.hpp"

extern "C" {
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "nodes/makefuncs.h"
#include "utils/fmgroids.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/tuplestore.h"
}

namespace incview::pg {

namespace {

// jsonb_build_array(v1, ...) of integer values (the group's integer_bases): the array
// jsonb_build_array builds from them, one numeric per value (it makes that numeric from the
// value's text form: the same number, so the same bytes) and null for NULL, without its
// per-call type lookups and text round trip (1.4 % of a one-row writer's CPU, of the 3.4 %
// its key derivation took, in the profile of bench/capture_fanout.md). Inside pg_call.
Datum integer_key(const std::vector<Datum>& values, const std::vector<bool>& nulls, const std::vector<Oid>& bases) {
  JsonbParseState* state = nullptr;
  pushJsonbValue(&state, WJB_BEGIN_ARRAY, nullptr);
  for (size_t i = 0; i < values.size(); ++i) {
    JsonbValue v;
    if (nulls[i]) {
      v.type = jbvNull;
    } else {
      const int64 x = bases[i] == INT2OID   ? DatumGetInt16(values[i])
                      : bases[i] == INT4OID ? DatumGetInt32(values[i])
                                            : DatumGetInt64(values[i]);
      v.type = jbvNumeric;
      v.val.numeric = int64_to_numeric(x);
    }
    pushJsonbValue(&state, WJB_ELEM, &v);
  }
  JsonbValue* array = pushJsonbValue(&state, WJB_END_ARRAY, nullptr);
  return JsonbPGetDatum(JsonbValueToJsonb(array));
}

// The distinct keys of the changed rows. Rows are deduplicated on the raw bytes of their
// key columns first (binary-equal values are equal), and jsonb is built once per distinct
// value by PostgreSQL's own jsonb_build_array (integer keys: integer_key), so a key reads
// exactly as the SQL capture and the refresher build it.
class KeyCollector {
 public:
  KeyCollector(const KeyGroup& group, TupleDesc desc, int64 threshold)
      : group_(group), desc_(desc), threshold_(threshold) {
    const int n = static_cast<int>(group.columns.size());
    values_.resize(n);
    nulls_.resize(n);
    pg_call([&] { slot_ = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple); });
    if (!group.integer_bases.empty()) return;
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
      if (!first_sight(raw)) continue;
      if (distinct_ > threshold_) return false;
      Datum key = 0;
      pg_call([&] {
        if (!group_.integer_bases.empty()) {
          key = integer_key(values_, nulls_, group_.integer_bases);
          return;
        }
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
  // Whether this key's bytes are new, counting it. A statement's first few keys (a
  // single-row write has one, an UPDATE's old and new two) are compared in a short list:
  // no hashing, no node allocations, which were most of the cost of a one-row capture's
  // deduplication; beyond that, a hash set.
  bool first_sight(const std::string& raw) {
    if (seen_.empty()) {
      for (const auto& k : few_)
        if (k == raw) return false;
      if (few_.size() < kFew) {
        few_.push_back(raw);
        ++distinct_;
        return true;
      }
      seen_.insert(few_.begin(), few_.end());
    }
    if (!seen_.insert(raw).second) return false;
    ++distinct_;
    return true;
  }

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
  static constexpr size_t kFew = 8;
  std::vector<std::string> few_;
  std::unordered_set<std::string> seen_;
  int64 distinct_ = 0;
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

std::vector<Oid> integer_bases(const std::vector<Oid>& types) {
  std::vector<Oid> bases;
  for (Oid t : types) {
    Oid base = InvalidOid;
    pg_call([&] { base = getBaseType(t); });
    if (base != INT2OID && base != INT4OID && base != INT8OID) return {};
    bases.push_back(base);
  }
  return bases;
}

void capture_group(Oid table, const KeyGroup& group, const TriggerData* td, CaptureEvent event, int64 rows,
                   int64 threshold) {
  if (event == CaptureEvent::Truncate) {
    append_change_record(table, group.stage_ids, nullptr);
    return;
  }
  if (rows == 0) return;
  if (group.columns.empty()) {
    append_change_record(table, group.stage_ids, nullptr);
    return;
  }
  KeyCollector keys(group, td->tg_relation->rd_att, threshold);
  const bool fits = keys.add_rows(event == CaptureEvent::Delete ? nullptr : td->tg_newtable) &&
                    keys.add_rows(event == CaptureEvent::Insert ? nullptr : td->tg_oldtable);
  if (!fits)
    append_change_record(table, group.stage_ids, nullptr);
  else if (!keys.keys().empty())
    append_change_record(table, group.stage_ids, &keys.keys());
}

}  // namespace incview::pg
