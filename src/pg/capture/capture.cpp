#include "pg/capture/capture.hpp"

#include <algorithm>
#include <memory>
#include <unordered_map>

#include "core/capture_sql.hpp"
#include "core/sql_text.hpp"
#include "pg/capture/change_record.hpp"
#include "pg/capture/delta_queue_lock.hpp"
#include "pg/capture/stage_capture.hpp"
#include "pg/citus/citus.hpp"
#include "pg/support/guard.hpp"
#include "pg/catalog/capture_list.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/catalog/change_rows.hpp"
#include "pg/catalog/dirty_rows.hpp"
#include "pg/catalog/source_rows.hpp"
#include "pg/support/role.hpp"
#include "pg/support/settings.hpp"
#include "pg/background/shared_state.hpp"
#include "pg/background/worker_budget.hpp"
#include "pg/support/kept_plans.hpp"
#include "pg/support/spi.hpp"
#include "pg/support/relcache_watch.hpp"

extern "C" {
#include "access/transam.h"
#include "commands/trigger.h"
#include "replication/worker_internal.h"
#include "utils/inval.h"
#include "utils/rls.h"
#include "utils/tuplestore.h"
PG_FUNCTION_INFO_V1(incview_capture);
}

namespace incview::pg {

namespace {

constexpr const char* kOldTable = "incview_old";
constexpr const char* kNewTable = "incview_new";

// What a source's statements capture: one change record per key group (change_record.hpp),
// whatever the number of stages in it, and a statement of its own for each stage whose keys
// need its owner's code (a lookup mapping, scope columns of user types) or a session setting
// (floats, timestamps), as before change records (and for all of them under catalog 0.1).
struct StageList {
  std::vector<std::unique_ptr<StageCapture>> own;  // per-stage statements
  std::vector<KeyGroup> groups;
  Oid record_table = InvalidOid;
  bool groups_wake = false;  // a continuous stage is in some group
};

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

// True when every scope column of the source has a built-in type (through domains).
bool scope_types_builtin(TupleDesc desc, const std::vector<std::string>& scope) {
  for (const auto& name : scope) {
    Oid type = InvalidOid;
    for (int i = 0; i < desc->natts; ++i) {
      Form_pg_attribute a = TupleDescAttr(desc, i);
      if (!a->attisdropped && name == NameStr(a->attname)) type = a->atttypid;
    }
    Oid base = InvalidOid;
    pg_call([&] { base = getBaseType(type); });
    if (type == InvalidOid || base >= FirstNormalObjectId) return false;
  }
  return true;
}

// The source's columns named like the scope, when all have types whose keys
// change_record.cpp builds; empty otherwise.
std::vector<AttrNumber> key_columns(TupleDesc desc, const std::vector<std::string>& scope, std::vector<Oid>* types) {
  std::vector<AttrNumber> cols;
  for (const auto& name : scope) {
    AttrNumber found = InvalidAttrNumber;
    for (int i = 0; i < desc->natts; ++i) {
      Form_pg_attribute a = TupleDescAttr(desc, i);
      if (!a->attisdropped && name == NameStr(a->attname)) found = a->attnum;
    }
    if (found == InvalidAttrNumber) return {};
    const Oid type = TupleDescAttr(desc, found - 1)->atttypid;
    if (!builtin_key_type(type)) return {};
    cols.push_back(found);
    types->push_back(type);
  }
  return cols;
}

// Puts each stage into the key group of its columns, or keeps it on a statement of its own.
void group_stages(TupleDesc desc, std::vector<std::unique_ptr<StageCapture>> stages, StageList* out) {
  for (auto& sc : stages) {
    std::vector<AttrNumber> cols;
    std::vector<Oid> types;
    // A delta stage queues partial aggregates into its own queue (capture_delta), not keys.
    if (!sc->delta[0].empty()) {
      out->own.push_back(std::move(sc));
      continue;
    }
    if (sc->spec.kind == MappingKind::Same) {
      cols = key_columns(desc, sc->spec.scope, &types);
      if (cols.empty()) {
        out->own.push_back(std::move(sc));
        continue;
      }
    } else if (sc->spec.kind != MappingKind::All) {
      out->own.push_back(std::move(sc));
      continue;
    }
    auto g = std::find_if(out->groups.begin(), out->groups.end(),
                          [&](const KeyGroup& k) { return k.columns == cols && k.types == types; });
    if (g == out->groups.end()) {
      out->groups.push_back(KeyGroup{{}, cols, types, integer_bases(types)});
      g = out->groups.end() - 1;
    }
    g->stage_ids.push_back(sc->stage_id);
    g->max_scopes = std::max(g->max_scopes, sc->scopes);
    g->never_marker = g->never_marker || marker_threshold(sc->scopes) == INT64_MAX;
    out->groups_wake = out->groups_wake || sc->wakes;
  }
}

// "{1,2}" (an oid[] as text) as oids.
std::vector<Oid> oid_array_from_text(const std::string& text) {
  std::vector<Oid> out;
  std::string digits;
  for (char ch : text) {
    if (ch >= '0' && ch <= '9') {
      digits += ch;
    } else if (!digits.empty()) {
      out.push_back(static_cast<Oid>(std::stoul(digits)));
      digits.clear();
    }
  }
  if (!digits.empty()) out.push_back(static_cast<Oid>(std::stoul(digits)));
  return out;
}

std::shared_ptr<StageList> load(Oid relid, TupleDesc desc) {
  SourceCapture& entry = cache[relid];
  if (entry.stages) return entry.stages;
  auto stages = std::make_shared<StageList>();
  std::vector<std::unique_ptr<StageCapture>> all;
  uint64 n = 0;
  as_extension_owner([&] { n = read_capture_list(relid); });
  for (uint64 i = 0; i < n; ++i) {
    const int32 id = static_cast<int32>(spi_int8(i, 1));
    if (all.empty() || all.back()->stage_id != id) {
      auto sc = std::make_unique<StageCapture>();
      sc->stage_id = id;
      sc->stage_owner = static_cast<Oid>(std::stoul(spi_text_or(i, 2, "0")));
      sc->spec.kind = mapping_kind_from(spi_text_or(i, 3, "all"));
      sc->spec.mapping = spi_text_or(i, 4, "");
      sc->search_path = spi_text_or(i, 5, kSafeSearchPath);
      sc->scopes = spi_int8(i, 6);
      sc->wakes = spi_bool(i, 8);
      for (int k = 0; k < 3; ++k) sc->delta[k] = spi_text_or(i, 9 + k, "");
      sc->delta_pending_check = oid_array_from_text(spi_text_or(i, 12, "{}"));
      sc->delta_waits_for_writers = spi_text_or(i, 13, "f") == "t";
      sc->delta_queue = static_cast<Oid>(std::stoul(spi_text_or(i, 14, "0")));
      sc->direct = parse_direct(spi_text_or(i, 15, ""));
      all.push_back(std::move(sc));
    }
    all.back()->spec.scope.push_back(spi_text_or(i, 7, ""));
  }
  for (auto& sc : all)
    if (sc->spec.kind == MappingKind::Same) sc->builtin_types = scope_types_builtin(desc, sc->spec.scope);
  // Catalog 0.1 has no incview.source_change: every stage keeps its own statement there.
  stages->record_table = change_record_table();
  if (OidIsValid(stages->record_table))
    group_stages(desc, std::move(all), stages.get());
  else
    stages->own = std::move(all);
  // A relcache message processed while we read may have reset the entry: ours is newer.
  cache[relid].stages = stages;
  return stages;
}

// A key group's threshold: the largest of its stages' (a smaller stage rebuilds rather than batches anyway).
int64 group_threshold(const KeyGroup& g) { return g.never_marker ? INT64_MAX : marker_threshold(g.max_scopes); }

// Rows in the statement's transition tables (the larger of old and new for an UPDATE).
int64 changed_row_count(const TriggerData* td) {
  int64 n = 0;
  pg_call([&] {
    if (td->tg_newtable) n = std::max<int64>(n, tuplestore_tuple_count(td->tg_newtable));
    if (td->tg_oldtable) n = std::max<int64>(n, tuplestore_tuple_count(td->tg_oldtable));
  });
  return n;
}

// incview.capture() runs pg_incview's SQL as the extension owner over the statement's
// transition tables, which it finds by name. It must only ever run as one of our own
// triggers: right name for the event, AFTER ... FOR EACH STATEMENT, and the transition
// tables registered under our names (else "incview_new" would resolve through the
// search path, to whatever temp view the table's owner planted).
void check_trigger_is_ours(const TriggerData* td, CaptureEvent event) {
  const Trigger* t = td->tg_trigger;
  auto named = [](const char* have, const char* want) { return have && strcmp(have, want) == 0; };
  bool ok = false;
  if (TRIGGER_FIRED_FOR_ROW(td->tg_event)) {
    // The row trigger: no transition tables (its one row becomes one, see RowAsStatement).
    ok = TRIGGER_FIRED_AFTER(td->tg_event) && event != CaptureEvent::Truncate && named(t->tgname, kRowTrigger) &&
         t->tgoldtable == nullptr && t->tgnewtable == nullptr && td->tg_trigtuple != nullptr;
  } else {
    const char* want_name = kTriggerNames[static_cast<int>(event)];
    const bool wants_old = event == CaptureEvent::Update || event == CaptureEvent::Delete;
    const bool wants_new = event == CaptureEvent::Update || event == CaptureEvent::Insert;
    ok = TRIGGER_FIRED_FOR_STATEMENT(td->tg_event) && TRIGGER_FIRED_AFTER(td->tg_event) &&
         named(t->tgname, want_name) &&
         (wants_old ? named(t->tgoldtable, kOldTable) && td->tg_oldtable : t->tgoldtable == nullptr) &&
         (wants_new ? named(t->tgnewtable, kNewTable) && td->tg_newtable : t->tgnewtable == nullptr);
  }
  if (!ok)
    throw Error(sqlstate::kTriggerProtocolViolated,
                std::string("incview.capture() fired by trigger \"") + (t->tgname ? t->tgname : "?") +
                    "\", which is not one of pg_incview's capture triggers",
                "pg_incview installs its own triggers (incview_capture_ins/upd/del/trunc, with transition tables "
                "incview_old/incview_new, and the row trigger incview_capture_row) on the sources of stages",
                "drop this trigger; incview.create_stage and incview.map_source install capture");
}

// A row trigger's firing as a statement of one row: the same TriggerData with the row (old,
// new or both) in one-row tuplestores registered under our transition table names, so the
// statement capture runs unchanged on it.
struct RowAsStatement {
  TriggerData data;
  Trigger trigger;
  Tuplestorestate* old_rows = nullptr;
  Tuplestorestate* new_rows = nullptr;
};

void row_as_statement(const TriggerData* td, CaptureEvent event, RowAsStatement* out) {
  pg_call([&] {
    out->data = *td;
    out->trigger = *td->tg_trigger;
    out->data.tg_trigger = &out->trigger;
    auto one_row = [](HeapTuple tuple) {
      Tuplestorestate* ts = tuplestore_begin_heap(false, false, work_mem);
      tuplestore_puttuple(ts, tuple);
      return ts;
    };
    HeapTuple old_tuple = event == CaptureEvent::Insert ? nullptr : td->tg_trigtuple;
    HeapTuple new_tuple = event == CaptureEvent::Insert   ? td->tg_trigtuple
                          : event == CaptureEvent::Update ? td->tg_newtuple
                                                          : nullptr;
    if (old_tuple) out->old_rows = one_row(old_tuple);
    if (new_tuple) out->new_rows = one_row(new_tuple);
    out->data.tg_oldtable = out->old_rows;
    out->data.tg_newtable = out->new_rows;
    out->trigger.tgoldtable = out->old_rows ? const_cast<char*>(kOldTable) : nullptr;
    out->trigger.tgnewtable = out->new_rows ? const_cast<char*>(kNewTable) : nullptr;
  });
}

CaptureEvent event_of(TriggerEvent ev) {
  if (TRIGGER_FIRED_BY_INSERT(ev)) return CaptureEvent::Insert;
  if (TRIGGER_FIRED_BY_UPDATE(ev)) return CaptureEvent::Update;
  if (TRIGGER_FIRED_BY_DELETE(ev)) return CaptureEvent::Delete;
  return CaptureEvent::Truncate;
}

}  // namespace

void register_capture_invalidation() { watch_relcache(relcache_callback); }

void invalidate_capture(Oid source) {
  pg_call([&] { CacheInvalidateRelcacheByRelid(source); });
}

void invalidate_stage_capture(int32 stage_id) {
  for (Oid s : sources_of(stage_id)) invalidate_capture(s);
}

}  // namespace incview::pg

// The trigger function behind every capture trigger.
Datum incview_capture(PG_FUNCTION_ARGS) {
  using namespace incview;
  using namespace incview::pg;
  return entry_guard([&]() -> Datum {
    if (!CALLED_AS_TRIGGER(fcinfo))
      throw Error(sqlstate::kTriggerProtocolViolated, "incview.capture() must be called as a trigger");
    auto* td = reinterpret_cast<TriggerData*>(fcinfo->context);
    const Oid relid = td->tg_relation->rd_id;
    const CaptureEvent event = event_of(td->tg_event);
    check_trigger_is_ours(td, event);
    RowAsStatement one_row;
    TriggerData* data = td;
    if (TRIGGER_FIRED_FOR_ROW(td->tg_event)) {
      // Only a subscription's apply worker fires no statement trigger; everywhere else
      // (tablesync's COPY, replica-role sessions) ours fire, so the row has been seen.
      if (MyLogicalRepWorker == nullptr || OidIsValid(MyLogicalRepWorker->relid)) return PointerGetDatum(nullptr);
      row_as_statement(td, event, &one_row);
      data = &one_row.data;
    }
    if (capture_depth == 0) free_released_plans();  // a capture running below us may use them
    // SPI only to read the capture list after an invalidation, and for stages on statements
    // of their own: a source whose stages all sit in key groups captures without it.
    auto cached = cache.find(relid);
    std::shared_ptr<StageList> stages = cached != cache.end() ? cached->second.stages : nullptr;
    bool connected = false;
    if (!stages) {
      spi_connect();
      connected = true;
      stages = load(relid, td->tg_relation->rd_att);
    }
    // Delta queues first, before anything is written: a stage dropped while we waited for its
    // queue resets the capture list (delta_queue_lock.hpp).
    while (!stages->own.empty()) {
      lock_delta_queues(stages->own, relid, event);
      cached = cache.find(relid);
      if (cached != cache.end() && cached->second.stages == stages) break;
      if (!connected) spi_connect();
      connected = true;
      stages = load(relid, td->tg_relation->rd_att);
    }
    const int64 rows = changed_row_count(data);
    bool wake = stages->groups_wake;
    ++capture_depth;
    try {
      for (const auto& g : stages->groups)
        capture_group(stages->record_table, g, data, event, rows, group_threshold(g));
      // A delta stage's one-row statement may be captured directly (no SPI); the others
      // run their statements with the transition tables registered.
      bool registered = false;
      for (auto& sc : stages->own) {
        wake = wake || sc->wakes;
        if (capture_stage_direct(*sc, data, relid, event)) continue;
        if (!connected) spi_connect();
        connected = true;
        if (!registered) pg_call([&] { SPI_register_trigger_data(data); });
        registered = true;
        capture_stage(*sc, relid, event, rows);
      }
    } catch (...) {
      --capture_depth;
      throw;
    }
    --capture_depth;
    if (connected) spi_finish();
    pg_call([&] {
      if (one_row.old_rows) tuplestore_end(one_row.old_rows);
      if (one_row.new_rows) tuplestore_end(one_row.new_rows);
    });
    // Continuous stages are woken at commit; the others wait for their time (naptime).
    if (wake) note_dirty_in_transaction();
    note_queued_keys(wake);  // a scheduler that has exited must learn of these keys
    return PointerGetDatum(nullptr);
  });
}
