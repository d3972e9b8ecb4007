// Engine replace writing only the rows that changed (core/replace_changes_sql.hpp): when it
// applies to a stage, and the column types its `*=` comparison casts both sides to.
#pragma once
#include "pg/catalog/catalog.hpp"

#include <string>
#include <vector>

namespace incview::pg {

// A unique_key, and a table that is not a Citus table (Citus runs the plain DELETE + INSERT
// on its shards; a statement with data-modifying CTEs is not one it distributes).
bool replace_writes_changes(const StageRecord& stage);

// For each of stage.shape.columns, the type `*=` compares it as: the table column's type, the
// base type of a domain, without type modifier (a cast to it never truncates or rounds),
// schema-qualified (the text resolves the same under any search path). Read from the
// relcache (the table's descriptor as this transaction sees it).
std::vector<std::string> compare_types(const StageRecord& stage);

}  // namespace incview::pg
