#include "pg/refresh/key_batch.hpp"

#include "core/error.hpp"
#include "pg/support/guard.hpp"
#include "pg/support/spi.hpp"

namespace incview::pg {

namespace {

Oid array_type_of(Oid elem) {
  Oid array = InvalidOid;
  pg_call([&] { array = get_array_type(elem); });
  if (array == InvalidOid)
    throw Error(sqlstate::kFeatureNotSupported, "scope column type has no array type",
                "type oid " + std::to_string(elem));
  return array;
}

}  // namespace

std::vector<KeyBatch> batches_from_result(const std::vector<Oid>& elem_types, int64 batch_size) {
  SPITupleTable* table = SPI_tuptable;
  const uint64 rows = SPI_processed;
  const int ncols = static_cast<int>(elem_types.size());
  if (batch_size < 1) batch_size = 1;
  std::vector<KeyBatch> out;
  for (uint64 lo = 0; lo < rows; lo += static_cast<uint64>(batch_size)) {
    const uint64 hi = std::min<uint64>(rows, lo + static_cast<uint64>(batch_size));
    KeyBatch batch;
    batch.count = static_cast<int64>(hi - lo);
    for (int c = 0; c < ncols; ++c) {
      const Oid elem = elem_types[c];
      Datum array = 0;
      bool has_null = false;
      pg_call([&] {
        int16 typlen;
        bool typbyval;
        char typalign;
        get_typlenbyvalalign(elem, &typlen, &typbyval, &typalign);
        const int n = static_cast<int>(hi - lo);
        Datum* values = static_cast<Datum*>(palloc(sizeof(Datum) * n));
        bool* nulls = static_cast<bool*>(palloc(sizeof(bool) * n));
        for (int i = 0; i < n; ++i) {
          values[i] = SPI_getbinval(table->vals[lo + i], table->tupdesc, c + 1, &nulls[i]);
          has_null = has_null || nulls[i];
        }
        int dims[1] = {n};
        int lbs[1] = {1};
        array = PointerGetDatum(construct_md_array(values, nulls, 1, dims, lbs, elem, typlen, typbyval, typalign));
      });
      batch.arrays.push_back(array);
      batch.nulls.push_back(has_null);
    }
    out.push_back(std::move(batch));
  }
  return out;
}

std::vector<SpiArg> batch_args(const KeyBatch& batch, const std::vector<Oid>& elem_types) {
  std::vector<SpiArg> args;
  for (size_t c = 0; c < elem_types.size(); ++c) args.push_back({array_type_of(elem_types[c]), batch.arrays[c], false});
  return args;
}

std::vector<std::string> batch_literals(const KeyBatch& batch, const std::vector<Oid>& elem_types) {
  std::vector<std::string> out;
  for (size_t c = 0; c < elem_types.size(); ++c) {
    const Oid array_type = array_type_of(elem_types[c]);
    const Datum value = batch.arrays[c];
    char* text = nullptr;
    pg_call([&] {
      Oid out_fn;
      bool varlena;
      getTypeOutputInfo(array_type, &out_fn, &varlena);
      text = OidOutputFunctionCall(out_fn, value);
    });
    out.emplace_back(text);
  }
  return out;
}

}  // namespace incview::pg
