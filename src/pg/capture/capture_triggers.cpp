#include "pg/capture/capture_triggers.hpp"

#include "core/sql_text.hpp"
#include "pg/capture/capture.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/catalog/source_rows.hpp"
#include "pg/citus/citus.hpp"
#include "pg/support/guard.hpp"
#include "pg/support/role.hpp"
#include "pg/support/spi.hpp"

namespace incview::pg {

void install_capture(Oid source) {
  // Citus tables: triggers propagated to their shards, keys queued there (citus.hpp).
  if (is_citus_table(source)) {
    install_citus_capture(source);
    return;
  }
  // Each trigger that is missing (never made, or dropped by the table's owner since).
  static const char* const kClauses[] = {
      " AFTER INSERT ON %s REFERENCING NEW TABLE AS incview_new FOR EACH STATEMENT",
      " AFTER UPDATE ON %s REFERENCING OLD TABLE AS incview_old NEW TABLE AS incview_new FOR EACH STATEMENT",
      " AFTER DELETE ON %s REFERENCING OLD TABLE AS incview_old FOR EACH STATEMENT",
      " AFTER TRUNCATE ON %s FOR EACH STATEMENT", " AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW"};
  // How each fires: the statement triggers ALWAYS (in every session, replica role too; the
  // apply worker fires the TRUNCATE one), the row trigger REPLICA (only in replica-role
  // sessions, where it acts for the apply worker alone).
  static const char* const kEnable[] = {"ALWAYS", "ALWAYS", "ALWAYS", "ALWAYS", "REPLICA"};
  const char* names[] = {kTriggerNames[0], kTriggerNames[1], kTriggerNames[2], kTriggerNames[3], kRowTrigger};
  // The row trigger goes on plain tables (on a partitioned table it would be cloned onto
  // its partitions, which are sources with triggers of their own) of a database with a
  // subscription, the only place it acts: elsewhere it would be one more trigger queued per
  // changed row for nothing (bench/row_trigger_cost.md measures that cost). CREATE
  // SUBSCRIPTION adds it to every source (replica_capture.cpp).
  const bool plain =
      spi_scalar("SELECT 1 FROM pg_catalog.pg_class WHERE oid = $1 AND relkind = 'r'", {oid_arg(source)}).has_value() &&
      database_has_subscription();
  // A lock the idle-trigger removal (idle_capture.cpp) conflicts with, taken before looking at
  // pg_trigger: either that removal has committed and we see its triggers gone, or it cannot
  // start until we commit (and then sees this table read again).
  pg_call([&] { LockRelationOid(source, AccessShareLock); });
  std::string table;
  std::vector<int> made;
  for (int i = 0; i < 5; ++i) {
    if (i == 4 && !plain) continue;
    if (spi_scalar("SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid = $1 AND tgname = $2",
                   {oid_arg(source), text_arg(names[i])}))
      continue;
    if (table.empty()) table = *spi_scalar("SELECT $1::pg_catalog.regclass::pg_catalog.text", {oid_arg(source)});
    std::string clause = kClauses[i];
    clause.replace(clause.find("%s"), 2, table);
    spi_exec("CREATE TRIGGER " + quote_ident(names[i]) + clause + " EXECUTE FUNCTION incview.capture()");
    if (kEnable[i]) made.push_back(i);
  }
  // ALTER TABLE ... ENABLE needs ownership of the table, which a stage owner with the
  // TRIGGER privilege lacks: it is ours to set, as the extension owner (it runs no user code).
  if (!made.empty())
    as_extension_owner([&] {
      const std::string qualified = *spi_scalar("SELECT $1::pg_catalog.regclass::pg_catalog.text", {oid_arg(source)});
      for (int i : made)
        spi_exec("ALTER TABLE " + qualified + " ENABLE " + kEnable[i] + " TRIGGER " + quote_ident(names[i]));
    });
  invalidate_capture(source);
}

bool database_has_subscription() {
  return spi_scalar("SELECT 1 FROM pg_catalog.pg_subscription WHERE subdbid = $1", {oid_arg(MyDatabaseId)}).has_value();
}

std::vector<Oid> trigger_sources(int32 stage_id) { return table_sources_of(stage_id); }

void reinstall_missing_capture(const StageRecord& stage) {
  for (Oid s : trigger_sources(stage.id)) install_capture(s);
}

void warn_if_capture_off(const StageRecord& stage) {
  // catalog 0.1 cannot tell (source_with_capture_off answers nothing there)
  const std::optional<std::string> off = source_with_capture_off(stage.id);
  if (!off) return;
  const std::string msg = "stage \"" + stage.name + "\" is stale: pg_incview's capture triggers on " + *off +
                          " are disabled or missing, so changes to it are not seen";
  const char* m = msg.c_str();
  pg_call([&] {
    ereport(WARNING, (errmsg("%s", m),
                      errhint("re-enable them (ALTER TABLE ... ENABLE ALWAYS TRIGGER incview_capture_ins, "
                              "incview_capture_upd, incview_capture_del, incview_capture_trunc; ENABLE REPLICA TRIGGER "
                              "incview_capture_row), or call "
                              "incview.rebuild to re-create missing ones")));
  });
}

}  // namespace incview::pg
