// Change records (issue 18): capture's append to incview.source_change, one row per source,
// statement and key group (capture/change_record.hpp decides what a record holds). Written by
// a direct heap insert: no SPI, no executor start-up on the write path. The record commits
// with the change (WAL-logged like any heap insert) and dies with it on rollback; each stage
// collects it later (catalog/captured_changes.hpp). docs/design.md, "The catalog layer".
#pragma once
#include <vector>

#include "pg/support/pg_headers.hpp"

namespace incview::pg {

// The relation incview.source_change, or InvalidOid under catalog 0.1 (no records there).
Oid change_record_table();

// Appends one record of the current statement for `stage_ids`: `keys` (jsonb values, one per
// distinct key), or null for "every scope". Refuses (ERROR) a table that is not the one our
// script made: an index, a trigger or a column added by hand would silently miss rows that
// bypass the executor. That check is made once per relcache entry of the table, not per
// record (a change to the table's indexes, triggers or columns invalidates the entry).
void append_change_record(Oid table, const std::vector<int32>& stage_ids, const std::vector<Datum>* keys);

}  // namespace incview::pg
