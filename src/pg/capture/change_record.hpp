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

// The relation incview.source_change, or InvalidOid under catalog 0.1 (no records there).
Oid change_record_table();

// Derives the group's distinct keys from the statement's transition tables and writes one
// record (nothing when the statement changed no row; a marker above the threshold, for
// TRUNCATE and for "every scope" groups).
// `threshold`: more distinct keys than this make one "every scope" record instead.
void capture_group(Oid table, const KeyGroup& group, const TriggerData* td, CaptureEvent event, int64 rows,
                   int64 threshold);

// One "every scope" record for these stages.
void write_marker_record(Oid table, const std::vector<int32>& stage_ids);

}  // namespace incview::pg
