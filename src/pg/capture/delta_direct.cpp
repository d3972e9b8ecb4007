#include "pg/capture/delta_direct.hpp"

#include <cmath>
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
#include "utils/typcache.h"
#include "access/nbtree.h"
#include "access/transam.h"
#include "catalog/pg_am.h"
#include "commands/defrem.h"
#include "utils/datum.h"
}

namespace incview::pg {

// One queue column: which source column it reads and how.
struct DirectColumn {
  DirectKind kind = DirectKind::Count;
  AttrNumber att = InvalidAttrNumber;  // the source column (not for count)
  Oid from = InvalidOid;               // sum: the source column's base type
  Oid to = InvalidOid;                 // the queue column's type
  bool equality_is_identity = false;   // key: its GROUP BY equality is identity (update_rows)
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

// Whether the equality GROUP BY uses for `type` under `collation` (the type's default btree
// equality, which its hash opclass shares) holds only for identical bytes: the opclass's
// equalimage support function, as B-tree deduplication asks it. No opclass, no function or a
// different operator, or a function not built into PostgreSQL (this runs as the writer): false
// (the statement decides).
bool equality_is_identity(Oid type, Oid collation) {
  bool yes = false;
  pg_call([&] {
    const Oid opclass = GetDefaultOpClass(type, BTREE_AM_OID);
    if (!OidIsValid(opclass)) return;
    const Oid family = get_opclass_family(opclass);
    const Oid in = get_opclass_input_type(opclass);
    TypeCacheEntry* tc = lookup_type_cache(type, TYPECACHE_EQ_OPR);
    if (tc->eq_opr != get_opfamily_member(family, in, in, BTEqualStrategyNumber)) return;
    const Oid proc = get_opfamily_proc(family, in, in, BTEQUALIMAGE_PROC);
    if (!OidIsValid(proc) || proc >= FirstNormalObjectId) return;  // a built-in function only: no user code here
    yes = DatumGetBool(OidFunctionCall1Coll(proc, collation, ObjectIdGetDatum(in)));
  });
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
        ok = binary_coercible(type, c.to);
        if (ok)
          c.equality_is_identity = equality_is_identity(base_type(type), TupleDescAttr(src, c.att - 1)->attcollation);
        break;
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

// One row of a transition table, read through a read pointer of our own (other triggers read
// the same table), from the start. Inside pg_call.
bool read_one(Tuplestorestate* rows, TupleTableSlot* slot) {
  const int ptr = tuplestore_alloc_read_pointer(rows, EXEC_FLAG_REWIND);
  tuplestore_select_read_pointer(rows, ptr);
  tuplestore_rescan(rows);
  return tuplestore_gettupleslot(rows, true, false, slot);
}

// The new row's value plus the old row's (negated) partial, as the statement's sum over the
// two rows adds them; false where float addition overflows (the statement raises the error).
// Inside pg_call.
bool add_partials(const DirectColumn& c, Datum a, bool a_null, Datum b, bool b_null, Datum* out, bool* out_null,
                  bool* nonzero) {
  *out_null = a_null && b_null;
  *nonzero = false;
  if (*out_null) return true;
  if (a_null || b_null) {
    *out = a_null ? b : a;
  } else {
    switch (c.to) {
      case INT8OID: *out = Int64GetDatum(DatumGetInt64(a) + DatumGetInt64(b)); break;  // int4 range: no overflow
      case NUMERICOID: *out = DirectFunctionCall2(numeric_add, a, b); break;
      case FLOAT4OID: {
        const float4 x = DatumGetFloat4(a), y = DatumGetFloat4(b), r = x + y;
        if (std::isinf(r) && !std::isinf(x) && !std::isinf(y)) return false;
        *out = Float4GetDatum(r);
        break;
      }
      default: {
        const float8 x = DatumGetFloat8(a), y = DatumGetFloat8(b), r = x + y;
        if (std::isinf(r) && !std::isinf(x) && !std::isinf(y)) return false;
        *out = Float8GetDatum(r);
        break;
      }
    }
  }
  switch (c.to) {  // `<> 0` as the statement's HAVING asks it (NaN <> 0 is true)
    case INT8OID: *nonzero = DatumGetInt64(*out) != 0; break;
    case NUMERICOID:
      *nonzero = DatumGetBool(DirectFunctionCall2(numeric_ne, *out, NumericGetDatum(int64_to_numeric(0))));
      break;
    case FLOAT4OID: *nonzero = DatumGetFloat4(*out) != 0; break;
    default: *nonzero = DatumGetFloat8(*out) != 0; break;
  }
  return true;
}

// A stayed row's one queue row: the INSERT's and the DELETE's rows (new, old) combined as the
// statement combines them (insert_partials: sum, max for the scale, min/max candidates each
// from its side). `nonzero` per column for same_group_queued. Inside pg_call.
bool combine_rows(const DeltaDirectLayout& l, const Datum* nv, const bool* nn, const Datum* ov, const bool* on,
                  Datum* values, bool* nulls, std::vector<bool>* nonzero) {
  for (size_t i = 0; i < l.columns.size(); ++i) {
    const DirectColumn& c = l.columns[i];
    bool nz = false;
    switch (c.kind) {
      case DirectKind::Key:
      case DirectKind::Ins: values[i] = nv[i], nulls[i] = nn[i]; break;  // the DELETE's row has NULL
      case DirectKind::Scale:
      case DirectKind::Del: values[i] = ov[i], nulls[i] = on[i]; break;  // the INSERT's row has NULL
      case DirectKind::Count:
      case DirectKind::N:
        values[i] = Int64GetDatum(DatumGetInt64(nv[i]) + DatumGetInt64(ov[i]));
        nulls[i] = false;
        nz = DatumGetInt64(values[i]) != 0;
        break;
      case DirectKind::Sum:
        if (!add_partials(c, nv[i], nn[i], ov[i], on[i], &values[i], &nulls[i], &nz)) return false;
        break;
    }
    (*nonzero)[i] = nz;
  }
  return true;
}

// A one-row UPDATE (update_rows): one combined row, the two rows, nothing (a stayed row whose
// partials cancel, as the statement's HAVING drops it) or false: the statement.
bool capture_update(StageCapture& sc, const DeltaDirectLayout& l, const TriggerData* td) {
  TupleDesc src = td->tg_relation->rd_att;
  const size_t n = l.columns.size();
  std::vector<Datum> ov(n), nv(n), values(n);
  std::unique_ptr<bool[]> on(new bool[n]), nn(new bool[n]), nulls(new bool[n]);
  std::vector<bool> nonzero(n);
  std::vector<KeyChange> keys;
  TupleTableSlot* old_slot = nullptr;
  TupleTableSlot* new_slot = nullptr;
  bool got = false;
  pg_call([&] {
    old_slot = MakeSingleTupleTableSlot(src, &TTSOpsMinimalTuple);
    new_slot = MakeSingleTupleTableSlot(src, &TTSOpsMinimalTuple);
    got = read_one(td->tg_oldtable, old_slot) && read_one(td->tg_newtable, new_slot);
    if (!got) return;
    build_row(l, old_slot, true, ov.data(), on.get());
    build_row(l, new_slot, false, nv.data(), nn.get());
    for (size_t i = 0; i < n; ++i) {
      const DirectColumn& c = l.columns[i];
      if (c.kind != DirectKind::Key) continue;
      KeyChange k;
      k.equality_is_identity = c.equality_is_identity;
      const Form_pg_attribute a = TupleDescAttr(src, c.att - 1);
      k.identical = on[i] || nn[i] ? on[i] == nn[i] : datum_image_eq(ov[i], nv[i], a->attbyval, a->attlen);
      keys.push_back(k);
    }
  });
  bool done = false;
  if (got) switch (update_rows(keys)) {
      case UpdateRows::Two:
        // both or neither: the statement must not run after one of them was written
        done =
            append_delta_rows(sc.delta_queue, l.types, {DeltaRow{ov.data(), on.get()}, DeltaRow{nv.data(), nn.get()}});
        break;
      case UpdateRows::One: {
        bool combined = false;
        pg_call([&] {
          combined = combine_rows(l, nv.data(), nn.get(), ov.data(), on.get(), values.data(), nulls.get(), &nonzero);
        });
        if (!combined) break;
        done = !same_group_queued(sc.direct, nonzero) ||
               append_delta_row(sc.delta_queue, l.types, values.data(), nulls.get());
        break;
      }
      case UpdateRows::Statement: break;
    }
  pg_call([&] {
    ExecDropSingleTupleTableSlot(old_slot);
    ExecDropSingleTupleTableSlot(new_slot);
  });
  return done;
}

}  // namespace

bool capture_delta_direct(StageCapture& sc, const TriggerData* td, CaptureEvent event) {
  if (sc.direct.empty() || !settings.delta_capture_direct) return false;
  if (event == CaptureEvent::Truncate) return false;
  const bool update = event == CaptureEvent::Update;
  const bool old_row = event == CaptureEvent::Delete;
  if ((update || old_row) && td->tg_oldtable == nullptr) return false;
  if ((update || !old_row) && td->tg_newtable == nullptr) return false;
  int64 count = 1;
  pg_call([&] {
    if (update || old_row) count = tuplestore_tuple_count(td->tg_oldtable);
    if (count == 1 && (update || !old_row)) count = tuplestore_tuple_count(td->tg_newtable);
  });
  if (count != 1) return false;
  TupleDesc src = td->tg_relation->rd_att;
  if (!sc.direct_layout) sc.direct_layout = std::make_shared<DeltaDirectLayout>(resolve(sc, src));
  const DeltaDirectLayout& l = *sc.direct_layout;
  if (!l.usable) return false;
  if (update) return capture_update(sc, l, td);
  Tuplestorestate* rows = old_row ? td->tg_oldtable : td->tg_newtable;
  std::vector<Datum> values(l.columns.size());
  std::unique_ptr<bool[]> nulls(new bool[l.columns.size()]);
  TupleTableSlot* slot = nullptr;
  bool got = false;
  pg_call([&] {
    slot = MakeSingleTupleTableSlot(src, &TTSOpsMinimalTuple);
    got = read_one(rows, slot);
    if (got) build_row(l, slot, old_row, values.data(), nulls.get());
  });
  const bool done = got && append_delta_row(sc.delta_queue, l.types, values.data(), nulls.get());
  pg_call([&] { ExecDropSingleTupleTableSlot(slot); });
  return done;
}

}  // namespace incview::pg
