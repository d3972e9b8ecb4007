// Writes into incview.dirty_scope from outside the writer's capture: DDL that changes a
// source's rows without DML (partition DROP/ATTACH/DETACH, stage partition DDL) and the
// Citus key queues drained on the coordinator. (Capture's own inserts are in
// capture/capture.cpp, the refresh side of the queue in dirty_queue.hpp.) Every function
// runs as the extension owner under the safe search path (docs/design.md, "The catalog
// layer").
#pragma once
#include <string>
#include <vector>

#include "pg/support/pg_headers.hpp"

namespace incview::pg {

// An "every scope" marker (key NULL) for the stage.
void queue_every_scope(int32 stage_id);

// An "every scope" marker for each stage reading any of `rels` or one of their partition
// ancestors. Nothing for an empty list.
void queue_every_scope_for_readers_of(const std::vector<Oid>& rels);

// An "every scope" marker for each stage reading `table` itself.
void queue_every_scope_for_readers_of(Oid table);

// An "every scope" marker for each stage reading `table` itself, after a rebuild swapped
// the table's storage (refresher.cpp: a swapped-in table fires no capture trigger).
void queue_every_scope_for_readers_of_swapped(Oid table);

// An "every scope" marker for each stage reading `source` that has none queued yet
// (Citus: one per statement on a distributed table, however many shards fire).
void queue_every_scope_once_for_readers_of(Oid source);

// Queues `keys` (a jsonb[] as text: the first column of core/capture_sql's
// table_keys_statement) for the stage, with `cap` as queue_keys_statement's threshold.
void queue_keys(int32 stage_id, int64 cap, const std::string& keys);

// Queues `keys` (a jsonb array of keys) for every stage reading `source`; the number of
// rows queued.
int64 queue_keys_for_readers_of(Oid source, const std::string& keys);

}  // namespace incview::pg
