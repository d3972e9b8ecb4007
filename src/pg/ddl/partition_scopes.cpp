#include "pg/ddl/partition_scopes.hpp"

#include "core/capture_sql.hpp"
#include "core/sql_text.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/catalog/queue_markers.hpp"
#include "pg/catalog/source_rows.hpp"
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

// The keys of `table`'s rows for one stage; false when only a marker will do.
bool queue_partition_keys(const PartitionReader& r, Oid table) {
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
  queue_keys(r.stage_id, cap, *keys);
  return true;
}

}  // namespace

void dirty_scopes_of_partition(Oid table, Oid anchor) {
  for (const auto& r : partition_readers(anchor)) {
    bool keyed = false;
    // Any failure (no privilege on the partition, a mapping that errors) costs only precision.
    auto error = in_subtransaction([&] { keyed = queue_partition_keys(r, table); });
    if (error || !keyed) queue_every_scope(r.stage_id);
  }
}

}  // namespace incview::pg
