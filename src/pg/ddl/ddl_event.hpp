// What pg_incview's event-trigger functions share (source_ddl.cpp, stage_ddl.cpp,
// replica_capture.cpp): the check that they run as event triggers, and the lookup of a
// relation named in a DDL parse tree without locking it (the DDL itself locks it next).
#pragma once
#include "pg/support/guard.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "commands/event_trigger.h"
}

namespace incview::pg {

inline EventTriggerData* event_data(FunctionCallInfo fcinfo) {
  if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
    throw Error(sqlstate::kTriggerProtocolViolated, "pg_incview's DDL functions must be called as event triggers");
  return reinterpret_cast<EventTriggerData*>(fcinfo->context);
}

// InvalidOid when rv is null or names no relation.
inline Oid relation_of(RangeVar* rv) {
  Oid rel = InvalidOid;
  if (rv) pg_call([&] { rel = RangeVarGetRelid(rv, NoLock, true); });
  return rel;
}

}  // namespace incview::pg
