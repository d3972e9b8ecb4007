#include "pg/capture.hpp"

#include <algorithm>
#include <memory>
#include <unordered_map>

#include "core/capture_sql.hpp"
#include "core/sql_text.hpp"
#include "pg/guard.hpp"
#include "pg/role.hpp"
#include "pg/settings.hpp"
#include "pg/shared_state.hpp"
#include "pg/spi.hpp"

extern "C" {
#include "utils/inval.h"
#include "utils/tuplestore.h"
PG_FUNCTION_INFO_V1(incview_capture);
}

namespace incview::pg {

namespace {

constexpr const char* kTriggerNames[] = {"incview_capture_ins", "incview_capture_upd", "incview_capture_del",
                                         "incview_capture_trunc"};

std::vector<SPIPlanPtr> plans_to_free;

constexpr int kSizes = 3;  // CaptureSize variants

// Prepared statements per event and size. Freed lazily: a relcache callback may drop an entry
// while a capture is using it, so the plans only move to plans_to_free here, and are
// freed when no capture is running.
struct PlanSet {
  SPIPlanPtr plan[4 * kSizes] = {};
  PlanSet() = default;
  PlanSet(const PlanSet&) = delete;
  PlanSet& operator=(const PlanSet&) = delete;
  ~PlanSet() {
    for (SPIPlanPtr p : plan)
      if (p) {
        try {
          plans_to_free.push_back(p);
        } catch (...) {  // out of memory: leak the plan rather than fail here
        }
      }
  }
};

// What one stage captures from one source, with its prepared statements per event.
struct StageCapture {
  int32 stage_id = 0;
  Oid stage_owner = InvalidOid;
  std::string search_path;  // the stage's, for running its lookup mapping
  int64 scopes = 0;         // scopes in the stage at its last full build
  bool wakes = false;       // policy continuous: its commit wakes the scheduler
  CaptureSpec spec;
  PlanSet plans;
  PlanSet lookup_plans;
};

using StageList = std::vector<std::unique_ptr<StageCapture>>;

struct SourceCapture {
  std::shared_ptr<StageList> stages;  // null = reload; shared so a running capture keeps it
};

// Per backend: relid -> what to capture. Invalidated by relcache messages for the source
// (sent by create_stage, map_source, drop_stage and every DDL on the table).
std::unordered_map<Oid, SourceCapture> cache;
int capture_depth = 0;  // captures running in this backend (a mapping may write a source)

void forget(SourceCapture& entry) noexcept { entry.stages.reset(); }

void relcache_callback(Datum, Oid relid) {
  // No PostgreSQL calls here: plans are freed at the next capture.
  if (relid == InvalidOid) {
    for (auto& kv : cache) forget(kv.second);
    return;
  }
  auto it = cache.find(relid);
  if (it != cache.end()) forget(it->second);
}

void free_pending_plans() {
  if (capture_depth > 0) return;
  while (!plans_to_free.empty()) {
    SPIPlanPtr p = plans_to_free.back();
    plans_to_free.pop_back();
    pg_call([&] { SPI_freeplan(p); });
  }
}

std::shared_ptr<StageList> load(Oid relid) {
  SourceCapture& entry = cache[relid];
  if (entry.stages) return entry.stages;
  auto stages = std::make_shared<StageList>();
  uint64 n = 0;
  as_extension_owner([&] {
    n = spi_exec(
        "SELECT s.id, s.owner::oid::text, ss.mapping_kind, ss.mapping, s.search_path, "
        "       coalesce(st.scope_count, 0), u.col, s.policy = 'continuous' "
        "FROM incview.stage_source ss JOIN incview.stage s ON s.id = ss.stage_id "
        "LEFT JOIN incview.stage_state st ON st.stage_id = s.id "
        "CROSS JOIN LATERAL unnest(s.scope) WITH ORDINALITY AS u(col, ord) "
        "WHERE ss.source = $1 ORDER BY s.id, u.ord",
        {oid_arg(relid)}, true);
  });
  for (uint64 i = 0; i < n; ++i) {
    const int32 id = static_cast<int32>(spi_int8(i, 1));
    if (stages->empty() || stages->back()->stage_id != id) {
      auto sc = std::make_unique<StageCapture>();
      sc->stage_id = id;
      sc->stage_owner = static_cast<Oid>(std::stoul(spi_text_or(i, 2, "0")));
      sc->spec.kind = mapping_kind_from(spi_text_or(i, 3, "all"));
      sc->spec.mapping = spi_text_or(i, 4, "");
      sc->search_path = spi_text_or(i, 5, kSafeSearchPath);
      sc->scopes = spi_int8(i, 6);
      sc->wakes = spi_bool(i, 8);
      stages->push_back(std::move(sc));
    }
    stages->back()->spec.scope.push_back(spi_text_or(i, 7, ""));
  }
  // A relcache message processed while we read may have reset the entry: ours is newer.
  cache[relid].stages = stages;
  return stages;
}

// More distinct keys than this in one statement queue one "every scope" marker.
// Unknown or tiny stages never collapse: their keys are cheap.
int64 marker_threshold(const StageCapture& sc) {
  if (sc.scopes < 100) return INT64_MAX;
  return static_cast<int64>(settings.capture_all_ratio * static_cast<double>(sc.scopes));
}

SPIPlanPtr prepare_kept(const std::string& sql, int nargs, Oid* types) {
  SPIPlanPtr plan = nullptr;
  const char* text = sql.c_str();
  pg_call([&] {
    plan = SPI_prepare(text, nargs, types);
    if (plan) SPI_keepplan(plan);
  });
  if (!plan) throw Error(sqlstate::kInternalError, "pg_incview: could not prepare capture statement");
  return plan;
}

void run_plan(SPIPlanPtr plan, Datum* values, const char* nulls) {
  int rc = 0;
  pg_call([&] { rc = SPI_execute_plan(plan, values, nulls, false, 0); });
  if (rc < 0) throw Error(sqlstate::kInternalError, "pg_incview: capture statement failed");
}

// Rows in the statement's transition tables (the larger of old and new for an UPDATE).
int64 changed_row_count(const TriggerData* td) {
  int64 n = 0;
  pg_call([&] {
    if (td->tg_newtable) n = std::max<int64>(n, tuplestore_tuple_count(td->tg_newtable));
    if (td->tg_oldtable) n = std::max<int64>(n, tuplestore_tuple_count(td->tg_oldtable));
  });
  return n;
}

CaptureSize size_for(int64 rows, int64 threshold) {
  if (rows <= 1) return CaptureSize::One;
  if (rows <= threshold) return CaptureSize::Few;  // distinct keys <= rows: never a marker
  return CaptureSize::Many;
}

void capture_stage(StageCapture& sc, CaptureEvent event, int64 rows) {
  const int64 threshold = marker_threshold(sc);
  Datum values[3] = {Int32GetDatum(sc.stage_id), Int64GetDatum(threshold), 0};
  const int e = static_cast<int>(event) * kSizes;  // first plan slot of this event
  if (sc.spec.kind == MappingKind::Lookup && event != CaptureEvent::Truncate) {
    // Phase 1 runs the owner's mapping as the owner, never as the writer or as us.
    Datum keys = 0;
    bool isnull = true;
    {
      AsRole role(sc.stage_owner);
      with_session_settings(sc.search_path, [&] {
        if (!sc.lookup_plans.plan[e]) sc.lookup_plans.plan[e] = prepare_kept(lookup_keys_statement(sc.spec, event), 0, nullptr);
        run_plan(sc.lookup_plans.plan[e], nullptr, nullptr);
        keys = spi_datum(0, 1, &isnull);
      });
    }
    if (isnull) return;  // the mapping produced no key
    values[2] = keys;
    as_extension_owner([&] {
      if (!sc.plans.plan[e]) {
        Oid types[3] = {INT4OID, INT8OID, JSONBARRAYOID};
        sc.plans.plan[e] = prepare_kept(queue_keys_statement(), 3, types);
      }
      run_plan(sc.plans.plan[e], values, nullptr);
    });
    return;
  }
  const CaptureSize size = sc.spec.kind == MappingKind::Same ? size_for(rows, threshold) : CaptureSize::Many;
  const int slot = e + static_cast<int>(size);
  as_extension_owner([&] {
    if (!sc.plans.plan[slot]) {
      Oid types[2] = {INT4OID, INT8OID};
      sc.plans.plan[slot] = prepare_kept(capture_statement(sc.spec, event, size), 2, types);
    }
    run_plan(sc.plans.plan[slot], values, nullptr);
  });
}

CaptureEvent event_of(TriggerEvent ev) {
  if (TRIGGER_FIRED_BY_INSERT(ev)) return CaptureEvent::Insert;
  if (TRIGGER_FIRED_BY_UPDATE(ev)) return CaptureEvent::Update;
  if (TRIGGER_FIRED_BY_DELETE(ev)) return CaptureEvent::Delete;
  return CaptureEvent::Truncate;
}

}  // namespace

void register_capture_invalidation() { CacheRegisterRelcacheCallback(relcache_callback, 0); }

void invalidate_capture(Oid source) {
  pg_call([&] { CacheInvalidateRelcacheByRelid(source); });
}

void invalidate_stage_capture(int32 stage_id) {
  const uint64 n = spi_exec("SELECT source::oid::text FROM incview.stage_source WHERE stage_id = $1",
                            {int4_arg(stage_id)}, true);
  std::vector<Oid> sources;
  for (uint64 i = 0; i < n; ++i) sources.push_back(static_cast<Oid>(std::stoul(spi_text_or(i, 1, "0"))));
  for (Oid s : sources) invalidate_capture(s);
}

void install_capture(Oid source) {
  const auto exists = spi_scalar("SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid = $1 AND tgname = $2",
                                 {oid_arg(source), text_arg(kTriggerNames[0])});
  if (!exists) {
    const std::string table = *spi_scalar("SELECT $1::regclass::text", {oid_arg(source)});
    const std::string fn = "incview.capture()";
    spi_exec("CREATE TRIGGER " + quote_ident(kTriggerNames[0]) + " AFTER INSERT ON " + table +
             " REFERENCING NEW TABLE AS incview_new FOR EACH STATEMENT EXECUTE FUNCTION " + fn);
    spi_exec("CREATE TRIGGER " + quote_ident(kTriggerNames[1]) + " AFTER UPDATE ON " + table +
             " REFERENCING OLD TABLE AS incview_old NEW TABLE AS incview_new FOR EACH STATEMENT EXECUTE FUNCTION " +
             fn);
    spi_exec("CREATE TRIGGER " + quote_ident(kTriggerNames[2]) + " AFTER DELETE ON " + table +
             " REFERENCING OLD TABLE AS incview_old FOR EACH STATEMENT EXECUTE FUNCTION " + fn);
    spi_exec("CREATE TRIGGER " + quote_ident(kTriggerNames[3]) + " AFTER TRUNCATE ON " + table +
             " FOR EACH STATEMENT EXECUTE FUNCTION " + fn);
  }
  invalidate_capture(source);
}

void remove_capture(const StageRecord& stage) {
  const uint64 n = spi_exec(
      "SELECT ss.source::oid::text, ss.source::text, "
      "       NOT EXISTS (SELECT 1 FROM incview.stage_source o WHERE o.source = ss.source AND o.stage_id <> $1) "
      "FROM incview.stage_source ss WHERE ss.stage_id = $1",
      {int4_arg(stage.id)}, true);
  std::vector<std::pair<Oid, std::pair<std::string, bool>>> sources;
  for (uint64 i = 0; i < n; ++i)
    sources.push_back({static_cast<Oid>(std::stoul(spi_text_or(i, 1, "0"))), {spi_text_or(i, 2, ""), spi_bool(i, 3)}});
  for (const auto& [oid, info] : sources) {
    if (info.second)
      for (const char* name : kTriggerNames)
        spi_exec("DROP TRIGGER IF EXISTS " + quote_ident(name) + " ON " + info.first);
    invalidate_capture(oid);
  }
}

}  // namespace incview::pg

// The trigger function behind every capture trigger.
Datum incview_capture(PG_FUNCTION_ARGS) {
  using namespace incview;
  using namespace incview::pg;
  return entry_guard([&]() -> Datum {
    if (!CALLED_AS_TRIGGER(fcinfo))
      throw Error("39P01", "incview.capture() must be called as a trigger");
    auto* td = reinterpret_cast<TriggerData*>(fcinfo->context);
    if (!TRIGGER_FIRED_FOR_STATEMENT(td->tg_event) || !TRIGGER_FIRED_AFTER(td->tg_event))
      throw Error("39P01", "incview.capture() must be an AFTER ... FOR EACH STATEMENT trigger");
    const Oid relid = td->tg_relation->rd_id;
    const CaptureEvent event = event_of(td->tg_event);
    spi_connect();
    pg_call([&] { SPI_register_trigger_data(td); });
    free_pending_plans();
    const std::shared_ptr<StageList> stages = load(relid);
    const int64 rows = changed_row_count(td);
    bool wake = false;
    ++capture_depth;
    try {
      for (auto& sc : *stages) {
        capture_stage(*sc, event, rows);
        wake = wake || sc->wakes;
      }
    } catch (...) {
      --capture_depth;
      throw;
    }
    --capture_depth;
    spi_finish();
    // Continuous stages are woken at commit; the others wait for their time (naptime).
    if (wake) note_dirty_in_transaction();
    return PointerGetDatum(nullptr);
  });
}
