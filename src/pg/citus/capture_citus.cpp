// incview.capture_citus(): the capture trigger of Citus sources (docs/citus.md). Created
// on the coordinator's table with citus.enable_unsafe_triggers, it is propagated by Citus to
// every shard, and fires wherever a shard is written — through the coordinator or directly
// on a worker, in the writer's transaction:
//  - on a shard of a distributed source: the distinct distribution-column values of the
//    changed rows go into the source's key queue (incview_citus.q_<oid>, co-located: Citus
//    executes the insert on the same node, which it allows from a trigger on a shard);
//  - on the coordinator's placement of a reference source: one "every scope" marker for each
//    stage reading it, in incview.dirty_scope (placements on workers do nothing);
//  - TRUNCATE fires on the table where it was issued: on the coordinator, "every scope" for
//    each stage reading it; on a worker (no pg_incview catalog there), refused.
#include "core/sql_text.hpp"
#include "pg/catalog/queue_markers.hpp"
#include "pg/citus/citus.hpp"
#include "pg/support/guard.hpp"
#include "pg/support/role.hpp"
#include "pg/background/shared_state.hpp"
#include "pg/support/spi.hpp"

extern "C" {
#include "utils/datum.h"
PG_FUNCTION_INFO_V1(incview_capture_citus);
PG_FUNCTION_INFO_V1(incview_citus_drain);
}

namespace incview::pg {

namespace {

enum class Event { Insert, Update, Delete, Truncate };

Event event_of(TriggerEvent ev) {
  if (TRIGGER_FIRED_BY_INSERT(ev)) return Event::Insert;
  if (TRIGGER_FIRED_BY_UPDATE(ev)) return Event::Update;
  if (TRIGGER_FIRED_BY_DELETE(ev)) return Event::Delete;
  return Event::Truncate;
}

// Only ever as one of pg_incview's own triggers (the same rule as incview.capture()): right
// name for the event, AFTER ... FOR EACH STATEMENT, our transition table names, our args.
void check_trigger_is_ours(const TriggerData* td, Event event) {
  static const char* const kNames[] = {"incview_capture_ins", "incview_capture_upd", "incview_capture_del",
                                       "incview_capture_trunc"};
  const Trigger* t = td->tg_trigger;
  const bool wants_old = event == Event::Update || event == Event::Delete;
  const bool wants_new = event == Event::Update || event == Event::Insert;
  auto named = [](const char* have, const char* want) { return have && strcmp(have, want) == 0; };
  // On a shard Citus names the trigger <name>_<shardid>.
  auto trigger_named = [](const char* have, const char* want) {
    const size_t n = strlen(want);
    return have && strncmp(have, want, n) == 0 &&
           (have[n] == '\0' ||
            (have[n] == '_' && have[n + 1] != '\0' && strspn(have + n + 1, "0123456789") == strlen(have + n + 1)));
  };
  bool ok = TRIGGER_FIRED_FOR_STATEMENT(td->tg_event) && TRIGGER_FIRED_AFTER(td->tg_event) &&
            trigger_named(t->tgname, kNames[static_cast<int>(event)]) &&
            (wants_old ? named(t->tgoldtable, "incview_old") && td->tg_oldtable : t->tgoldtable == nullptr) &&
            (wants_new ? named(t->tgnewtable, "incview_new") && td->tg_newtable : t->tgnewtable == nullptr) &&
            t->tgnargs >= 1;
  if (ok) {
    const std::string kind = t->tgargs[0];
    ok = (kind == "reference" && t->tgnargs == 1) ||
         (kind == "distributed" && t->tgnargs == 3 && strncmp(t->tgargs[1], "q_", 2) == 0 &&
          strspn(t->tgargs[1] + 2, "0123456789") == strlen(t->tgargs[1] + 2));
  }
  if (!ok)
    throw Error(sqlstate::kTriggerProtocolViolated,
                std::string("incview.capture_citus() fired by trigger \"") + (t->tgname ? t->tgname : "?") +
                    "\", which is not one of pg_incview's capture triggers",
                "pg_incview installs its own triggers on the Citus sources of stages",
                "drop this trigger; incview.create_stage installs capture");
}

// Citus' group of this node: 0 on the coordinator.
int32 local_group() {
  std::optional<std::string> g;
  as_extension_owner([&] { g = spi_scalar("SELECT groupid::pg_catalog.text FROM pg_catalog.pg_dist_local_group"); });
  return g ? static_cast<int32>(std::stol(*g)) : -1;
}

// The Citus table a shard belongs to (shards are named <table>_<shardid>, in the table's
// schema); nullopt when `rel` is not a shard. From the syscache, not pg_class: Citus hides
// shards from queries on pg_class in client backends.
std::optional<Oid> table_of_shard(Oid rel) {
  std::string name;
  Oid nsp = InvalidOid;
  pg_call([&] {
    const char* n = get_rel_name(rel);
    name = n ? n : "";
    nsp = get_rel_namespace(rel);
  });
  const size_t us = name.rfind('_');
  if (us == std::string::npos || us + 1 >= name.size() ||
      name.find_first_not_of("0123456789", us + 1) != std::string::npos)
    return std::nullopt;
  const std::string shardid = name.substr(us + 1);
  std::optional<std::string> table;
  as_extension_owner([&] {
    table = spi_scalar(
        "SELECT logicalrelid::pg_catalog.oid::pg_catalog.text FROM pg_catalog.pg_dist_shard "
        "WHERE shardid OPERATOR(pg_catalog.=) $1::pg_catalog.int8",
        {text_arg(shardid)});
  });
  if (!table) return std::nullopt;
  const Oid t = static_cast<Oid>(std::stoul(*table));
  bool same = false;
  pg_call([&] {
    const char* tn = get_rel_name(t);
    same = tn && get_rel_namespace(t) == nsp && name == std::string(tn) + "_" + shardid;
  });
  if (!same) return std::nullopt;
  return t;
}

// One "every scope" marker for each stage reading `source` (coordinator only).
void mark_every_scope(Oid source) {
  queue_every_scope_once_for_readers_of(source);
  note_dirty_in_transaction();
}

// The changed rows' distinct distribution-column values into the co-located key queue.
void queue_keys(Event event, const std::string& queue, const std::string& column) {
  const std::string col = quote_ident(column);
  std::string rows;
  if (event == Event::Insert) rows = "SELECT " + col + " AS k FROM incview_new";
  if (event == Event::Delete) rows = "SELECT " + col + " AS k FROM incview_old";
  if (event == Event::Update)
    rows = "SELECT " + col + " AS k FROM incview_new UNION ALL SELECT " + col + " FROM incview_old";
  as_extension_owner([&] {
    // Not kept: the same text over another table's transition table needs another plan.
    CatalogPlans not_kept(false);
    // Two statements: Citus plans an INSERT ... SELECT over a transition table without it.
    spi_exec("SELECT pg_catalog.array_agg(DISTINCT r.k) FROM (" + rows + ") r", {}, true);
    bool isnull = true;
    Datum keys = spi_datum(0, 1, &isnull);
    if (isnull) return;
    const Oid type = spi_column_type(1);
    pg_call([&] { keys = datumCopy(keys, false, -1); });
    spi_exec("INSERT INTO incview_citus." + quote_ident(queue) + " (key) SELECT pg_catalog.unnest($1)",
             {{type, keys, false}});
  });
}

}  // namespace

}  // namespace incview::pg

Datum incview_capture_citus(PG_FUNCTION_ARGS) {
  using namespace incview;
  using namespace incview::pg;
  return entry_guard([&]() -> Datum {
    if (!CALLED_AS_TRIGGER(fcinfo))
      throw Error(sqlstate::kTriggerProtocolViolated, "incview.capture_citus() must be called as a trigger");
    auto* td = reinterpret_cast<TriggerData*>(fcinfo->context);
    const Event event = event_of(td->tg_event);
    check_trigger_is_ours(td, event);
    const Oid relid = td->tg_relation->rd_id;
    const std::string kind = td->tg_trigger->tgargs[0];
    spi_connect();
    pg_call([&] { SPI_register_trigger_data(td); });
    // Citus tables themselves (the coordinator's, and the copies of its metadata on workers)
    // are in pg_dist_partition; their shards are not.
    const bool shard = !is_citus_table(relid);
    if (event == Event::Truncate) {
      if (!shard) {
        if (local_group() != 0)
          throw Error(sqlstate::kFeatureNotSupported,
                      "TRUNCATE of a source of a pg_incview stage must be issued on the Citus coordinator",
                      "the stages and their dirty-scope queue live on the coordinator; a TRUNCATE issued on a worker "
                      "would leave them stale",
                      "run the TRUNCATE on the coordinator, or DELETE the rows");
        mark_every_scope(relid);
      }
    } else if (kind == "distributed") {
      if (shard) queue_keys(event, td->tg_trigger->tgargs[1], td->tg_trigger->tgargs[2]);
    } else if (shard && local_group() == 0) {
      if (const auto table = table_of_shard(relid)) mark_every_scope(*table);
    }
    spi_finish();
    return PointerGetDatum(nullptr);
  });
}

Datum incview_citus_drain(PG_FUNCTION_ARGS) {
  using namespace incview::pg;
  return entry_guard([&]() -> Datum {
    spi_connect();
    const int64 moved = citus_present() ? drain_citus_queues() : 0;
    spi_finish();
    PG_RETURN_INT64(moved);
  });
}
