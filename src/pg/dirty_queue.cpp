#include "pg/dirty_queue.hpp"

#include "core/sql_text.hpp"
#include "pg/capture.hpp"
#include "pg/guard.hpp"
#include "pg/role.hpp"
#include "pg/spi.hpp"

namespace incview::pg {

namespace {

// (key ->> i)::type for each scope column: the jsonb key back to typed values.
std::string typed_key_columns(const StageRecord& stage, const std::string& alias) {
  std::vector<std::string> cols;
  for (size_t i = 0; i < stage.shape.scope.size(); ++i) {
    const auto& c = stage.shape.scope[i];
    const std::string get = (c.type == "jsonb" || c.type == "json") ? " -> " : " ->> ";
    cols.push_back("(" + alias + ".key" + get + std::to_string(i) + ")::" + c.type + " AS " + quote_ident(c.name));
  }
  return join(cols, ", ");
}

// jsonb_build_array(k1, k2) over the batch arrays: the queue's form of the keys.
std::string json_keys_of_batch(const StageRecord& stage) {
  std::vector<std::string> params, names;
  for (size_t i = 0; i < stage.shape.scope.size(); ++i) {
    params.push_back("$" + std::to_string(i + 2) + "::" + stage.shape.scope[i].type + "[]");
    names.push_back("k" + std::to_string(i + 1));
  }
  return "SELECT jsonb_build_array(" + join(names, ", ") + ") FROM unnest(" + join(params, ", ") + ") AS u(" +
         join(names, ", ") + ")";
}

}  // namespace

DirtySummary dirty_summary(const StageRecord& stage) {
  as_extension_owner([&] {
  spi_exec(
      "SELECT coalesce(bool_or(d.key IS NULL), false), count(DISTINCT d.key), "
      "       (SELECT coalesce(st.scope_count, 0) FROM incview.stage_state st WHERE st.stage_id = $1) "
      "FROM incview.dirty_scope d WHERE d.stage_id = $1",
      {int4_arg(stage.id)}, true);
  });
  DirtySummary s;
  s.every_scope = spi_bool(0, 1);
  s.keys = spi_int8(0, 2);
  s.total_scopes = spi_int8(0, 3);
  return s;
}

DirtyBatch take_dirty_batch(const StageRecord& stage, const std::optional<std::string>& after, int64 limit) {
  const std::string sql =
      "WITH batch AS (SELECT DISTINCT d.key FROM incview.dirty_scope d "
      "               WHERE d.stage_id = $1 AND d.key IS NOT NULL AND ($2::jsonb IS NULL OR d.key > $2::jsonb) "
      "               ORDER BY d.key LIMIT $3), "
      "gone AS (DELETE FROM incview.dirty_scope d USING batch b WHERE d.stage_id = $1 AND d.key = b.key) "
      "SELECT " + typed_key_columns(stage, "b") + ", b.key::text FROM batch b ORDER BY b.key";
  DirtyBatch out;
  uint64 n = 0;
  as_extension_owner([&] {
    n = spi_exec(sql, {int4_arg(stage.id), after ? text_arg(*after) : null_arg(TEXTOID), int8_arg(limit)});
  });
  if (n == 0) return out;
  out.last_key = spi_text(n - 1, static_cast<int>(stage.shape.scope.size()) + 1);
  out.batches = batches_from_result(stage.scope_types, limit);
  return out;
}

void consume_dirty_keys(const StageRecord& stage, const KeyBatch& batch) {
  auto args = batch_args(batch, stage.scope_types);
  args.insert(args.begin(), int4_arg(stage.id));
  as_extension_owner([&] {
    spi_exec("DELETE FROM incview.dirty_scope d WHERE d.stage_id = $1 AND d.key IN (" + json_keys_of_batch(stage) +
                 ")",
             args);
  });
}

void consume_all_dirty(const StageRecord& stage) {
  as_extension_owner([&] { spi_exec("DELETE FROM incview.dirty_scope WHERE stage_id = $1", {int4_arg(stage.id)}); });
}

int64 record_scope_count(const StageRecord& stage) {
  // Exact: auto's batches-or-rebuild choice and capture's marker threshold compare with
  // it, and pg_stats' n_distinct can be off by a factor of two on big tables. (About 1 s
  // per 5 million rows, next to a full build that costs 15 s or more.)
  spi_exec("SELECT count(*) FROM (SELECT DISTINCT " + StageSql(stage.shape).scope_columns() + " FROM " +
           stage.shape.target + ") AS k");
  const int64 count = spi_int8(0, 1);
  as_extension_owner([&] {
    spi_exec("UPDATE incview.stage_state SET scope_count = $2 WHERE stage_id = $1",
             {int4_arg(stage.id), int8_arg(count)});
  });
  // Capture reads the count to decide when a statement dirties "every scope".
  invalidate_stage_capture(stage.id);
  return count;
}

}  // namespace incview::pg
