#include "pg/catalog/capture_list.hpp"

#include "core/error.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/support/guard.hpp"

extern "C" {
#include "utils/snapmgr.h"
}

namespace incview::pg {

uint64 read_capture_list(Oid relid) {
  // (incview.delta_capture is in catalog 0.2: the 0.1 one reads NULLs.)
  static const char* const kSql[2] = {
      "SELECT s.id, s.owner::oid::text, ss.mapping_kind, ss.mapping, s.search_path, "
      "       coalesce(st.scope_count, 0), u.col, s.policy = 'continuous', NULL::text, NULL::text, NULL::text, "
      "       NULL::text, NULL::boolean, NULL::text, NULL::text "
      "FROM incview.stage_source ss JOIN incview.stage s ON s.id = ss.stage_id "
      "LEFT JOIN incview.stage_state st ON st.stage_id = s.id "
      "CROSS JOIN LATERAL unnest(s.scope) WITH ORDINALITY AS u(col, ord) "
      "WHERE ss.source = $1 ORDER BY s.id, u.ord",
      "SELECT s.id, s.owner::oid::text, ss.mapping_kind, ss.mapping, s.search_path, "
      "       coalesce(st.scope_count, 0), u.col, s.policy = 'continuous', "
      "       d.capture_insert, d.capture_update, d.capture_delete, d.pending_check::pg_catalog.oid[]::text, "
      "       d.waits_for_writers, (SELECT q.queue::pg_catalog.oid::text FROM incview.delta_stage q "
      "                             WHERE q.stage_id = s.id), d.direct "
      "FROM incview.stage_source ss JOIN incview.stage s ON s.id = ss.stage_id "
      "LEFT JOIN incview.stage_state st ON st.stage_id = s.id "
      "LEFT JOIN incview.delta_capture d ON d.stage_id = s.id AND d.source = ss.source "
      "CROSS JOIN LATERAL unnest(s.scope) WITH ORDINALITY AS u(col, ord) "
      "WHERE ss.source = $1 ORDER BY s.id, u.ord"};
  const char* sql = kSql[catalog_is_0_2() ? 1 : 0];
  uint64 n = 0;
  int rc = 0;
  pg_call([&] {
    Oid types[1] = {OIDOID};
    Datum values[1] = {ObjectIdGetDatum(relid)};
    SPIPlanPtr plan = SPI_prepare(sql, 1, types);
    if (plan == nullptr) elog(ERROR, "pg_incview: could not prepare the capture list query");
    rc = SPI_execute_snapshot(plan, values, nullptr, GetLatestSnapshot(), InvalidSnapshot, true, false, 0);
    n = SPI_processed;
    SPI_freeplan(plan);
  });
  if (rc != SPI_OK_SELECT) throw Error(sqlstate::kInternalError, "pg_incview: could not read the capture list");
  return n;
}

}  // namespace incview::pg
