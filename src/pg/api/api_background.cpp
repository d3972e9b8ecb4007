// incview.background_status(): this database's background refresh as the launcher sees it
// (shared memory, no catalog), read by the incview.stages view so that a stage whose
// database waits for a process says so.
#include "pg/support/guard.hpp"
#include "pg/background/worker_budget.hpp"

extern "C" {
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
PG_FUNCTION_INFO_V1(incview_background_status);
}

using namespace incview::pg;

Datum incview_background_status(PG_FUNCTION_ARGS) {
  return entry_guard([&]() -> Datum {
    const BackgroundStatus b = background_status(MyDatabaseId);
    Datum result = 0;
    pg_call([&] {
      TupleDesc desc;
      if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE) elog(ERROR, "record expected");
      desc = BlessTupleDesc(desc);
      const bool preloaded = b.budget > 0;
      Datum values[7] = {CStringGetTextDatum(b.status),     TimestampTzGetDatum(b.waiting_since),
                         TimestampTzGetDatum(b.next_due),   Int32GetDatum(b.scheduler_pid),
                         Int32GetDatum(b.budget),           Int32GetDatum(b.in_use),
                         Int32GetDatum(b.waiting_databases)};
      bool nulls[7] = {false,
                       b.waiting_since == 0,
                       !preloaded || b.next_due == DT_NOEND || b.scheduler_pid != 0,
                       b.scheduler_pid == 0,
                       !preloaded,
                       !preloaded,
                       !preloaded};
      result = HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
    });
    return result;
  });
}
