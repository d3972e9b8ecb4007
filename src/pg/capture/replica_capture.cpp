// Capture on a logical-replication subscriber (issue 11, item 3; docs/replication.md).
// A subscription's apply worker runs under session_replication_role = replica and fires row
// triggers only; pg_incview's statement triggers stay silent there. When a database gets a
// subscription, every plain-table source gets the row trigger incview_capture_row (ENABLE
// REPLICA), which fires exactly where the statement triggers do not (install_capture; later
// sources get it there too). This is the ddl_command_end trigger of CREATE SUBSCRIPTION.
#include "pg/capture/capture.hpp"
#include "pg/catalog/source_rows.hpp"
#include "pg/ddl/ddl_event.hpp"
#include "pg/support/guard.hpp"
#include "pg/support/role.hpp"
#include "pg/support/spi.hpp"

extern "C" {
#include "commands/event_trigger.h"
PG_FUNCTION_INFO_V1(incview_on_subscription_ddl);
}

using namespace incview;
using namespace incview::pg;

Datum incview_on_subscription_ddl(PG_FUNCTION_ARGS) {
  return entry_guard([&]() -> Datum {
    (void)event_data(fcinfo);
    spi_connect();
    // CREATE SUBSCRIPTION is a superuser's: its creator may put triggers on any table.
    for (Oid s : sources_without_replica_trigger()) install_capture(s);
    spi_finish();
    return static_cast<Datum>(0);
  });
}
