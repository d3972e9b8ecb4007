// When something in this database will next be due, read from the catalog by a scheduler
// about to exit, so the launcher can start it again at that time without connecting.
#pragma once
#include "pg/support/pg_headers.hpp"

namespace incview::pg {

struct NextDue {
  TimestampTz at = DT_NOEND;           // due then even without new writes (DT_NOEND: never)
  TimestampTz if_dirty = DT_NOEND;     // due then if keys of an interval/daily stage are queued
  int64 min_max_lag_us = 0;            // ... or this long after such keys were queued (0: no max_lag)
};

// Inside a transaction with SPI connected, as the scheduler (catalog only, no user SQL).
NextDue read_next_due();

}  // namespace incview::pg
