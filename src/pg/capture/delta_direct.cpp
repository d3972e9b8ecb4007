#include "pg/capture/delta_direct.hpp"

#include <cstring>
#include <memory>
#include <vector>

#include "pg/catalog/delta_queue_rows.hpp"
#include "pg/support/guard.hpp"
#include "pg/support/settings.hpp"

extern "C" {
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "parser/parse_coerce.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/tuplestore.h"
}

namespace incview::pg {

// One queue column: which source column it reads and how.
struct DirectColumn {
  DirectKind kind = DirectKind::Count;
  AttrNumber att = InvalidAttrNumber;  // the source column (not for count)
  Oid from = InvalidOid;               // sum: the source column's base type
  Oid to = InvalidOid;                 // the queue column's type
};

struct DeltaDirectLayout {
  bool usable = false;
  std::vector<DirectColumn> columns;
  std::vector<Oid> types;  // the queue's column types, in order
};

namespace {

Oid type_named(const std::string& name) {
  if (name == "smallint") return INT2OID;
  if (name == "integer") return INT4OID;
  if (name == "bigint") return INT8OID;
  if (name == "numeric") return NUMERICOID;
  if (name == "real") return FLOAT4OID;
  if (name == "double precision") return FLOAT8OID;
  return InvalidOid;
}

// The casts a sum's partial goes through in the statement (core/delta_plan.cpp,
// partials_select): sum((x)::partial_type) over int2/int4 -> bigint, int8 -> numeric, numeric,
// real -> real (sum) or double precision (avg), double precision.
bool known_cast(Oid from, Oid to) {
  switch (from) {
    case INT2OID:
    case INT4OID: return to == INT8OID;
    case INT8OID:
    case NUMERICOID: return to == NUMERICOID;
    case FLOAT4OID: return to == FLOAT4OID || to == FLOAT8OID;
    case FLOAT8OID: return to == FLOAT8OID;
    default: return false;
  }
}

// The source column whose quoted name is exactly `text` (the deparsed expression).
AttrNumber column_named(TupleDesc desc, const std::string& text) {
  const char* want = text.c_str();
  AttrNumber found = InvalidAttrNumber;
  pg_call([&] {
    for (int i = 0; i < desc->natts && found == InvalidAttrNumber; ++i) {
      Form_pg_attribute a = TupleDescAttr(desc, i);
      if (!a->attisdropped && strcmp(want, quote_identifier(NameStr(a->attname))) == 0) found = a->attnum;
    }
  });
  return found;
}

Oid base_type(Oid type) {
  Oid base = InvalidOid;
  pg_call([&] { base = getBaseType(type); });
  return base;
}

bool binary_coercible(Oid from, Oid to) {
  bool yes = from == to;
  if (!yes && OidIsValid(from) && OidIsValid(to)) pg_call([&] { yes = IsBinaryCoercible(from, to); });
  return yes;
}

DeltaDirectLayout resolve(const StageCapture& sc, TupleDesc src) {
  DeltaDirectLayout l;
  l.types = delta_queue_types(sc.delta_queue);
  if (l.types.size() != sc.direct.size()) return l;
  for (size_t i = 0; i < sc.direct.size(); ++i) {
    const DirectPart& p = sc.direct[i];
    DirectColumn c;
    c.kind = p.kind;
    c.to = l.types[i];
    if (p.kind != DirectKind::Count) {
      c.att = column_named(src, p.text);
      if (c.att == InvalidAttrNumber) return l;
    }
    const Oid type = c.att == InvalidAttrNumber ? InvalidOid : TupleDescAttr(src, c.att - 1)->atttypid;
    bool ok = false;
    switch (p.kind) {
      case DirectKind::Count:
      case DirectKind::N: ok = c.to == INT8OID; break;
      case DirectKind::Sum:
        c.from = base_type(type);
        ok = c.from == type_named(p.arg_type) && c.to == type_named(p.partial_type) && known_cast(c.from, c.to);
        break;
      case DirectKind::Scale: ok = base_type(type) == NUMERICOID && c.to == INT4OID; break;
      case DirectKind::Key:
      case DirectKind::Ins:
      case DirectKind::Del: ok = binary_coercible(type, c.to); break;
    }
    if (!ok) return l;
    l.columns.push_back(c);
  }
  l.usable = true;
  return l;
}

// scale(x) as the SQL function returns it: NULL for NaN and the infinities.
void numeric_scale_of(Datum x, Datum* out, bool* isnull) {
  LOCAL_FCINFO(fcinfo, 1);
  InitFunctionCallInfoData(*fcinfo, nullptr, 1, InvalidOid, nullptr, nullptr);
  fcinfo->args[0].value = x;
  fcinfo->args[0].isnull = false;
  *out = numeric_scale(fcinfo);
  *isnull = fcinfo->isnull;
}

// The sum's partial of one value: cast as the statement casts it, negated for an old row.
Datum sum_partial(const DirectColumn& c, Datum x, bool negate) {
  switch (c.from) {
    case INT2OID: return Int64GetDatum(negate ? -int64{DatumGetInt16(x)} : int64{DatumGetInt16(x)});
    case INT4OID: return Int64GetDatum(negate ? -int64{DatumGetInt32(x)} : int64{DatumGetInt32(x)});
    case INT8OID: {
      Datum n = NumericGetDatum(int64_to_numeric(DatumGetInt64(x)));
      return negate ? DirectFunctionCall1(numeric_uminus, n) : n;
    }
    case NUMERICOID: return negate ? DirectFunctionCall1(numeric_uminus, x) : x;
    case FLOAT4OID:
      if (c.to == FLOAT8OID) {
        const float8 v = static_cast<float8>(DatumGetFloat4(x));
        return Float8GetDatum(negate ? -v : v);
      }
      return Float4GetDatum(negate ? -DatumGetFloat4(x) : DatumGetFloat4(x));
    default: {
      const float8 v = DatumGetFloat8(x);
      return Float8GetDatum(negate ? -v : v);
    }
  }
}

// The row's values into the queue row. Inside pg_call.
void build_row(const DeltaDirectLayout& l, TupleTableSlot* slot, bool old_row, Datum* values, bool* nulls) {
  const int64 one = old_row ? -1 : 1;
  for (size_t i = 0; i < l.columns.size(); ++i) {
    const DirectColumn& c = l.columns[i];
    bool isnull = false;
    Datum x = 0;
    if (c.att != InvalidAttrNumber) {
      x = slot_getattr(slot, c.att, &isnull);
      if (!isnull && TupleDescAttr(slot->tts_tupleDescriptor, c.att - 1)->attlen == -1)
        x = PointerGetDatum(pg_detoast_datum_packed(reinterpret_cast<varlena*>(DatumGetPointer(x))));
    }
    nulls[i] = false;
    switch (c.kind) {
      case DirectKind::Key: values[i] = x, nulls[i] = isnull; break;
      case DirectKind::Count: values[i] = Int64GetDatum(one); break;
      case DirectKind::N: values[i] = Int64GetDatum(isnull ? 0 : one); break;
      case DirectKind::Sum:
        nulls[i] = isnull;
        values[i] = isnull ? Datum(0) : sum_partial(c, x, old_row);
        break;
      case DirectKind::Scale:
        nulls[i] = true;
        values[i] = 0;
        if (old_row && !isnull) numeric_scale_of(x, &values[i], &nulls[i]);
        break;
      case DirectKind::Ins:
      case DirectKind::Del: {
        const bool mine = (c.kind == DirectKind::Del) == old_row;
        nulls[i] = !mine || isnull;
        values[i] = nulls[i] ? Datum(0) : x;
        break;
      }
    }
  }
}

}  // namespace

bool capture_delta_direct(StageCapture& sc, const TriggerData* td, CaptureEvent event) {
  if (sc.direct.empty() || !settings.delta_capture_direct) return false;
  if (event != CaptureEvent::Insert && event != CaptureEvent::Delete) return false;
  const bool old_row = event == CaptureEvent::Delete;
  Tuplestorestate* rows = old_row ? td->tg_oldtable : td->tg_newtable;
  if (rows == nullptr) return false;
  int64 count = 0;
  pg_call([&] { count = tuplestore_tuple_count(rows); });
  if (count != 1) return false;
  TupleDesc src = td->tg_relation->rd_att;
  if (!sc.direct_layout) sc.direct_layout = std::make_shared<DeltaDirectLayout>(resolve(sc, src));
  const DeltaDirectLayout& l = *sc.direct_layout;
  if (!l.usable) return false;
  std::vector<Datum> values(l.columns.size());
  std::unique_ptr<bool[]> nulls(new bool[l.columns.size()]);
  TupleTableSlot* slot = nullptr;
  bool got = false;
  pg_call([&] {
    // A read pointer of our own (other triggers read the same transition table), from the start.
    const int ptr = tuplestore_alloc_read_pointer(rows, EXEC_FLAG_REWIND);
    tuplestore_select_read_pointer(rows, ptr);
    tuplestore_rescan(rows);
    slot = MakeSingleTupleTableSlot(src, &TTSOpsMinimalTuple);
    got = tuplestore_gettupleslot(rows, true, false, slot);
    if (got) build_row(l, slot, old_row, values.data(), nulls.get());
  });
  const bool done = got && append_delta_row(sc.delta_queue, l.types, values.data(), nulls.get());
  pg_call([&] { ExecDropSingleTupleTableSlot(slot); });
  return done;
}

}  // namespace incview::pg
