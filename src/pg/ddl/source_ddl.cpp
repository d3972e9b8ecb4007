// DDL on the sources (issue 19): event triggers that keep capture complete when a source's
// partitions change. Partitions a stage reads are its sources (the plan lists them, each
// with capture triggers of its own, so direct writes into a partition are captured).
//
//  - ddl_command_end (CREATE TABLE ... PARTITION OF, ALTER TABLE ... ATTACH PARTITION, and
//    partitions a partition manager adds): every new partition under a source becomes a
//    source of the same stages, with the mapping of its nearest registered ancestor, and
//    gets capture triggers at once;
//  - ddl_command_start (DROP TABLE, ALTER TABLE ... DETACH/ATTACH PARTITION): those change
//    a source's rows with no DML, so the stages reading the partition or its parent get the
//    keys of the partition's rows (partition_scopes.hpp) in the same transaction, or an
//    "every scope" marker where those cannot be had (a dropped table that is not a partition);
//  - sql_drop: relations that no longer exist leave incview.stage_source (no refresh or
//    rebuild can then fail on a dangling OID).
//
// They run in the DDL issuer's transaction and never fail its DDL for our sake: each piece
// runs in a subtransaction; a failure becomes a WARNING, and a partition left without
// triggers shows its stages as 'stale' (incview.capture_off).
#include "core/sql_text.hpp"
#include "pg/capture/capture.hpp"
#include "pg/ddl/ddl_event.hpp"
#include "pg/support/guard.hpp"
#include "pg/capture/idle_capture.hpp"
#include "pg/catalog/queue_markers.hpp"
#include "pg/catalog/source_rows.hpp"
#include "pg/ddl/partition_scopes.hpp"
#include "pg/support/role.hpp"
#include "pg/refresh/delta_engine.hpp"
#include "pg/support/spi.hpp"
#include "pg/support/subxact.hpp"

extern "C" {
#include "commands/event_trigger.h"
#include "catalog/namespace.h"
PG_FUNCTION_INFO_V1(incview_on_ddl_start);
PG_FUNCTION_INFO_V1(incview_on_ddl_end);
PG_FUNCTION_INFO_V1(incview_on_sql_drop);
}

using namespace incview;
using namespace incview::pg;

namespace {

void warn(const std::string& what, const std::string& error) {
  const std::string msg = "pg_incview: " + what + ": " + error;
  const char* m = msg.c_str();
  pg_call([&] { ereport(WARNING, (errmsg("%s", m))); });
}

// Runs body in its own subtransaction when any stage has a source (a WARNING naming `what`
// instead of failing the user's DDL), inside an SPI connection.
template <typename F>
void if_sources(const char* what, F&& body) {
  spi_connect();
  if (any_source()) {
    auto error = in_subtransaction(body);
    if (error) warn(what, error->message);
  }
  spi_finish();
}

}  // namespace

// Before DROP TABLE and ALTER TABLE ... ATTACH/DETACH PARTITION.
Datum incview_on_ddl_start(PG_FUNCTION_ARGS) {
  return entry_guard([&]() -> Datum {
    EventTriggerData* ev = event_data(fcinfo);
    Node* stmt = ev->parsetree;
    std::vector<Oid> touched;                 // every scope of their stages
    std::vector<std::pair<Oid, Oid>> moving;  // (table, anchor): the scopes of its rows
    if (IsA(stmt, DropStmt) && reinterpret_cast<DropStmt*>(stmt)->removeType == OBJECT_TABLE) {
      ListCell* lc;
      foreach (lc, reinterpret_cast<DropStmt*>(stmt)->objects) {
        RangeVar* rv = nullptr;
        List* names = static_cast<List*>(lfirst(lc));
        pg_call([&] { rv = makeRangeVarFromNameList(names); });
        const Oid rel = relation_of(rv);
        if (!OidIsValid(rel)) continue;
        bool partition = false;
        pg_call([&] { partition = get_rel_relispartition(rel); });
        if (partition)
          moving.push_back({rel, rel});  // an old month dropped: only its scopes change
        else
          touched.push_back(rel);
      }
    } else if (IsA(stmt, DropStmt) && reinterpret_cast<DropStmt*>(stmt)->removeType == OBJECT_EXTENSION) {
      // DROP EXTENSION pg_incview: idle capture triggers (no stage left to read their
      // tables) would otherwise make it fail on their dependency on incview.capture().
      ListCell* lc;
      bool ours = false;
      foreach (lc, reinterpret_cast<DropStmt*>(stmt)->objects)
        ours = ours || std::strcmp(strVal(lfirst(lc)), "pg_incview") == 0;
      if (ours) {
        spi_connect();
        auto error = in_subtransaction([&] { (void)drop_all_idle_capture(IdleLock::Wait); });
        if (error) warn("could not drop idle capture triggers", error->message);
        drop_all_delta_queues();  // not members (pg_dump dumps them): gone with the extension
        spi_finish();
      }
      return static_cast<Datum>(0);
    } else if (IsA(stmt, AlterTableStmt)) {
      auto* at = reinterpret_cast<AlterTableStmt*>(stmt);
      ListCell* lc;
      foreach (lc, at->cmds) {
        auto* cmd = static_cast<AlterTableCmd*>(lfirst(lc));
        if (cmd->subtype != AT_AttachPartition && cmd->subtype != AT_DetachPartition) continue;
        const Oid parent = relation_of(at->relation);
        if (!OidIsValid(parent)) continue;
        const Oid part = relation_of(reinterpret_cast<PartitionCmd*>(cmd->def)->name);
        if (!OidIsValid(part))
          touched.push_back(parent);
        else  // ATTACH: its rows join the parent's stages; DETACH: they leave the partition's
          moving.push_back({part, cmd->subtype == AT_AttachPartition ? parent : part});
      }
    }
    if (!touched.empty() || !moving.empty())
      if_sources("could not mark the stages reading the changed partitions", [&] {
        queue_every_scope_for_readers_of(touched);  // or their ancestors
        for (const auto& [table, anchor] : moving) dirty_scopes_of_partition(table, anchor);
      });
    return static_cast<Datum>(0);
  });
}

// After CREATE TABLE / ALTER TABLE: new partitions under a source become sources.
Datum incview_on_ddl_end(PG_FUNCTION_ARGS) {
  return entry_guard([&]() -> Datum {
    (void)event_data(fcinfo);
    spi_connect();
    if (!any_source()) {
      spi_finish();
      return static_cast<Datum>(0);
    }
    for (const auto& s : new_partition_sources()) {
      auto error = in_subtransaction([&] { save_partition_source(s); });
      if (error) {
        warn("could not register a new partition as a source", error->message);
        continue;
      }
      // The partition's creator owns it and may put triggers on it. If that fails, the
      // partition stays registered without triggers: its stages read 'stale'.
      error = in_subtransaction([&] { install_capture(s.rel); });
      if (error)
        warn("could not install capture on a new partition (its stages are stale until it has)", error->message);
    }
    spi_finish();
    return static_cast<Datum>(0);
  });
}

// After any DROP: dropped relations leave the catalog of sources.
Datum incview_on_sql_drop(PG_FUNCTION_ARGS) {
  return entry_guard([&]() -> Datum {
    (void)event_data(fcinfo);
    if_sources("could not forget dropped sources", [&] { forget_dropped_sources(); });
    return static_cast<Datum>(0);
  });
}
