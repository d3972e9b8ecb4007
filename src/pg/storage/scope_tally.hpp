// Counts a stage's distinct scopes while its rows are written (a first build's or a
// rebuild's fill, storage_swap.cpp), so that no second scan of the new table counts them
// (issue 12: create_stage next to CREATE MATERIALIZED VIEW). Distinct by the 64-bit
// combination of each scope column's extended hash (the type's hash opclass, under the
// column's collation): two different scopes count as one only when their 64-bit hashes
// collide (for n scopes about n^2 / 2^65: under 1e-7 for two million). Gives up (no count)
// when a scope column's type has no extended hash function, or past kMaxScopes scopes,
// which bounds its memory (16 bytes a scope, 16 MB at most): the caller then counts by
// SQL as before.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pg/support/pg_headers.hpp"

namespace incview::pg {

class ScopeTally {
 public:
  static constexpr size_t kMaxScopes = size_t{1} << 20;

  // `scope`: the stage's scope column names; `result`: the fill query's columns. Off when
  // a scope column is not among them or its type cannot be hashed.
  ScopeTally(const std::vector<std::string>& scope, TupleDesc result);

  // One row of the query. Never throws; may raise a PostgreSQL ERROR from the type's hash
  // function (called from the executor's DestReceiver, a C frame).
  void add(TupleTableSlot* slot);

  // The count, or nothing when the tally gave up.
  std::optional<int64> count() const;

 private:
  void insert(uint64 hash) noexcept;
  void grow() noexcept;

  bool on_ = false;
  std::vector<int> columns_;  // 0-based query columns of the scope, in scope order
  int max_column_ = 0;
  std::vector<FmgrInfo> hash_;
  std::vector<Oid> collation_;
  std::vector<uint64> table_;  // open addressing, 0 = empty, size a power of 2
  size_t used_ = 0;
};

}  // namespace incview::pg
