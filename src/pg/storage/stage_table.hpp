// A stage's target table and its key indexes, made the same way by create_stage and by
// alter_stage (when the new query changes the columns, the table is re-created beside the
// old one). Run as the stage owner, who owns the table.
#pragma once
#include <functional>
#include <string>

#include "core/stage_partitioning.hpp"
#include "core/stage_sql.hpp"
#include "pg/support/pg_headers.hpp"

namespace incview::pg {

// Creates `target` (quoted, schema-qualified, in `schema`) empty, with the output columns of
// `query`: their names, types and collations. A partitioned table is made LIKE a shape table
// (CREATE TABLE AS cannot partition); `check_shape` sees that table's oid first (to check the
// partition column against the query's columns). Returns the new table's oid.
Oid create_stage_table(const std::string& schema, const std::string& target, const std::string& query,
                       const StagePartitioning& partition = {},
                       const std::function<void(Oid shape)>& check_shape = nullptr);

// The indexes every stage has: unique on the unique key (if any), and on the scope columns
// unless that unique index leads with them.
void create_key_indexes(const StageSql& sql, bool has_unique_key);

}  // namespace incview::pg
