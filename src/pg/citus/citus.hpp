// Stages over Citus tables (docs/citus.md). Citus plans a query over distributed or
// reference tables as one custom scan, so the plan lists none of them: they are found in
// the query tree instead (stage_inputs), checked against the rules here, captured on their
// shards (capture_citus.cpp) and drained into incview.dirty_scope on the coordinator.
//
// The rules, each refused with its reason otherwise:
//  - the scope is one column, and it is the distribution column of every distributed
//    source, all of them co-located: a scope's rows then live on one shard, the key queue
//    is co-located too, and the scoped refresh is pushed down shard by shard;
//  - distributed sources are hash-distributed with a built-in distribution column type;
//    reference tables may join in (their changes dirty every scope);
//  - no plain local table beside Citus tables, no Citus table read inside a function,
//    no partition_by (the stage table is itself distributed or a reference table).
#pragma once
#include "pg/catalog/catalog.hpp"
#include "pg/support/guard.hpp"

namespace incview::pg {

struct CitusTable {
  Oid rel = InvalidOid;
  std::string name;         // as regclass text
  bool reference = false;   // else hash-distributed
  std::string method;       // pg_dist_partition.partmethod / repmodel, for refusals
  std::string dist_column;  // hash-distributed: its distribution column
  Oid dist_type = InvalidOid;
  int64 colocation = 0;
};

// What create_stage does differently for a stage over Citus tables.
struct CitusStage {
  std::vector<CitusTable> tables;
  bool used() const { return !tables.empty(); }
  // The stage table: distributed by the scope co-located with this table, or (no
  // distributed source) a reference table.
  std::optional<std::string> colocate_with;
};

// Whether Citus' metadata is present in this database.
bool citus_present();

// Whether the citus extension is installed here: a catalog lookup without a statement, cheap
// enough for every refresh call (citus_present and is_citus_table run one).
bool citus_installed();

// Whether this relation is a Citus table (distributed, reference or Citus local).
bool is_citus_table(Oid rel);

// Checks the rules above for a stage query reading `query_tables` (every table of the query
// tree), of which `citus` are Citus tables, and `function_tables` inside functions. Throws
// the refusal; returns what create_stage must do.
CitusStage plan_citus_stage(const std::vector<Oid>& query_tables, const std::vector<Oid>& citus,
                            const std::vector<Oid>& function_tables, const std::vector<std::string>& scope,
                            bool partitioned);

// SET LOCAL citus.multi_shard_modify_mode = sequential: create_stage creates distributed
// tables (stage table, key queues), propagates triggers and fills the table in one
// transaction, which Citus only allows over one connection per node.
void citus_sequential_for_transaction();

// Turns the freshly created (empty) stage table into a distributed table co-located with
// the sources, or a reference table. Runs as the caller (the stage's owner).
void distribute_stage_table(const CitusStage& stage, const std::string& target, const std::string& scope_column);

// Installs pg_incview's capture on a Citus source: its key queue (distributed sources) and
// the four capture triggers, created on the coordinator's table with
// citus.enable_unsafe_triggers so that Citus propagates them to every shard.
void install_citus_capture(Oid source);

// Runs body with citus.enable_unsafe_triggers on: CREATE/DROP TRIGGER on a distributed
// table is propagated to its shards only then. Restored on normal exit; on error the
// (sub)transaction abort unwinds the GUC nest level.
template <typename F>
void with_citus_triggers(F&& body) {
  int level = -1;
  pg_call([&] {
    level = NewGUCNestLevel();
    (void)set_config_option("citus.enable_unsafe_triggers", "on", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0,
                            false);
  });
  body();
  pg_call([&] { AtEOXact_GUC(true, level); });
}

// Drops the key queues of Citus sources no stage reads any more.
void forget_unused_citus_sources();

// Moves every key queued on the shards into incview.dirty_scope, for every stage reading
// the source. Returns the keys moved. No-op (0) without Citus sources.
int64 drain_citus_queues();

}  // namespace incview::pg
