#include "pg/storage/scope_tally.hpp"

#include "pg/support/guard.hpp"

extern "C" {
#include "common/hashfn.h"
#include "executor/tuptable.h"
#include "utils/typcache.h"
}

#include <new>

namespace incview::pg {

namespace {
// The hash a NULL scope value contributes (any fixed value will do: NULL is a scope too).
constexpr uint64 kNullHash = 0x9e3779b97f4a7c15ULL;
constexpr size_t kInitialSlots = 1024;
}  // namespace

ScopeTally::ScopeTally(const std::vector<std::string>& scope, TupleDesc result) {
  bool ok = !scope.empty();
  for (const auto& name : scope) {
    int found = -1;
    for (int i = 0; i < result->natts; ++i)
      if (!TupleDescAttr(result, i)->attisdropped && name == NameStr(TupleDescAttr(result, i)->attname)) found = i;
    if (found < 0) {
      ok = false;
      break;
    }
    Form_pg_attribute a = TupleDescAttr(result, found);
    Oid proc = InvalidOid;
    pg_call([&] {
      TypeCacheEntry* t = lookup_type_cache(a->atttypid, TYPECACHE_HASH_EXTENDED_PROC);
      proc = t->hash_extended_proc;
    });
    if (!OidIsValid(proc)) {
      ok = false;
      break;
    }
    FmgrInfo f;
    pg_call([&] { fmgr_info(proc, &f); });
    columns_.push_back(found);
    if (found > max_column_) max_column_ = found;
    hash_.push_back(f);
    collation_.push_back(a->attcollation);
  }
  if (!ok) return;
  try {
    table_.assign(kInitialSlots, 0);
  } catch (const std::bad_alloc&) {
    return;
  }
  on_ = true;
}

void ScopeTally::add(TupleTableSlot* slot) {
  if (!on_) return;
  slot_getsomeattrs(slot, max_column_ + 1);
  uint64 h = 0;
  for (size_t i = 0; i < columns_.size(); ++i) {
    const int c = columns_[i];
    const uint64 v = slot->tts_isnull[c] ? kNullHash
                                         : DatumGetUInt64(FunctionCall2Coll(&hash_[i], collation_[i],
                                                                            slot->tts_values[c], UInt64GetDatum(0)));
    h = hash_combine64(h, v);
  }
  insert(h == 0 ? 1 : h);
}

void ScopeTally::insert(uint64 hash) noexcept {
  size_t mask = table_.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    if (table_[i] == hash) return;
    if (table_[i] == 0) {
      table_[i] = hash;
      if (++used_ * 2 > table_.size()) grow();
      return;
    }
  }
}

void ScopeTally::grow() noexcept {
  if (used_ > kMaxScopes) {
    on_ = false;
    std::vector<uint64>().swap(table_);
    return;
  }
  std::vector<uint64> old;
  old.swap(table_);
  try {
    table_.assign(old.size() * 2, 0);
  } catch (const std::bad_alloc&) {
    on_ = false;
    return;
  }
  used_ = 0;
  const size_t mask = table_.size() - 1;
  for (uint64 h : old)
    if (h != 0) {
      size_t i = h & mask;
      while (table_[i] != 0) i = (i + 1) & mask;
      table_[i] = h;
      ++used_;
    }
}

std::optional<int64> ScopeTally::count() const {
  if (!on_) return std::nullopt;
  return static_cast<int64>(used_);
}

}  // namespace incview::pg
