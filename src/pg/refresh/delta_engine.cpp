#include "pg/refresh/delta_engine.hpp"

#include <unordered_map>

#include "core/delta_direct.hpp"
#include "core/delta_write_cost.hpp"
#include "core/sql_text.hpp"
#include "pg/catalog/delta_rows.hpp"
#include "pg/catalog/stage_rows.hpp"
#include "pg/catalog/state_rows.hpp"
#include "pg/capture/capture.hpp"
#include "pg/citus/citus.hpp"
#include "pg/query/delta_query.hpp"
#include "pg/refresh/refresher.hpp"
#include "pg/refresh/stage_refresh.hpp"
#include "pg/support/guard.hpp"
#include "pg/support/settings.hpp"
#include "pg/support/spi.hpp"

namespace incview::pg {

namespace {

std::string queue_name(int32 stage_id) { return quote_qualified("incview", "delta_" + std::to_string(stage_id)); }

void refuse_storage(const StageRecord& stage) {
  const auto no = [&](const std::string& why) {
    throw Error(sqlstate::kFeatureNotSupported, "the delta engine cannot maintain stage \"" + stage.name + "\": " + why,
                "", "use engine replace or diff for this stage");
  };
  if (stage.partition.partitioned()) no("its table is partitioned (partition_by)");
  if (!stage.shape.retention_column.empty()) no("it has a retention window (retention deletes rows the groups count)");
  if (is_citus_table(stage.target)) no("its table is a Citus table");
}

// Drops a queue table, as the extension owner (the caller switched).
void report(int level, const std::string& message, const std::string& hint) {
  const char* m = message.c_str();
  const char* h = hint.c_str();
  pg_call([&] { ereport(level, (errmsg("%s", m), errhint("%s", h))); });
}

void drop_queue_table(const std::string& queue) {
  if (!spi_scalar("SELECT pg_catalog.to_regclass($1)::pg_catalog.text", {text_arg(queue)})) return;
  // A queue made by an earlier 0.2 build was a member of the extension.
  if (spi_scalar("SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid OPERATOR(pg_catalog.=) "
                 "'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid OPERATOR(pg_catalog.=) "
                 "$1::pg_catalog.regclass AND d.deptype OPERATOR(pg_catalog.=) 'e'",
                 {text_arg(queue)}))
    spi_exec("ALTER EXTENSION pg_incview DROP TABLE " + queue);
  spi_exec("DROP TABLE " + queue);
}

}  // namespace

void enable_delta(const StageRecord& stage, const std::string& engine) {
  if (delta_active(stage)) {
    save_engine(stage.id, engine);
    return;
  }
  refuse_storage(stage);
  // The query as the owner (its constants' input functions run while analyzing).
  DeltaPlan plan;
  as_owner_of(stage, [&] { plan = delta_plan_for(stage.shape.query); });
  const std::string queue = queue_name(stage.id);
  std::vector<std::string> hidden;
  for (const auto& h : plan.hidden_columns()) hidden.push_back(h.first);
  as_extension_owner([&] {
    spi_exec(plan.create_queue(queue));
    // The stage owner's code writes the queue (capture, as that owner) and consumes it
    // (refresh): it may touch only its own stage's queue. NOT a member of the extension:
    // pg_dump dumps it (definition, grants and the deltas queued at dump time) like the
    // stage's table, and incview.delta_stage is a configuration table, so a restored stage
    // is a delta stage again with nothing lost (test/scenario/dump_restore.sh). A member
    // would be left out of the dump, and a restore cannot add one back. DROP EXTENSION is
    // refused while it exists, as it is for the stages' triggers and views; CASCADE drops it.
    const std::string fast = plan.fold_fast(stage.shape.target, queue);
    const std::string one = plan.fold_one(stage.shape.target);
    spi_exec("GRANT SELECT, INSERT, DELETE ON " + queue + " TO " +
             *spi_scalar("SELECT $1::pg_catalog.regrole::pg_catalog.text", {oid_arg(stage.owner)}));
    save_delta_stage(stage.id, queue, plan.table_query(), json_string_array(hidden),
                     plan.fold(stage.shape.target, queue),
                     plan.has_float_sums() ? text_arg(plan.rederive(stage.shape.target, queue)) : null_arg(TEXTOID),
                     fast.empty() ? null_arg(TEXTOID) : text_arg(fast),
                     one.empty() ? null_arg(TEXTOID) : text_arg(one));
    // One set of capture statements per source. A join's side reads the other sides as they
    // are when its statement's trigger fires: `pending_check` lists them, and a statement
    // whose trigger fires while one of them has a statement of its own pending (a cascade,
    // a data-modifying WITH writing both) would read them too late and queues a rebuild.
    // Writers of different sides in parallel would each read the other's rows as they were
    // before it: the sides but the first wait for each other's and the first side's writers
    // in flight (waits_for_writers, capture.cpp).
    const std::vector<std::string>& sources = plan.sources();
    for (const auto& source : sources) {
      std::vector<std::string> others;
      if (plan.joins())
        for (const auto& o : sources)
          if (o != source) others.push_back(o);
      save_delta_capture(stage.id, source, plan.capture_source(queue, source, false, true),
                         plan.capture_source(queue, source, true, true),
                         plan.capture_source(queue, source, true, false), json_string_array(others),
                         plan.joins() && source != sources.front(), format_direct(direct_parts(plan)));
    }
    save_engine(stage.id, engine);
  });
  as_owner_of(stage, [&] {
    std::vector<std::string> adds;
    for (const auto& h : plan.hidden_columns())
      adds.push_back("ADD COLUMN IF NOT EXISTS " + quote_ident(h.first) + " " + h.second);
    spi_exec("ALTER TABLE " + stage.shape.target + " " + join(adds, ", "));
  });
  invalidate_stage_capture(stage.id);
  // The hidden columns are filled by a rebuild from the query the engine builds the table from.
  (void)rebuild_and_log(load_stage(stage.name));
}

void disable_delta(const StageRecord& stage) {
  if (!delta_active(stage)) return;
  as_owner_of(stage, [&] {
    settle_delta_queue(stage, true);
    std::vector<std::string> drops;
    for (size_t i = stage.shape.columns.size() - stage.delta_hidden; i < stage.shape.columns.size(); ++i)
      drops.push_back("DROP COLUMN " + quote_ident(stage.shape.columns[i]));
    if (!drops.empty()) spi_exec("ALTER TABLE " + stage.shape.target + " " + join(drops, ", "));
  });
  drop_delta_queue(stage);
  invalidate_stage_capture(stage.id);
}

void drop_delta_queue(const StageRecord& stage) {
  if (!delta_active(stage)) return;
  as_extension_owner([&] {
    forget_delta_stage(stage.id);
    drop_queue_table(stage.delta_queue);
  });
}

void drop_all_delta_queues() {
  as_extension_owner([&] {
    const std::vector<std::string> queues = all_delta_queues();
    for (const auto& q : queues)
      if (!q.empty()) drop_queue_table(q);
  });
}

namespace {

// Stages whose last fold in this backend made a group appear or vanish: their next fold is
// the full one. When groups come and go often (new keys keep arriving), the fast fold would
// put them back and the full fold run after it, costing both; one full fold that neither
// inserts nor deletes a group brings the fast fold back.
std::unordered_map<int32, bool> groups_came_or_went;

RefreshStats run_fold(const std::string& sql) {
  RefreshStats stats;
  spi_exec_kept(sql);
  stats.deleted = spi_int8(0, 1);
  stats.inserted = spi_int8(0, 2);
  stats.updated = spi_int8(0, 3);
  stats.scopes = spi_int8(0, 4);
  return stats;
}

// DeltaPlan::fold_one's parameters are the queue's columns in order ($1 AS "tag", ...):
// checked against the table's columns, so a queue that differs takes the fold statement.
bool parameters_match(const std::string& sql, const std::vector<std::string>& names) {
  for (size_t i = 0; i < names.size(); ++i)
    if (sql.find("$" + std::to_string(i + 1) + " AS " + quote_ident(names[i]) + ",") == std::string::npos &&
        sql.find("$" + std::to_string(i + 1) + " AS " + quote_ident(names[i]) + ")") == std::string::npos)
      return false;
  return sql.find("$" + std::to_string(names.size() + 1) + " ") == std::string::npos;
}

// As the stage owner, under its settings: the rows its UPDATE wrote when the one queued row
// was applied and consumed (one per group; more only if the table holds a group twice, which
// the fast fold's UPDATE would write as well); 0 when nothing was applied or consumed.
uint64 fold_one_row(const StageRecord& stage, const QueueScan* scanned) {
  if (stage.delta_fold_one.empty()) return 0;
  const QueueScan own = scanned ? QueueScan{} : scan_delta_queue(stage.delta_queue);
  const std::optional<QueuedDelta>& one = scanned ? scanned->one : own.one;
  if (!one || !parameters_match(stage.delta_fold_one, one->names)) return 0;
  // Anything written means applied: the row is consumed, never left for a second fold.
  const uint64 written = spi_exec_kept(stage.delta_fold_one, one->values);
  if (written > 0) consume_queued_delta(*one);
  return written;
}

}  // namespace

RefreshStats fold_deltas(const StageRecord& stage, const QueueScan* scanned) {
  RefreshStats stats;
  with_session_settings(stage.search_path, [&] {
    // The folds are fixed per stage and have no parameters: their plans are kept
    // (spi_exec_kept). Parsing and planning them again on every refresh was most of a
    // one-row fold's cost.
    bool& came_or_went = groups_came_or_went[stage.id];
    const auto full = [&] {
      RefreshStats f = run_fold(stage.delta_fold);
      came_or_went = f.inserted > 0 || f.deleted > 0;
      return f;
    };
    if (stage.delta_fold_fast.empty() || came_or_went) {
      stats = full();
      return;
    }
    // One queued row (a one-row change): its group's UPDATE with the row as parameters, and
    // the row consumed in this transaction only if that UPDATE wrote the group; otherwise
    // (a group that is new, vanishes or would not change) it stays for the folds below.
    if (const uint64 written = fold_one_row(stage, scanned)) {
      stats.updated = stats.scopes = static_cast<int64>(written);
      return;
    }
    // The usual case first: the groups that exist and stay are updated, and the deltas of
    // the others are back in the queue, in the same statement (nothing consumed is lost,
    // nothing is applied twice); the full fold then consumes them (and whatever writers
    // committed in between), in the same transaction. A group folded by both (a writer's
    // delta committed in between) counts twice in stats.scopes.
    spi_exec_kept(stage.delta_fold_fast);
    const int64 updated = spi_int8(0, 1), put_back = spi_int8(0, 2);
    if (put_back > 0) stats = full();
    stats.updated += updated;
    stats.scopes += updated;
  });
  stats.engine = "delta";
  return stats;
}

void settle_delta_queue(const StageRecord& stage, bool fold) {
  if (!delta_active(stage)) return;
  // SHARE conflicts with the writers' ROW EXCLUSIVE: once granted, every delta in the queue
  // is committed, and the source changes of those that are not queued yet are not visible
  // either (their writers wait for this transaction). Until commit, what this transaction
  // re-derives and what the queue holds cannot overlap.
  spi_exec("LOCK TABLE " + stage.delta_queue + " IN SHARE MODE");
  if (fold)
    (void)fold_deltas(stage);
  else
    spi_exec("DELETE FROM " + stage.delta_queue);
}

namespace {

// The fold that also re-derives folded groups (DeltaPlan::rederive); nullopt when the stage
// is not a delta stage or has no float sum/avg (nothing drifts). Read as the extension
// owner: it embeds the stage's definition.
std::optional<std::string> rederive_statement(const StageRecord& stage) {
  if (!delta_active(stage)) return std::nullopt;
  return rederive_sql(stage.id);
}

}  // namespace

bool rederives(const StageRecord& stage) { return rederive_statement(stage).has_value(); }

int64 rederive_batch(const StageRecord& stage, int64 limit) {
  const auto sql = rederive_statement(stage);
  if (!sql) return 0;
  lock_stage(stage.id);  // one fold of the stage at a time, as a refresh
  RefreshStats stats;
  stats.engine = "delta";
  int64 groups = 0;
  const double t0 = monotonic_seconds();
  as_owner_of(stage, [&] {
    with_session_settings(stage.search_path, [&] {
      spi_exec(*sql, {int8_arg(limit)});
      stats.deleted = spi_int8(0, 1);
      stats.inserted = spi_int8(0, 2);
      stats.updated = spi_int8(0, 3);
      stats.scopes = spi_int8(0, 4);
      groups = spi_int8(0, 5);
    });
  });
  // In incview.refresh_log like any fold: it consumed the queue and rewrote groups.
  if (stats.scopes > 0) log_refresh(stage, stats, monotonic_seconds() - t0, std::nullopt);
  return groups;
}

int64 folded_groups(const StageRecord& stage) {
  if (!rederives(stage)) return 0;
  int64 n = 0;
  as_owner_of(stage, [&] {
    n = std::stoll(
        spi_scalar("SELECT pg_catalog.count(*) FROM " + stage.shape.target + " AS t WHERE t.\"__incview_folded\"")
            .value_or("0"));
  });
  return n;
}

void mark_rederived(const StageRecord& stage) { save_rederive_time(stage.id); }

int64 rederive_folded(const StageRecord& stage) {
  if (!rederives(stage)) return 0;
  // Bounded by the groups folded when it starts: writers keep queueing deltas, and each
  // batch folds them (marking their groups again), so "until none is left" might not end.
  const int64 limit = std::max(settings.batch_size, 1);
  int64 todo = folded_groups(stage), total = 0;
  while (todo > 0) {
    const int64 n = rederive_batch(stage, limit);
    total += n;
    todo -= limit;
    if (n < limit) break;
  }
  mark_rederived(stage);
  return total;
}

bool auto_prefers_delta(const StageRecord& stage) {
  if (stage.partition.partitioned() || !stage.shape.retention_column.empty() || is_citus_table(stage.target))
    return false;
  DeltaQueryDescription description;
  as_owner_of(stage, [&] { description = describe_for_delta(stage.shape.query); });
  try {  // whether it qualifies is an answer here, not an error (pure C++: nothing to undo)
    // A delta stage qualified when the engine turned on; its recorded query is now the
    // engine's table query (hidden aggregates), which qualify refuses: set_engine(…, 'auto')
    // used to turn a delta stage off that way, and on again at the next call.
    if (!delta_active(stage)) (void)DeltaPlan::qualify(description);
  } catch (const Error&) {
    return false;
  }
  // Source rows: all sources' together (a UNION ALL's branches, a join's sides).
  double rows = 0, scopes = 0;
  as_extension_owner([&] {
    const auto r = spi_scalar(
        "SELECT GREATEST(pg_catalog.sum(c.reltuples), 0)::pg_catalog.text FROM pg_catalog.pg_class c "
        "WHERE c.oid OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT pg_catalog.jsonb_array_elements_text("
        "$1::pg_catalog.jsonb)::pg_catalog.regclass))",
        {text_arg(json_string_array(description.sources))});
    const auto s = stored_scope_count(stage.id);
    rows = r ? std::stod(*r) : 0;
    scopes = s ? std::stod(*s) : 0;
  });
  if (scopes <= 0) return false;
  // The writers' cost (issue 18): each delta stage captures on its own, so auto stops at a
  // bounded number of them per source, and says so.
  const DeltaLoad load = busiest_delta_source(json_string_array(description.sources), stage.id);
  switch (auto_delta_choice(rows / scopes, load.stages, delta_shape(description))) {
    case AutoDelta::Delta: return true;
    case AutoDelta::SourceBusy:
      report(NOTICE, auto_delta_declined(stage.name, load.source, load.stages), auto_delta_declined_hint(stage.name));
      return false;
    case AutoDelta::SmallScopes: break;
  }
  return false;
}

void warn_delta_write_cost(const StageRecord& stage) {
  const DeltaLoad load = busiest_delta_source_of(stage.id);
  if (delta_write_cost_grows(load.stages))
    report(WARNING, forced_delta_warning(stage.name, load.source, load.stages), forced_delta_hint(stage.name));
}

}  // namespace incview::pg
