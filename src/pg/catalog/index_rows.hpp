// incview.stage_index: the indexes declared on a stage's table (incview.add_index), what
// storage/stage_indexes.cpp and explain read and write (docs/design.md, "The catalog
// layer"). As the extension owner under the safe search path unless a function says
// otherwise.
#pragma once
#include <array>
#include <optional>
#include <vector>

#include "pg/catalog/catalog.hpp"

namespace incview::pg {

// Reads: whether the stage has a declared index of this name.
bool declared_index_exists(int32 stage_id, const std::string& index_name);

// Writes: records a declared index (its name and definition as given).
void save_declared_index(int32 stage_id, const std::string& index_name, const std::string& definition);

// Reads: the name of the stage's declared index with this name or declared with this
// definition.
std::optional<std::string> find_declared_index(int32 stage_id, const std::string& name_or_definition);

// Writes: forgets a declared index.
void forget_declared_index(int32 stage_id, const std::string& index_name);

// Reads (with pg_index, pg_class, pg_partition_tree): every index on the stage's table as
// (name, what it is: its declared definition, 'unique key' or 'scope', the space-separated
// names of it and its partitions' indexes), by name. Runs as the current role: explain
// calls it as the stage's owner, who sees its own stage_index rows.
std::vector<std::array<std::string, 3>> stage_table_indexes(const StageRecord& stage);

// Writes: the declared index's new name (alter_stage renamed it after the rebuilt table).
void rename_declared_index(int32 stage_id, const std::string& index_name, const std::string& renamed);

// Reads and writes: the definitions of the stage's declared indexes, by name, forgetting
// them (alter_stage re-created the table without them and declares them again).
std::vector<std::string> take_declared_index_definitions(int32 stage_id);

}  // namespace incview::pg
