// Batches of scope keys, carried as one typed array per scope column: the shape the
// scoped statements of StageSql take as parameters ($1, $2, ...).
#pragma once
#include "pg/support/pg_headers.hpp"

#include "core/stage_sql.hpp"
#include "pg/support/spi.hpp"

namespace incview::pg {

struct KeyBatch {
  std::vector<Datum> arrays;  // palloc'd arrays, one per scope column
  NullColumns nulls;          // which columns contain a NULL in this batch
  int64 count = 0;            // keys in the batch
};

// Splits the rows of the current SPI_tuptable (its first k columns are the scope key,
// with the given element types) into batches of at most batch_size keys. The arrays
// live in the current memory context, independent of later SPI calls.
std::vector<KeyBatch> batches_from_result(const std::vector<Oid>& elem_types, int64 batch_size);

// The SPI arguments carrying one batch.
std::vector<SpiArg> batch_args(const KeyBatch& batch, const std::vector<Oid>& elem_types);

// Text form of each array (for EXPLAIN output a user can rerun).
std::vector<std::string> batch_literals(const KeyBatch& batch, const std::vector<Oid>& elem_types);

}  // namespace incview::pg
