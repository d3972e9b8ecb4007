#include "pg/catalog/stage_cache.hpp"

#include <unordered_map>

extern "C" {
#include "catalog/namespace.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
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

// Types and schemas: renames change the names a record holds (format_type, the target's
// schema); rare enough to drop everything.
void syscache_callback(Datum, int, uint32) {
  ++epoch;
  entries.clear();
}

void register_callbacks() {
  if (registered) return;
  pg_call([] {
    watch_relcache(relcache_callback);
    CacheRegisterSyscacheCallback(TYPEOID, syscache_callback, 0);
    CacheRegisterSyscacheCallback(NAMESPACEOID, syscache_callback, 0);
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
  if (read_epoch != epoch) return;                              // invalidated while it was read: maybe half old
  if (record.shape.target.empty()) return;                      // target gone: reported on every call
  if (entries.size() >= kMaxEntries) entries.clear();
  entries[name] = Entry{MyDatabaseId, catalog_version, version.version, record};
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
