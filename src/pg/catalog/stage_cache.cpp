#include "pg/catalog/stage_cache.hpp"

#include <algorithm>
#include <unordered_map>
#include <vector>

extern "C" {
#include "catalog/namespace.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
}

#include "pg/support/guard.hpp"
#include "pg/support/relcache_watch.hpp"

namespace incview::pg {

namespace {

struct Entry {
  Oid database = InvalidOid;
  std::string catalog_version;  // the record's shape depends on it (0.1 vs 0.2 columns)
  std::string row_version;
  StageRecord record;
  // The pg_type rows whose names the record holds (format_type of its scope columns: the
  // type's own row and, for an array, its element's), as syscache hash values.
  std::vector<uint32> type_hashes;
};

// Bounded: a backend touching more stages than this re-reads the rest (cleared when full).
constexpr size_t kMaxEntries = 1024;

std::unordered_map<std::string, Entry> entries;
uint64 epoch = 0;  // invalidations seen (any kind)
bool registered = false;

// The callbacks only drop entries: they run inside PostgreSQL's invalidation processing,
// where nothing may fail (clearing a map of strings does not allocate).
void relcache_callback(Datum, Oid relid) {
  ++epoch;
  if (relid == InvalidOid) {
    entries.clear();
    return;
  }
  for (auto it = entries.begin(); it != entries.end();) {
    if (it->second.record.target == relid)
      it = entries.erase(it);
    else
      ++it;
  }
}

// Types: a rename changes the names a record holds (format_type of its scope columns), so an
// entry goes when a row of pg_type it named changes. Only those: every CREATE TABLE, temporary
// table and REFRESH MATERIALIZED VIEW writes pg_type rows of its own (a table's row type), and
// dropping every entry for them made the next refresh call in that session re-read its stage,
// 1-2 ms instead of 0.1-0.3 (bench/delta.md). hash 0: a reset of the whole cache.
void type_callback(Datum, int, uint32 hash) {
  ++epoch;
  if (hash == 0) {
    entries.clear();
    return;
  }
  for (auto it = entries.begin(); it != entries.end();) {
    const auto& h = it->second.type_hashes;
    if (std::find(h.begin(), h.end(), hash) != h.end())
      it = entries.erase(it);
    else
      ++it;
  }
}

// Schemas: a rename changes the target's qualified name and how format_type qualifies a type;
// rare enough to drop everything.
void namespace_callback(Datum, int, uint32) {
  ++epoch;
  entries.clear();
}

// Inside pg_call.
std::vector<uint32> type_hashes_of(const StageRecord& record) {
  std::vector<uint32> out;
  for (const Oid type : record.scope_types) {
    if (!OidIsValid(type)) continue;
    out.push_back(GetSysCacheHashValue1(TYPEOID, ObjectIdGetDatum(type)));
    const Oid element = get_element_type(type);
    if (OidIsValid(element)) out.push_back(GetSysCacheHashValue1(TYPEOID, ObjectIdGetDatum(element)));
  }
  return out;
}

void register_callbacks() {
  if (registered) return;
  pg_call([] {
    watch_relcache(relcache_callback);
    CacheRegisterSyscacheCallback(TYPEOID, type_callback, 0);
    CacheRegisterSyscacheCallback(NAMESPACEOID, namespace_callback, 0);
  });
  registered = true;
}

}  // namespace

uint64 stage_cache_epoch() {
  register_callbacks();
  return epoch;
}

std::optional<StageRecord> cached_stage(const std::string& name, const StageRowVersion& now) {
  register_callbacks();
  // Before the lookup: reading the version may run a query, and with it the callbacks
  // above, which may erase the entry an iterator points to.
  const std::string catalog_version = check_catalog_version();
  auto it = entries.find(name);
  if (it == entries.end()) return std::nullopt;
  const Entry& e = it->second;
  if (e.database != MyDatabaseId || e.row_version != now.version || e.catalog_version != catalog_version) {
    entries.erase(it);
    return std::nullopt;
  }
  StageRecord r = e.record;
  r.has_downstream = now.has_downstream;
  return r;
}

void remember_stage(const std::string& name, const StageRowVersion& version, const StageRecord& record,
                    uint64 read_epoch) {
  const std::string catalog_version = check_catalog_version();  // (may run a query: first)
  if (record.shape.target.empty()) return;                      // target gone: reported on every call
  // A miss in the type cache reads pg_type, which may process invalidations: before the check.
  std::vector<uint32> hashes;
  pg_call([&] { hashes = type_hashes_of(record); });
  if (read_epoch != epoch) return;  // invalidated while it was read: maybe half old
  if (entries.size() >= kMaxEntries) entries.clear();
  entries[name] = Entry{MyDatabaseId, catalog_version, version.version, record, std::move(hashes)};
}

std::optional<std::string> cached_delta_queue(const std::string& name) {
  auto it = entries.find(name);
  if (it == entries.end() || it->second.database != MyDatabaseId) return std::nullopt;
  const std::string& queue = it->second.record.delta_queue;
  if (queue.empty()) return queue;
  // The queue is incview.delta_<id> (delta_engine.cpp); any other name: no probe. Whether the
  // table is there is not looked up: the refresh opens it by name (a missing one: the fold
  // statement, which reports it), only if the probe finds the cached record current.
  if (queue != "incview.delta_" + std::to_string(it->second.record.id)) return std::nullopt;
  return queue;
}

bool delta_queue_exists(const std::string& queue) {
  const std::string prefix = "incview.";
  if (queue.compare(0, prefix.size(), prefix) != 0) return false;
  const std::string relname = queue.substr(prefix.size());
  bool exists = false;
  pg_call([&] {
    const Oid ns = get_namespace_oid("incview", true);
    exists = OidIsValid(ns) && OidIsValid(get_relname_relid(relname.c_str(), ns));
  });
  return exists;
}

void forget_stage(const std::string& name) { entries.erase(name); }

}  // namespace incview::pg
