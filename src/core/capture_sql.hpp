// Statements the capture trigger runs in the writer's transaction. They only read the
// statement's transition tables (incview_old / incview_new) and append keys to
// incview.dirty_scope; nothing heavy happens on the write path.
#pragma once
#include "core/no_postgres.hpp"

#include <string>
#include <vector>

namespace incview {

enum class CaptureEvent { Insert, Update, Delete, Truncate };
enum class MappingKind { Same, Lookup, All };

MappingKind mapping_kind_from(const std::string& text);  // "same" | "lookup" | "all"

struct CaptureSpec {
  MappingKind kind = MappingKind::All;
  std::vector<std::string> scope;  // scope column names (Same: the source's columns of that name)
  std::string mapping;             // Lookup: SELECT over `changed` returning the scope columns
};

// Same: one statement that derives the keys from the transition tables and queues them,
// or queues one "every scope" marker when there are more than $2 distinct keys.
// All: queues the marker when the statement changed any row. Parameters: $1 stage id,
// $2 key threshold (bigint). Truncate always queues the marker.
std::string capture_statement(const CaptureSpec& spec, CaptureEvent event);

// Lookup, phase 1 (as the stage owner, since it runs the owner's SQL):
// SELECT array_agg(DISTINCT key) over the mapping applied to each changed row.
std::string lookup_keys_statement(const CaptureSpec& spec, CaptureEvent event);
// Lookup, phase 2 (as the extension owner): $1 stage id, $2 threshold, $3 jsonb[] keys.
std::string queue_keys_statement();

}  // namespace incview
