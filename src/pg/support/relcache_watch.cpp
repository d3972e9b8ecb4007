#include "pg/support/relcache_watch.hpp"

namespace incview::pg {

namespace {

constexpr int kMaxListeners = 16;  // pg_incview's own; five today
RelcacheCallbackFunction listeners[kMaxListeners];
int listener_count = 0;
bool registered = false;

void dispatch(Datum arg, Oid relid) {
  for (int i = 0; i < listener_count; ++i) listeners[i](arg, relid);
}

}  // namespace

void watch_relcache(RelcacheCallbackFunction fn) {
  for (int i = 0; i < listener_count; ++i)
    if (listeners[i] == fn) return;
  if (listener_count == kMaxListeners) elog(ERROR, "pg_incview: too many relcache listeners");
  if (!registered) {
    CacheRegisterRelcacheCallback(dispatch, static_cast<Datum>(0));
    registered = true;
  }
  listeners[listener_count++] = fn;
}

}  // namespace incview::pg
