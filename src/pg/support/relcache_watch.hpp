#pragma once
// One relcache callback for all of pg_incview. PostgreSQL gives a backend ten relcache callback
// slots in all (MAX_RELCACHE_CALLBACKS), shared with core and every loaded extension — Citus
// takes several — and running out is a FATAL for the backend. So pg_incview registers a single
// callback and passes each message on to its own listeners (the stage cache, capture's lists,
// the shape checks of the direct catalog writes).

extern "C" {
#include "postgres.h"

#include "utils/inval.h"
}

namespace incview::pg {

// Adds fn to the listeners (once; a second call with the same fn does nothing) and registers
// the one callback on first use. Called from PostgreSQL context (inside pg_call or _PG_init):
// may raise a PostgreSQL error. fn runs inside invalidation processing: it must not fail.
void watch_relcache(RelcacheCallbackFunction fn);

}  // namespace incview::pg
