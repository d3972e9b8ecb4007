// SQL entry points that define stages: create_stage, drop_stage, set_engine.
#include <algorithm>
#include <set>

#include "core/sql_text.hpp"
#include "core/stage_sql.hpp"
#include "pg/api/args.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/catalog/dirty_queue.hpp"
#include "pg/catalog/stage_rows.hpp"
#include "pg/query/explain.hpp"
#include "pg/support/guard.hpp"
#include "pg/refresh/delta_engine.hpp"
#include "pg/query/query_check.hpp"
#include "pg/refresh/refresher.hpp"
#include "pg/refresh/scope_count.hpp"
#include "pg/support/role.hpp"
#include "pg/support/settings.hpp"
#include "pg/support/spi.hpp"
#include "pg/catalog/stage_sources.hpp"
#include "pg/storage/stage_drop.hpp"
#include "pg/storage/partitions.hpp"
#include "pg/storage/storage_swap.hpp"
#include "pg/background/progress.hpp"
#include "pg/storage/stage_indexes.hpp"
#include "pg/storage/stage_table.hpp"
#include "pg/catalog/stage_definition.hpp"
#include "pg/capture/capture.hpp"
#include "core/refresh_planner.hpp"
#include "pg/citus/citus.hpp"

extern "C" {
PG_FUNCTION_INFO_V1(incview_create_stage);
PG_FUNCTION_INFO_V1(incview_drop_stage);
PG_FUNCTION_INFO_V1(incview_set_engine);
PG_FUNCTION_INFO_V1(incview_declare_independent);
}

using namespace incview;
using namespace incview::pg;

namespace {

// The engine a caller named. Every engine works with or without a unique_key (diff without
// one pairs rows by their whole value, as a multiset: StageSql::multiset_diff_body).
Engine checked_engine(const std::string& name) { return engine_or_throw(name); }

void check_names(const std::vector<std::string>& names, const char* what) {
  std::set<std::string> seen;
  for (const auto& n : names)
    if (!seen.insert(n).second)
      throw Error(sqlstate::kInvalidParameterValue, std::string(what) + " names column \"" + n + "\" twice");
}

void check_columns_exist(const std::vector<std::string>& wanted, const std::vector<std::string>& columns,
                         const char* what) {
  for (const auto& w : wanted)
    if (std::find(columns.begin(), columns.end(), w) == columns.end())
      throw Error(sqlstate::kUndefinedColumn,
                  std::string(what) + " column \"" + w + "\" is not an output column of the stage query",
                  "the query returns: " + join(columns, ", "),
                  "column names are matched exactly (case-sensitive), as the query spells them");
}

// Resolves where the target table goes: the default is public.<stage name>; a given
// name follows CREATE TABLE's rules (unqualified = the current schema).
std::pair<std::string, std::string> resolve_target(const std::string& name, const std::optional<std::string>& target) {
  if (!target) return {"public", name};
  auto parts = split_qualified_name(*target);
  if (parts.size() == 2) {
    if (!spi_scalar("SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1", {text_arg(parts[0])}))
      throw Error(sqlstate::kInvalidSchemaName, "schema \"" + parts[0] + "\" does not exist",
                  "target => '" + *target + "'");
    return {parts[0], parts[1]};
  }
  auto schema = spi_scalar("SELECT pg_catalog.current_schema()");
  if (!schema) throw Error(sqlstate::kInvalidSchemaName, "no schema has been selected to create the target in");
  return {*schema, parts[0]};
}

// The partition key must be an output column; for list and hash it must also be a scope
// column, so that a scoped refresh prunes to the partitions of its scopes.
void check_partition_column(const StagePartitioning& partition, const std::vector<std::string>& scope, Oid shape) {
  const auto found = column_type(shape, partition.column);
  if (!found) {
    const std::string cols = spi_scalar(
                                 "SELECT string_agg(attname, ', ' ORDER BY attnum) FROM pg_catalog.pg_attribute "
                                 "WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped",
                                 {oid_arg(shape)})
                                 .value_or("");
    throw Error(sqlstate::kUndefinedColumn,
                "partition column \"" + partition.column + "\" is not an output column of the stage query",
                "the query returns: " + cols);
  }
  if (partition.method != PartitionMethod::Range &&
      std::find(scope.begin(), scope.end(), partition.column) == scope.end())
    throw Error(sqlstate::kInvalidParameterValue,
                std::string(to_string(partition.method)) + " partition key \"" + partition.column +
                    "\" must be one of the scope columns",
                "a refresh deletes and re-derives whole scopes; with the partition key inside the scope, the "
                "scopes of a refresh prune to their partitions and one partition can be rebuilt alone, while a key "
                "outside the scope would make every refresh visit every partition",
                "add it to scope, or partition by range on a time column (for retention)");
  if (partition.method == PartitionMethod::Range && !partition.numeric_range) check_range_width(partition.interval);
  if (partition.method == PartitionMethod::Range) {
    const bool ok_type = partition.numeric_range
                             ? found->find("int") != std::string::npos || *found == "numeric" || *found == "bigint"
                             : found->find("timestamp") == 0 || *found == "date";
    if (!ok_type)
      throw Error(sqlstate::kInvalidParameterValue,
                  "range partition column \"" + partition.column + "\" has type " + *found,
                  partition.numeric_range ? "a numeric bucket width needs an integer or numeric column"
                                          : "an interval bucket width needs a date or timestamp column");
  }
}

// Citus refuses the diff engine's UPDATE on a distributed table ("STABLE functions used in
// UPDATE queries cannot be called with column references").
[[noreturn]] void refuse_citus_diff() {
  throw Error(sqlstate::kFeatureNotSupported, "the diff engine is not supported for a stage over Citus tables",
              "Citus refuses the UPDATE the diff engine runs on a distributed table",
              "use engine => 'replace' (or 'auto', which uses replace on Citus)");
}

// Prepares (without running) every statement refresh will use, so a scope column whose
// type cannot be compared (json, say) fails at create_stage, not at the first refresh.
void check_generated_sql(const StageSql& sql, const std::vector<Oid>& scope_types, bool diff) {
  std::vector<Oid> argtypes;
  for (Oid t : scope_types) {
    Oid a = InvalidOid;
    pg_call([&] { a = get_array_type(t); });
    argtypes.push_back(a);
  }
  NullColumns nulls(scope_types.size(), true);
  std::vector<std::string> statements = {sql.delete_scoped(nulls), sql.select_scoped(nulls)};
  if (diff) statements.push_back(sql.diff_scoped(nulls));
  for (const auto& s : statements) {
    const char* text = s.c_str();
    const int nargs = static_cast<int>(argtypes.size());
    Oid* types = argtypes.data();
    pg_call([&] {
      SPIPlanPtr plan = SPI_prepare(text, nargs, types);
      if (plan) SPI_freeplan(plan);
    });
  }
}

// Statistics target of create_stage's ANALYZE: a sample of 300 x 10 = 3,000 rows (the
// default target of 100 samples 30,000). The first refresh's batches (DELETE ... WHERE scope
// = ANY(1,000 keys)) and the independence check's sample keys are planned with them; without
// any, PostgreSQL assumes 200 distinct values, so a batch of 100 keys or more is planned as a
// whole-table read. The smaller sample still plans them by the index (test/pgtap/
// create_build.sql) for about a sixth of the default's ANALYZE (bench/rebuild.md: 45-66 ms
// against 270-384 ms at 490,696 rows). An ANALYZE of named columns does not reset
// the table's count of changes since the last ANALYZE, so autovacuum still analyzes the new
// table in full, at the default target, as it does a new materialized view.
constexpr const char* kFirstStatisticsTarget = "10";

// ANALYZE of `columns` of the new table `target` from the small sample. As the owner (who
// owns the table); the setting goes back with the owner's GUC nest level (as_stage_owner).
void analyze_sample(const std::string& target, const std::vector<std::string>& columns) {
  spi_exec("SELECT pg_catalog.set_config('default_statistics_target', $1, true)", {text_arg(kFirstStatisticsTarget)});
  spi_exec("ANALYZE " + target + " (" + column_list(columns) + ")");
}

// Wall time of each step of a first build, reported at DEBUG1 at the end (SET
// client_min_messages = debug1 shows it): where create_stage spends its time next to
// CREATE MATERIALIZED VIEW + its unique index (issue 12, bench/rebuild.md).
class StepTimes {
 public:
  StepTimes() : last_(monotonic_seconds()), start_(last_) {}
  void mark(const char* step) {
    const double now = monotonic_seconds();
    text_ += std::string(text_.empty() ? "" : ", ") + step + " " + std::to_string(ms(now - last_)) + " ms";
    last_ = now;
  }
  void report(const std::string& stage) const {
    const std::string msg =
        "create_stage \"" + stage + "\": " + std::to_string(ms(monotonic_seconds() - start_)) + " ms (" + text_ + ")";
    const char* m = msg.c_str();
    pg_call([&] { ereport(DEBUG1, (errmsg("%s", m))); });
  }

 private:
  static long ms(double seconds) { return static_cast<long>(seconds * 1000.0 + 0.5); }
  double last_, start_;
  std::string text_;
};

}  // namespace

Datum incview_create_stage(PG_FUNCTION_ARGS) {
  return entry_guard([&]() -> Datum {
    const std::string name = required_text(fcinfo, 0, "name");
    const std::string query = required_text(fcinfo, 1, "query");
    const auto scope = arg_text_array(fcinfo, 2, "scope");
    const auto unique_key = arg_text_array(fcinfo, 3, "unique_key");
    const auto target_arg = arg_text(fcinfo, 4);
    const bool populate = arg_bool(fcinfo, 5, true);
    const std::string engine_name = arg_text(fcinfo, 6).value_or("auto");
    const std::string partition_by = arg_text(fcinfo, 7).value_or("");
    const auto indexes = arg_text_array(fcinfo, 8, "indexes");
    const StagePartitioning partition = parse_partition_by(partition_by);

    if (scope.empty())
      throw Error(sqlstate::kInvalidParameterValue, "stage \"" + name + "\" needs at least one scope column", "",
                  "pass scope => ARRAY['patient_id'] naming the output column(s) that partition its rows");
    check_stage_name_length(name);
    check_names(scope, "scope");
    check_names(unique_key, "unique_key");
    const Engine engine = checked_engine(engine_name);
    const std::string policy = settings.default_policy ? settings.default_policy : "continuous";
    const auto parsed_policy = parse_policy(policy);
    if (parsed_policy != Policy::Continuous && parsed_policy != Policy::Manual)
      throw Error(sqlstate::kInvalidParameterValue, "incview.default_policy must be continuous or manual",
                  "it is \"" + policy + "\"", "interval and daily policies are set with incview.set_policy");

    spi_connect();
    if (find_stage(name)) throw Error(sqlstate::kDuplicateObject, "stage \"" + name + "\" already exists");
    StepTimes steps;

    // The creator owns the stage; from here on its SQL runs as for every later refresh:
    // as the owner, restricted, under the search path recorded for it.
    const Oid caller = GetUserId();
    const std::string search_path = creator_search_path();
    Oid target_oid = InvalidOid;
    as_stage_owner(caller, search_path, [&] {
      const CheckedQuery checked = check_stage_query(query);
      refuse_own_tables(checked.relations);
      check_source_privileges(caller, checked.relations);
      const StageInputs inputs = stage_inputs(checked.text, checked.relations);
      // The Citus rules first: a local table beside Citus tables is refused with its own reason.
      const CitusStage citus =
          plan_citus_stage(inputs.tables, inputs.citus, inputs.function_tables, scope, partition.partitioned());
      refuse_uncapturable(inputs);
      check_source_privileges(caller, inputs.citus);
      if (citus.used()) {
        if (engine == Engine::Diff) refuse_citus_diff();
        citus_sequential_for_transaction();
      }
      const auto [schema, table] = resolve_target(name, target_arg);
      const std::string target = quote_qualified(schema, table);
      if (spi_scalar("SELECT pg_catalog.to_regclass($1)::text", {text_arg(target)}))
        throw Error(sqlstate::kDuplicateTable, "relation " + target + " already exists",
                    "stage \"" + name + "\" would materialize into it", "choose another table with target => '...'");

      // The target takes the query's column names, types and collations; the caller owns it.
      target_oid = create_stage_table(schema, target, checked.text, partition,
                                      [&](Oid shape) { check_partition_column(partition, scope, shape); });
      if (citus.used()) distribute_stage_table(citus, target, scope.front());

      StageShape shape;
      shape.query = checked.text;
      shape.target = target;
      shape.unique_key = unique_key;
      std::vector<std::pair<std::string, std::pair<std::string, Oid>>> cols;
      const uint64 n = spi_exec(
          "SELECT attname, format_type(atttypid, atttypmod), atttypid::text FROM pg_catalog.pg_attribute "
          "WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
          {oid_arg(target_oid)}, true);
      for (uint64 i = 0; i < n; ++i) {
        cols.push_back(
            {spi_text_or(i, 1, ""), {spi_text_or(i, 2, ""), static_cast<Oid>(std::stoul(spi_text_or(i, 3, "0")))}});
        shape.columns.push_back(cols.back().first);
      }
      check_columns_exist(scope, shape.columns, "scope");
      check_columns_exist(unique_key, shape.columns, "unique_key");
      std::vector<Oid> scope_types;
      for (const auto& s : scope)
        for (const auto& c : cols)
          if (c.first == s) {
            shape.scope.push_back({s, c.second.first});
            scope_types.push_back(c.second.second);
            Oid array_type = InvalidOid;
            const Oid t = c.second.second;
            pg_call([&] { array_type = get_array_type(t); });
            if (array_type == InvalidOid)
              throw Error(sqlstate::kFeatureNotSupported,
                          "scope column \"" + s + "\" has type " + c.second.first + ", which cannot be a scope",
                          "scope keys travel as arrays of the scope type; arrays and types without an array type "
                          "cannot",
                          "scope by the elements instead, e.g. SELECT unnest(tags) AS tag ... GROUP BY tag");
          }
      // A row's identity must stay inside its scope: with a unique key that spans scopes, a
      // row moving from scope A to B would collide when B is refreshed before A. (And
      // PostgreSQL wants the partition key in every unique index of a partitioned table.)
      if (!shape.unique_key.empty()) {
        std::vector<std::string> added;
        std::vector<std::string> needed = scope;
        if (partition.partitioned()) needed.push_back(partition.column);
        for (const auto& s : needed)
          if (std::find(shape.unique_key.begin(), shape.unique_key.end(), s) == shape.unique_key.end()) {
            shape.unique_key.push_back(s);
            added.push_back(s);
          }
        if (!added.empty()) {
          const std::string msg =
              "unique_key of stage \"" + name + "\" extended with scope/partition column(s) " + join(added, ", ");
          const char* m = msg.c_str();
          pg_call([&] {
            ereport(NOTICE, (errmsg("%s", m),
                             errdetail("a row's identity must stay within its scope: rows are re-derived scope by "
                                       "scope, so a row moving between scopes exists in both for a moment")));
          });
        }
      }

      const StageSql sql(shape);
      // The diff statement is checked whenever the engine may use it (core/refresh_planner).
      check_generated_sql(sql, scope_types, diff_may_run(engine, citus.used(), !shape.unique_key.empty()));

      const int32 stage_id =
          insert_stage({text_arg(name), text_arg(checked.text), text_arg(json_string_array(scope)),
                        text_arg(json_string_array(shape.unique_key)), text_arg(json_string_array(shape.columns)),
                        oid_arg(target_oid), text_arg(to_string(engine)), oid_arg(caller), text_arg(search_path),
                        text_arg(policy), partition_by.empty() ? null_arg(TEXTOID) : text_arg(partition_by)});
      create_definition_view(stage_id, name, checked.text, caller, search_path);
      StageRecord stage = load_stage(name);
      register_sources(stage, checked.relations);
      register_sources(stage, inputs.citus);  // their capture goes on the shards (install_capture)
      register_inputs(stage, inputs);
      if (stage.partition.method == PartitionMethod::Hash) create_hash_partitions(stage);
      // Indexes are built after the first load when there is one: building an index on a
      // full table is much cheaper than maintaining it row by row.
      auto create_indexes = [&] {
        create_key_indexes(sql, !shape.unique_key.empty());
        for (const auto& definition : indexes) add_declared_index(stage, definition);
      };
      if (!populate) create_indexes();
      steps.mark("table, catalog and capture triggers");

      if (populate) {
        const double t0 = monotonic_seconds();
        RefreshStats stats;
        stats.engine = to_string(Engine::Full);
        stats.scopes = -1;
        // A first build can be as long as a rebuild: incview.progress shows its rows.
        ProgressRun run(stage.id, ProgressPhase::Rebuilding, -1, 1);
        const std::string count_rows = catalog_is_0_2() ? kProgressRowFilter : "";
        // Straight into the new table like CREATE TABLE AS (docs/rebuild.md), else INSERT.
        const std::optional<LoadResult> loaded =
            stage.partition.partitioned()
                ? std::nullopt
                : load_new_table(stage, "SELECT " + column_list(shape.columns, "s") + " FROM " + sql.wrap_query("s"));
        if (loaded)
          stats.inserted = loaded->rows;
        else
          insert_routed(stage, "SELECT * FROM " + sql.wrap_query("s"), {},
                        [&] { stats.inserted = static_cast<int64>(spi_exec(sql.insert_all(count_rows))); });
        steps.mark(loaded ? "fill (direct)" : "fill (INSERT)");
        create_indexes();
        steps.mark("indexes");
        // Statistics on the columns every refresh filters and joins on (scope, unique key),
        // from a small sample (analyze_sample): the first refresh's batches and the sample
        // batch of the independence check are planned with them (without, their plans read
        // the whole table). The other columns get theirs from autovacuum, as a materialized
        // view's do: a full ANALYZE was 10-15 % of a build (bench/rebuild.md).
        std::vector<std::string> key_columns = scope;
        for (const auto& k : shape.unique_key)
          if (std::find(key_columns.begin(), key_columns.end(), k) == key_columns.end()) key_columns.push_back(k);
        analyze_sample(target, key_columns);
        steps.mark("analyze");
        // Counted during the fill when it could be (no second scan), else by SQL.
        if (loaded && loaded->scope_count) {
          record_known_scope_count(stage, *loaded->scope_count);
          steps.mark("scope count (tallied)");
        } else {
          record_scope_count(stage);
          steps.mark("scope count");
        }
        log_refresh(stage, stats, monotonic_seconds() - t0, std::nullopt);
      }
      // From the query tree always; with a sample plan when the table has rows.
      record_independence(stage);
      steps.mark("independence");
      // Engine delta: its queue, hidden columns and statements (ERROR when the query does not
      // qualify); auto: the same when the query qualifies and its scopes are large.
      if (engine == Engine::Delta || (engine == Engine::Auto && populate && auto_prefers_delta(stage)))
        enable_delta(stage, to_string(engine));
      if (engine == Engine::Delta) warn_delta_write_cost(stage);
      steps.mark("engine");
    });
    steps.report(name);
    spi_finish();
    return ObjectIdGetDatum(target_oid);
  });
}

Datum incview_drop_stage(PG_FUNCTION_ARGS) {
  return entry_guard([&]() -> Datum {
    const std::string name = required_text(fcinfo, 0, "stage");
    const bool cascade = arg_bool(fcinfo, 1, false);
    spi_connect();
    const StageRecord stage = load_stage(name);
    check_stage_owner(stage, "drop it");
    drop_stage_cascade(stage, cascade);
    spi_finish();
    PG_RETURN_VOID();
  });
}

Datum incview_set_engine(PG_FUNCTION_ARGS) {
  return entry_guard([&]() -> Datum {
    const std::string name = required_text(fcinfo, 0, "stage");
    const std::string engine_name = required_text(fcinfo, 1, "engine");
    spi_connect();
    const StageRecord stage = load_stage(name);
    check_stage_owner(stage, "change it");
    const Engine engine = checked_engine(engine_name);
    if (engine == Engine::Diff && is_citus_table(stage.target)) refuse_citus_diff();
    // The delta engine's one switch: on for delta (or auto choosing it), off otherwise.
    if (engine == Engine::Delta || (engine == Engine::Auto && auto_prefers_delta(stage))) {
      enable_delta(stage, to_string(engine));
      if (engine == Engine::Delta) warn_delta_write_cost(stage);
    } else {
      disable_delta(stage);
      save_engine(stage.id, to_string(engine));
    }
    spi_finish();
    PG_RETURN_VOID();
  });
}

// incview.declare_independent(stage, independent): the owner's override of the scope
// independence analysis. Loud: a WARNING naming what the analysis found, and the state is
// in incview.stages.independence, incview.explain and every verify.
Datum incview_declare_independent(PG_FUNCTION_ARGS) {
  return entry_guard([&]() -> Datum {
    const std::string name = required_text(fcinfo, 0, "stage");
    const bool independent = arg_bool(fcinfo, 1, true);
    spi_connect();
    const StageRecord stage = load_owned_stage(name, "change it");
    save_declared_independent(stage.id, independent);
    std::string msg;
    int level = NOTICE;
    if (independent && !stage.independence_problem.empty()) {
      level = WARNING;
      msg = "stage \"" + name +
            "\" will be refreshed scope by scope although the analysis found: " + stage.independence_problem;
    } else if (independent) {
      msg = "stage \"" + name + "\" is " +
            (stage.independence_known ? "already proven" : "not analyzed yet, and now declared") + " independent";
    } else {
      msg = "stage \"" + name + "\" follows the analysis again" +
            (stage.independence_problem.empty() ? "" : ": its refreshes rebuild it in full");
    }
    const char* m = msg.c_str();
    const char* hint =
        "incview.verify compares the table with the query; "  // not SQL: a hint
        "incview.stages.independence shows the declaration";
    pg_call([&] { ereport(level, (errmsg("%s", m), errhint("%s", hint))); });
    spi_finish();
    PG_RETURN_VOID();
  });
}
