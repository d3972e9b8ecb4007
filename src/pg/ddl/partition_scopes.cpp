#include "pg/ddl/partition_scopes.hpp"

#include "core/capture_sql.hpp"
#include "core/sql_text.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/support/guard.hpp"
#include "pg/support/role.hpp"
#include "pg/support/settings.hpp"
#include "pg/support/spi.hpp"
#include "pg/support/subxact.hpp"

extern "C" {
#include "utils/rls.h"
}

namespace incview::pg {

namespace {

// Read at most this many distinct keys when the stage is too small for a threshold (under
// 100 scopes at its last build): a bound on the memory one DDL statement can cost.
constexpr int64 kSmallStageKeyCap = 100000;

struct Reader {
  int32 stage_id;
  std::string stage;
  std::string kind;  // same | lookup | all
  std::string mapping;
  int64 scopes;
};

void queue_marker(int32 stage_id) {
  as_extension_owner(
      [&] { spi_exec("INSERT INTO incview.dirty_scope (stage_id, key) VALUES ($1, NULL)", {int4_arg(stage_id)}); });
}

// The keys of `table`'s rows for one stage; false when only a marker will do.
bool queue_partition_keys(const Reader& r, Oid table) {
  if (r.kind != "same" && r.kind != "lookup") return false;
  const std::optional<StageRecord> stage = find_stage(r.stage);
  if (!stage) return false;
  int rls = RLS_NONE;
  pg_call([&] { rls = check_enable_rls(table, stage->owner, true); });
  if (rls == RLS_ENABLED) return false;  // the owner would not see every row that moves
  const int64 cap = r.scopes < 100 ? kSmallStageKeyCap
                                   : static_cast<int64>(settings.capture_all_ratio * static_cast<double>(r.scopes));
  CaptureSpec spec;
  spec.kind = mapping_kind_from(r.kind);
  spec.mapping = r.mapping;
  for (const auto& c : stage->shape.scope) spec.scope.push_back(c.name);
  std::string name;
  as_extension_owner(
      [&] { name = spi_scalar("SELECT $1::pg_catalog.regclass::pg_catalog.text", {oid_arg(table)}).value_or(""); });
  if (name.empty()) return false;
  std::optional<std::string> keys;
  int64 read = 0;
  // As the owner, restricted (its lookup mapping and its types' code run here).
  as_stage_owner(stage->owner, stage->search_path, [&] {
    spi_exec("SELECT k.keys::pg_catalog.text, k.n FROM (" + table_keys_statement(spec, name) + ") AS k(keys, n)",
             {int8_arg(cap + 1)}, true);
    keys = spi_text(0, 1);
    read = spi_int8(0, 2);
  });
  if (read > cap) return false;
  if (!keys) return true;  // an empty partition: nothing moves
  as_extension_owner([&] { spi_exec(queue_keys_statement(), {int4_arg(r.stage_id), int8_arg(cap), text_arg(*keys)}); });
  return true;
}

}  // namespace

void dirty_scopes_of_partition(Oid table, Oid anchor) {
  std::vector<Reader> readers;
  as_extension_owner([&] {
    const uint64 n = spi_exec(
        "SELECT DISTINCT ON (ss.stage_id) ss.stage_id, s.name, ss.mapping_kind, coalesce(ss.mapping, ''), "
        "       coalesce(st.scope_count, 0) "
        "FROM pg_catalog.pg_partition_ancestors($1) WITH ORDINALITY AS a(anc, lvl) "
        "JOIN incview.stage_source ss ON ss.source = a.anc JOIN incview.stage s ON s.id = ss.stage_id "
        "LEFT JOIN incview.stage_state st ON st.stage_id = s.id "
        "ORDER BY ss.stage_id, a.lvl",
        {oid_arg(anchor)}, true);
    for (uint64 i = 0; i < n; ++i)
      readers.push_back({static_cast<int32>(spi_int8(i, 1)), spi_text_or(i, 2, ""), spi_text_or(i, 3, "all"),
                         spi_text_or(i, 4, ""), spi_int8(i, 5)});
  });
  for (const auto& r : readers) {
    bool keyed = false;
    // Any failure (no privilege on the partition, a mapping that errors) costs only precision.
    auto error = in_subtransaction([&] { keyed = queue_partition_keys(r, table); });
    if (error || !keyed) queue_marker(r.stage_id);
  }
}

}  // namespace incview::pg
