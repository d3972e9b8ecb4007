#include "pg/capture/idle_capture.hpp"

#include "core/sql_text.hpp"
#include "pg/capture/capture.hpp"
#include "pg/catalog/source_rows.hpp"
#include "pg/citus/citus.hpp"
#include "pg/support/guard.hpp"
#include "pg/support/role.hpp"
#include "pg/support/spi.hpp"

extern "C" {
PG_FUNCTION_INFO_V1(incview_drop_idle_capture);
}

namespace incview::pg {

namespace {

// Whether the table has one of our triggers (our name AND our function: a user's trigger
// that merely borrows the name is not ours to drop) and no stage reads it.
bool is_idle(Oid table) { return !tables_with_idle_capture(table).empty(); }

bool lock_table(Oid table, IdleLock lock) {
  bool got = false;
  pg_call([&] {
    if (lock == IdleLock::Wait) {
      LockRelationOid(table, AccessExclusiveLock);
      got = true;
    } else {
      got = ConditionalLockRelationOid(table, AccessExclusiveLock);
    }
  });
  return got;
}

void drop_our_triggers(Oid table) {
  std::string name;
  as_extension_owner(
      [&] { name = spi_scalar("SELECT $1::pg_catalog.regclass::pg_catalog.text", {oid_arg(table)}).value_or(""); });
  if (name.empty()) return;
  for (const char* trigger : {kTriggerNames[0], kTriggerNames[1], kTriggerNames[2], kTriggerNames[3], kRowTrigger}) {
    bool ours = false;
    as_extension_owner([&] {
      ours = spi_scalar(
                 "SELECT 1 FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid "
                 "WHERE t.tgrelid = $1 AND t.tgname = $2 AND p.pronamespace = 'incview'::pg_catalog.regnamespace "
                 "AND p.proname OPERATOR(pg_catalog.=) ANY ('{capture,capture_citus}'::pg_catalog.name[])",
                 {oid_arg(table), text_arg(trigger)})
                 .has_value();
    });
    // As the caller, who owns the table (checked): DROP TRIGGER's own privilege rule applies.
    if (ours) spi_exec("DROP TRIGGER " + quote_ident(trigger) + " ON " + name);
  }
  invalidate_capture(table);
}

}  // namespace

std::vector<Oid> idle_capture_tables() { return tables_with_idle_capture(std::nullopt); }

int drop_capture_if_idle(const std::vector<Oid>& tables, IdleLock lock) {
  bool in_block = false;
  pg_call([&] { in_block = IsTransactionBlock(); });
  const bool citus = !tables.empty() && citus_present();
  int dropped = 0;
  for (Oid table : tables) {
    bool owner = false;
    pg_call([&] {
      owner = SearchSysCacheExists1(RELOID, ObjectIdGetDatum(table)) && pg_class_ownercheck(table, GetUserId());
    });
    if (!owner || !is_idle(table)) continue;
    // A Citus table's triggers fire on its shards and write into its key queue, which goes
    // with its last stage (forget_unused_citus_sources): they are dropped now, waiting.
    const bool on_citus = citus && is_citus_table(table);
    const IdleLock mode = on_citus ? IdleLock::Wait : lock;
    // In a transaction block the lock would last until the caller's COMMIT: the scheduler does it.
    if (mode == IdleLock::IfFree && in_block) continue;
    if (!lock_table(table, mode)) continue;
    // Read again under the lock: a stage that started reading the table meanwhile holds a
    // lock on it (install_capture takes one before looking for triggers) and has committed.
    if (!is_idle(table)) continue;
    if (on_citus)
      with_citus_triggers([&] { drop_our_triggers(table); });  // propagated to the shards only so
    else
      drop_our_triggers(table);
    ++dropped;
  }
  return dropped;
}

int drop_all_idle_capture(IdleLock lock) { return drop_capture_if_idle(idle_capture_tables(), lock); }

}  // namespace incview::pg

Datum incview_drop_idle_capture(PG_FUNCTION_ARGS) {
  using namespace incview::pg;
  return entry_guard([&]() -> Datum {
    spi_connect();
    const int dropped = drop_all_idle_capture(IdleLock::Wait);
    spi_finish();
    PG_RETURN_INT32(dropped);
  });
}
