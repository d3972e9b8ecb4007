// SQL entry points that re-derive stages on request: refresh_scopes, refresh_where,
// rebuild, verify, explain.
#include <algorithm>

#include "core/delta_write_cost.hpp"
#include "core/sql_text.hpp"
#include "core/stage_sql.hpp"
#include "pg/api/args.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/catalog/delta_rows.hpp"
#include "pg/citus/citus.hpp"
#include "pg/catalog/dirty_queue.hpp"
#include "pg/catalog/source_rows.hpp"
#include "pg/catalog/stage_rows.hpp"
#include "pg/query/explain.hpp"
#include "pg/background/progress.hpp"
#include "pg/support/guard.hpp"
#include "pg/query/query_check.hpp"
#include "pg/refresh/delta_engine.hpp"
#include "pg/refresh/refresher.hpp"
#include "pg/support/settings.hpp"
#include "pg/support/spi.hpp"
#include "pg/refresh/stage_refresh.hpp"
#include "pg/capture/capture.hpp"
#include "pg/query/stage_inputs.hpp"

extern "C" {
#include "utils/tuplestore.h"
}

extern "C" {
PG_FUNCTION_INFO_V1(incview_refresh_scopes);
PG_FUNCTION_INFO_V1(incview_refresh_where);
PG_FUNCTION_INFO_V1(incview_rebuild);
PG_FUNCTION_INFO_V1(incview_verify);
PG_FUNCTION_INFO_V1(incview_explain);
PG_FUNCTION_INFO_V1(incview_check);
PG_FUNCTION_INFO_V1(incview_ensure_fresh);
}

using namespace incview;
using namespace incview::pg;

namespace {

// Refreshes these keys' scopes (consuming their queued keys), logs the run.
int64 refresh_key_batches(const StageRecord& stage, const std::vector<KeyBatch>& batches) {
  int64 scopes = 0;
  for (const auto& b : batches) scopes += b.count;
  ProgressRun run(stage.id, ProgressPhase::RefreshingBatches, scopes, static_cast<int64>(batches.size()));
  const double t0 = monotonic_seconds();
  for (const auto& b : batches) consume_dirty_keys(stage, b);
  RefreshStats stats = refresh_batches(stage, batches);
  log_refresh(stage, stats, monotonic_seconds() - t0, std::nullopt);
  return stats.scopes;
}

// Refreshes the keys now in SPI_tuptable (typed scope columns), logs the run.
int64 refresh_current_keys(const StageRecord& stage) {
  return refresh_key_batches(stage, batches_from_result(stage.scope_types, settings.batch_size));
}

// keys must be a JSON array of scope keys ('[1, 2]', '[{"org_id": 1, "cluster": "c"}]',
// '[[1, "c"]]'): ERROR 22023 naming the first bad one. Leaves the distinct typed keys in
// SPI_tuptable. Run as the owner (casts to its types).
void read_json_keys(const StageRecord& stage, const SpiArg& keys) {
  const StageSql sql(stage.shape);
  if (spi_scalar("SELECT jsonb_typeof($1)", {keys}).value_or("") != "array")
    throw Error(sqlstate::kInvalidParameterValue, "keys must be a JSON array", "",
                "for example '[123, 456]' or '[{\"org_id\": 1, \"cluster\": \"c\"}]'");
  spi_exec(sql.check_json_keys(), {keys}, true);
  if (spi_int8(0, 1) > 0) {
    std::vector<std::string> names;
    for (const auto& c : stage.shape.scope) names.push_back(c.name);
    throw Error(sqlstate::kInvalidParameterValue,
                "invalid scope key " + spi_text_or(0, 2, "?") + " for stage \"" + stage.name + "\"",
                "the scope is (" + join(names, ", ") + ")",
                names.size() == 1 ? "pass scalars, e.g. '[1, 2]', or objects naming the column"
                                  : "pass objects naming every scope column or arrays with one value per column");
  }
  spi_exec(sql.keys_from_json(), {keys}, true);
}

// What verify and rebuild add to their result: capture switched off on a source (WARNING),
// and a scope-by-scope refresh that rests on the owner's declaration only (NOTICE).
void report_drift_risks(const StageRecord& stage) {
  warn_if_capture_off(stage);
  if (!stage.declared_independent || stage.independence_problem.empty()) return;
  const std::string msg =
      "stage \"" + stage.name +
      "\" is refreshed scope by scope on its owner's declaration; the analysis found: " + stage.independence_problem;
  const char* m = msg.c_str();
  pg_call([&] { ereport(NOTICE, (errmsg("%s", m))); });
}

// ensure_fresh's clean case at a glance (issue 16, item 5: cheap enough before every read):
// a stage with one scope column of type int2/int4/int8/text, keys given as a JSON array of
// numbers spelled as integers (or strings, for text). Casting such a key to the scope type and back,
// as the full path does, gives jsonb_build_array(value) again (jsonb numbers compare by
// value), so the full path's question — is one of these keys, or a marker, queued? — is
// here a question about jsonb alone, answered as the extension owner with kept plans,
// without loading the stage or switching roles (catalog/stage_rows.hpp). True only when
// none is queued and the caller may refresh the stage; anything else (another shape, a
// dirty key, no privilege) takes the full path.
bool clean_at_a_glance(const std::string& name, Datum keys) {
  const SingleScopeStage glance = single_scope_stage(name);
  const std::optional<std::string>& id = glance.id;
  const std::optional<std::string>& owner = glance.owner;
  const std::optional<std::string>& kind = glance.kind;
  if (!id || !owner || !kind) return false;
  bool allowed = false;
  const Oid owner_oid = static_cast<Oid>(std::stoul(*owner));
  pg_call([&] { allowed = has_privs_of_role(GetUserId(), owner_oid); });
  if (!allowed) return false;  // the full path reports it
  return no_key_queued_at_a_glance(static_cast<int32>(std::stol(*id)), keys, *kind);
}

// refresh_scopes(stage, keys) and ensure_fresh(stage, keys): these scopes, now; with
// only_if_dirty, only when one of them is queued (or a marker is), checked again after the
// stage's lock, which a refresh already running holds until it commits.
Datum refresh_json_keys(FunctionCallInfo fcinfo, bool only_if_dirty) {
  return entry_guard([&]() -> Datum {
    const std::string name = required_text(fcinfo, 0, "stage");
    if (PG_ARGISNULL(1)) throw Error(sqlstate::kNullValueNotAllowed, "parameter \"keys\" must not be NULL");
    const SpiArg keys{JSONBOID, PG_GETARG_DATUM(1), false};
    spi_connect();
    // ensure_fresh asks the queue: keys still on Citus shards must be in it first (moving them
    // is the extension's own bookkeeping; nothing without Citus sources).
    if (only_if_dirty) drain_citus_queues();
    if (only_if_dirty && clean_at_a_glance(name, keys.value)) {
      spi_finish();
      PG_RETURN_INT64(0);
    }
    const StageRecord stage = load_owned_stage(name, "refresh it");
    int64 scopes = 0;
    as_owner_of(stage, [&] {
      read_json_keys(stage, keys);
      const auto batches = batches_from_result(stage.scope_types, settings.batch_size);
      std::vector<Datum> queue_keys;
      if (only_if_dirty)
        for (const auto& b : batches)
          if (auto k = queue_keys_of(stage, b)) queue_keys.push_back(*k);
      auto dirty = [&] {
        if (!only_if_dirty) return true;
        for (Datum k : queue_keys)
          if (any_queued(stage, k)) return true;
        return false;
      };
      if (!dirty()) return;
      lock_stage(stage.id);
      if (!dirty()) return;
      scopes = refresh_key_batches(stage, batches);
    });
    spi_finish();
    PG_RETURN_INT64(scopes);
  });
}

}  // namespace

Datum incview_refresh_scopes(PG_FUNCTION_ARGS) { return refresh_json_keys(fcinfo, false); }

Datum incview_refresh_where(PG_FUNCTION_ARGS) {
  return entry_guard([&]() -> Datum {
    const std::string name = required_text(fcinfo, 0, "stage");
    const std::string condition = required_text(fcinfo, 1, "condition");
    spi_connect();
    const StageRecord stage = load_owned_stage(name, "refresh it");
    check_condition(condition);
    int64 scopes = 0;
    as_owner_of(stage, [&] {  // the condition is embedded in SQL over the owner's query
      lock_stage(stage.id);
      spi_exec(StageSql(stage.shape).keys_where(condition), {}, true);
      scopes = refresh_current_keys(stage);
    });
    spi_finish();
    PG_RETURN_INT64(scopes);
  });
}

Datum incview_rebuild(PG_FUNCTION_ARGS) {
  return entry_guard([&]() -> Datum {
    const std::string name = required_text(fcinfo, 0, "stage");
    spi_connect();
    const StageRecord stage = load_owned_stage(name, "refresh it");
    as_owner_of(stage, [&] { reinstall_missing_capture(stage); });
    const RefreshStats stats = rebuild_and_log(stage);
    report_drift_risks(stage);
    spi_finish();
    PG_RETURN_INT64(stats.inserted + stats.updated);
  });
}

Datum incview_verify(PG_FUNCTION_ARGS) {
  return entry_guard([&]() -> Datum {
    const std::string name = required_text(fcinfo, 0, "stage");
    spi_connect();
    const StageRecord stage = load_owned_stage(name, "refresh it");
    int64 missing = 0, extra = 0;
    // A delta stage's __incview_folded (delta_engine.hpp) says whether a fold wrote the row
    // since it was derived, not what the query says: not compared.
    StageShape shape = stage.shape;
    if (delta_active(stage))
      shape.columns.erase(std::remove(shape.columns.begin(), shape.columns.end(), "__incview_folded"),
                          shape.columns.end());
    as_owner_of(stage, [&] {
      spi_exec(StageSql(shape).verify(), {}, true);
      missing = spi_int8(0, 1);
      extra = spi_int8(0, 2);
    });
    report_drift_risks(stage);
    spi_finish();
    Datum result = 0;
    pg_call([&] {
      TupleDesc desc;
      if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
        elog(ERROR, "incview.verify must return a record");
      desc = BlessTupleDesc(desc);
      Datum values[2] = {Int64GetDatum(missing), Int64GetDatum(extra)};
      bool nulls[2] = {false, false};
      result = HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
    });
    return result;
  });
}

Datum incview_explain(PG_FUNCTION_ARGS) {
  return entry_guard([&]() -> Datum {
    const std::string name = required_text(fcinfo, 0, "stage");
    spi_connect();
    const auto read_query = arg_text(fcinfo, 1);
    const StageRecord stage = load_owned_stage(name, "refresh it");
    std::string report;
    as_owner_of(stage, [&] { report = read_query ? explain_read_query(stage, *read_query) : explain_stage(stage); });
    spi_finish();
    return text_result(report);
  });
}

// incview.check(stage) -> (risk, detail): why the stage could drift from its query, at a
// glance. Recomputed now (as the owner, like every analysis of the stage's SQL).
Datum incview_check(PG_FUNCTION_ARGS) {
  return entry_guard([&]() -> Datum {
    const std::string name = required_text(fcinfo, 0, "stage");
    spi_connect();
    const StageRecord stage = load_owned_stage(name, "refresh it");
    std::vector<std::pair<std::string, std::string>> risks;
    std::optional<std::string> off;
    std::vector<std::string> declared;
    off = source_with_capture_off(stage.id);
    declared = declared_sources(stage.id);
    if (off)
      risks.push_back({"capture off", "pg_incview's triggers on " + *off +
                                          " are disabled or missing: their "
                                          "changes are not seen (status stale)"});
    if (!stage.independence_known)
      risks.push_back({"not analyzed", "scope independence not analyzed since the update: the next refresh rebuilds"});
    else if (stage.declared_independent && !stage.independence_problem.empty())
      risks.push_back({"declared independent", "refreshed scope by scope on the owner's word; the analysis found: " +
                                                   stage.independence_problem});
    else if (!stage.independence_problem.empty())
      risks.push_back(
          {"not independent", stage.independence_problem + " (refreshes rebuild in full: correct, slower)"});
    StageInputs inputs;
    as_owner_of(stage, [&] { inputs = stage_inputs(stage.shape.query, {}); });
    const std::string declared_text = declared.empty() ? "none declared" : "declared sources: " + join(declared, ", ");
    for (const auto& f : inputs.opaque_functions)
      risks.push_back({"opaque function", f +
                                              " is not IMMUTABLE and its body cannot be read: tables it reads are "
                                              "captured only if declared with incview.add_source (" +
                                              declared_text + ")"});
    for (Oid rel : inputs.polled)
      risks.push_back({"polled input", *spi_scalar("SELECT $1::regclass::text", {oid_arg(rel)}) +
                                           " (foreign table or materialized view) is not captured: rebuilt at every "
                                           "period of an interval or daily policy, otherwise only by incview.rebuild"});
    // Not a drift, a cost the writers pay (issue 18): said here because auto never makes it.
    const DeltaLoad load = busiest_delta_source_of(stage.id);
    if (delta_write_cost_grows(load.stages))
      risks.push_back({"write cost", delta_write_cost_detail(load.source, load.stages)});
    for (const auto& f : inputs.time_functions)
      risks.push_back({"time-dependent", f + ": rows depend on when their scope was last refreshed"});
    for (Oid rel : inputs.function_tables)
      risks.push_back({"read inside a function", *spi_scalar("SELECT $1::regclass::text", {oid_arg(rel)}) +
                                                     " is captured; any change to it dirties every scope"});
    spi_finish();
    pg_call([&] {
      InitMaterializedSRF(fcinfo, 0);
      auto* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
      for (const auto& [risk, detail] : risks) {
        Datum values[2] = {CStringGetTextDatum(risk.c_str()), CStringGetTextDatum(detail.c_str())};
        bool nulls[2] = {false, false};
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
      }
    });
    return static_cast<Datum>(0);
  });
}

// incview.ensure_fresh(stage, keys) -> bigint: read-your-writes. Refreshes these scopes now
// if any of them is dirty (or an "every scope" marker is queued), after waiting for a
// refresh of the stage already running (which may make them fresh); returns at once, 0,
// when they are clean. Call it between a request's write and its read of the same scopes.
Datum incview_ensure_fresh(PG_FUNCTION_ARGS) { return refresh_json_keys(fcinfo, true); }
