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

// How many rows the statement changed, as far as the capture statement needs to know.
// Executor start-up is most of the cost of a single-row capture, so the common small
// cases get statements with fewer plan nodes.
enum class CaptureSize {
  One,   // one row per transition table: no deduplication needed (an UPDATE's old and new
         // keys are still deduplicated)
  Few,   // no more rows than the marker threshold: deduplicate, never a marker
  Many,  // may exceed the threshold: count the distinct keys, queue a marker above it
};

// Same: one statement that derives the keys from the transition tables and queues them,
// or (Many) queues one "every scope" marker when there are more than $2 distinct keys.
// All: queues the marker when the statement changed any row. Parameters: $1 stage id,
// $2 key threshold (bigint; present in every variant). Truncate always queues the marker.
std::string capture_statement(const CaptureSpec& spec, CaptureEvent event, CaptureSize size = CaptureSize::Many);

// Two-phase capture, for when deriving the keys runs the stage owner's code: a lookup
// mapping, or scope columns of a type whose equality, hashing or jsonb conversion is not
// built in (an enum with a cast to json, a type with its own operator class). Phase 1 runs
// as the stage owner (restricted) and returns one row: the distinct keys as jsonb[] and
// how many raw keys it read. Phase 2 queues them as the extension owner, touching only
// jsonb. Never the other way round: the extension owner never runs a user's code.
//
// Lookup, phase 1: the mapping applied to each changed row. $1 (bigint) caps the raw keys
// read: a mapping that fans one row out to millions of keys stops at the cap and the
// caller queues one "every scope" marker instead of collecting them all.
std::string lookup_keys_statement(const CaptureSpec& spec, CaptureEvent event);
// Same with owner-typed scope columns, phase 1: the keys of the changed rows ($1 unused,
// present so both phase-1 statements take the same parameters).
std::string owner_keys_statement(const CaptureSpec& spec, CaptureEvent event);
// Phase 1 over every row of a table instead of a statement's transition tables: the keys of
// a partition whose rows join or leave a source without DML (ATTACH, DETACH, DROP). Same or
// Lookup mapping; `table` is SQL text (a quoted, qualified name). Returns one row: the
// distinct keys as jsonb[] and how many it read, at most $1 (bigint): a caller that gets $1
// back queues one "every scope" marker instead.
std::string table_keys_statement(const CaptureSpec& spec, const std::string& table);
// Phase 2 (as the extension owner): $1 stage id, $2 threshold, $3 jsonb[] keys.
std::string queue_keys_statement();

// After DDL on a source (stage_ddl.cpp): a statement that, prepared (never run) as the
// stage owner, fails when the lookup mapping no longer fits the source `source` (a quoted,
// qualified table name): a column or table it names was renamed or dropped, or it returns
// another number of columns than the scope has.
std::string lookup_check_statement(const CaptureSpec& spec, const std::string& source);

// The lookup mapping equivalent to a Same capture after the source's column `from` was
// renamed to `to`: each scope column read from the source under its current name.
std::string renamed_same_mapping(const std::vector<std::string>& scope, const std::string& from, const std::string& to);

}  // namespace incview
