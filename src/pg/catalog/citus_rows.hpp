// incview.citus_source: the Citus tables pg_incview captures and, for distributed ones,
// the co-located key queue their shards write into (citus/citus.hpp). As the extension
// owner under the safe search path (docs/design.md, "The catalog layer"); catalog 0.2 only.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "pg/support/pg_headers.hpp"

namespace incview::pg {

// Reads: whether `source` is registered.
bool citus_source_registered(Oid source);

// Writes: registers a distributed table with its key queue (a quoted, qualified name) and
// distribution column.
void save_distributed_citus_source(Oid source, const std::string& queue, const std::string& key_column);

// Writes: registers a reference table (nothing when it is registered already).
void save_reference_citus_source(Oid source);

// Writes: deletes the rows of tables no stage reads any more; returns their key queues
// (as regclass prints them) for the caller to drop.
std::vector<std::string> forget_unread_citus_sources();

// Reads: (source, key queue as regclass prints it) of every distributed table, by source.
std::vector<std::pair<Oid, std::string>> citus_key_queues();

}  // namespace incview::pg
