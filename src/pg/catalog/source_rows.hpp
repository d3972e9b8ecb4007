// incview.stage_source: which tables each stage reads and how a change to each maps to the
// stage's scope keys. The rows the DDL triggers, capture set-up, map_source and explain
// read and write (the refresh path's reads are in stage_sources.hpp and dirty_queue.hpp).
// Every function runs as the extension owner under the safe search path unless it says
// otherwise (docs/design.md, "The catalog layer").
#pragma once
#include <optional>
#include <vector>

#include "pg/catalog/catalog.hpp"

namespace incview::pg {

// Reads: whether any stage reads any table (the DDL triggers' cheap way out).
bool any_source();

// Reads: the tables a stage reads now (its rows), for lock_new_source and
// invalidate_stage_capture.
std::vector<Oid> sources_of(int32 stage_id);

// Writes: registers `source` as declared by incview.map_source, with its mapping (kind
// same | lookup | all; mapping NULL unless lookup), replacing an earlier mapping.
void save_declared_source(int32 stage_id, Oid source, const std::string& kind,
                          const std::optional<std::string>& mapping);

// A partition the current DDL command created or attached under a registered source, not
// yet a source of that stage, with the mapping of its nearest registered ancestor.
struct NewPartitionSource {
  int32 stage_id;
  Oid rel;
  std::string kind;
  std::optional<std::string> mapping;
};

// Reads (pg_event_trigger_ddl_commands() of the running ddl_command_end trigger).
std::vector<NewPartitionSource> new_partition_sources();

// Writes: registers a new partition as a source (nothing when it is one already).
void save_partition_source(const NewPartitionSource& s);

// Writes: deletes the rows of relations the running sql_drop trigger dropped
// (pg_event_trigger_dropped_objects()).
void forget_dropped_sources();

// Reads: the stages reading `rel` through a 'same' mapping whose scope includes `column`,
// with each stage's scope columns in order.
struct SameSource {
  int32 stage_id;
  std::vector<std::string> scope;
};
std::vector<SameSource> same_sources_with_scope_column(Oid rel, const std::string& column);

// Writes: the source is now read through this lookup mapping.
void save_lookup_mapping(int32 stage_id, Oid source, const std::string& mapping);

// Writes: every change to the source now dirties every scope (mapping 'all').
void save_every_scope_mapping(int32 stage_id, Oid source);

// A 'same' or 'lookup' capture on a plain or partitioned table, as check_captures in
// ddl/stage_ddl.cpp rechecks them after DDL.
struct MappedCapture {
  int32 stage_id;
  std::string stage;
  Oid owner;
  std::string search_path;
  Oid source;
  std::string source_name;
  std::string kind;
  std::string mapping;
  std::string missing;  // 'same': the scope columns the source lacks, comma-separated
};

// Reads: every such capture, by stage and source.
std::vector<MappedCapture> mapped_captures();

// A stage reading a partition's ancestor (the nearest registered one's mapping).
struct PartitionReader {
  int32 stage_id;
  std::string stage;
  std::string kind;  // same | lookup | all
  std::string mapping;
  int64 scopes;  // incview.stage_state.scope_count (0 when unknown)
};

// Reads (also incview.stage and incview.stage_state): the stages reading `anchor` or one
// of its partition ancestors.
std::vector<PartitionReader> partition_readers(Oid anchor);

// Reads (as partition_readers): the stages reading `table` itself (a plain table: a stage's
// table rebuilt by a storage swap).
std::vector<PartitionReader> readers_of(Oid table);

// Reads: plain-table sources without the replica row trigger incview_capture_row.
std::vector<Oid> sources_without_replica_trigger();

// Reads (with pg_trigger, pg_proc): tables carrying one of our capture triggers (our name
// AND our function) that no stage reads; only `table` when given.
std::vector<Oid> tables_with_idle_capture(std::optional<Oid> table);

// A source of a stage as explain prints it.
struct SourceRow {
  std::string name;     // as regclass prints it under the stage's search path
  std::string relname;  // as EXPLAIN prints it
  std::string kind;     // same | lookup | all
  std::string mapping;
};

// Reads: the stage's sources ordered by name. As the extension owner (row security), but
// under the stage's search path so the names print as its owner writes them; not a kept
// plan (the search path varies by stage).
std::vector<SourceRow> source_rows_as_printed(const StageRecord& stage);

// Reads: the stage's declared sources (map_source's declared = true), as regclass prints
// them, sorted: check()'s risk list.
std::vector<std::string> declared_sources(int32 stage_id);

// Reads: the stage's declared sources (alter_stage installs their capture again).
std::vector<Oid> declared_source_oids(int32 stage_id);

// Reads: the stage's sources that are tables (plain or partitioned: those that carry
// capture triggers), for trigger_sources (capture.hpp).
std::vector<Oid> table_sources_of(int32 stage_id);

// Reads: the stage's sources whose capture triggers are disabled or missing, as regclass
// prints them, comma-separated (incview.capture_off over stage_source and pg_trigger);
// nullopt when every
// source is captured, or on a 0.1 catalog (which cannot tell). check()'s "capture off"
// risk and the WARNING of verify/rebuild.
std::optional<std::string> source_with_capture_off(int32 stage_id);

}  // namespace incview::pg
