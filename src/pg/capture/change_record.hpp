// Change records (issue 18): one row of incview.source_change per source, statement and key
// group, whatever the number of stages in the group. A key group is the stages of a source
// that derive the same keys from a changed row: the same scope columns of built-in types
// (their keys are built here, in C, as jsonb_build_array builds them), or "any change
// dirties every scope". Written by a direct heap insert: no SPI, no executor start-up on the
// write path. The record commits with the change (WAL-logged like any heap insert) and dies
// with it on rollback; each stage collects it later (pg/catalog/captured_changes.hpp).
#pragma once
#include "core/capture_sql.hpp"
#include "pg/support/pg_headers.hpp"

namespace incview::pg {

struct KeyGroup {
  std::vector<int32> stage_ids;
  // Empty: any change dirties every scope (mapping NULL). Else the source's columns whose
  // values, in the stages' scope order, are the key.
  std::vector<AttrNumber> columns;
  std::vector<Oid> types;  // the columns' declared types (domains kept: jsonb looks through them)
  // Their base types when every one is int2, int4 or int8 (integer_bases), else empty: such
  // keys are built without jsonb_build_array's lookups (change_record.cpp, integer_key).
  std::vector<Oid> integer_bases;
  // The largest scope count of the group's stages, and whether one of them is too small (or
  // unknown) to ever collapse into a marker: the statement's marker threshold follows from
  // these and incview.capture_all_ratio, read per statement (the largest of the stages'
  // thresholds: a smaller stage rebuilds rather than batches anyway).
  int64 max_scopes = 0;
  bool never_marker = false;
};

// Whether keys of a column of this type can be built here, with no user code and no
// session setting changing them (floats follow extra_float_digits, timestamps TimeZone:
// those stay with the per-stage statements, which pin them).
bool builtin_key_type(Oid type);

// The base types of `types` when all are int2, int4 or int8 (through domains); else empty.
std::vector<Oid> integer_bases(const std::vector<Oid>& types);

// Derives the group's distinct keys from the statement's transition tables and writes one
// record (nothing when the statement changed no row; a marker above the threshold, for
// TRUNCATE and for "every scope" groups).
// `threshold`: more distinct keys than this make one "every scope" record instead.
void capture_group(Oid table, const KeyGroup& group, const TriggerData* td, CaptureEvent event, int64 rows,
                   int64 threshold);

}  // namespace incview::pg
