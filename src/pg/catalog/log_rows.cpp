#include "pg/catalog/log_rows.hpp"

#include "pg/catalog/table_shape.hpp"
#include "pg/support/guard.hpp"

extern "C" {
#include "access/genam.h"
#include "access/heapam.h"
#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "commands/sequence.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
}

namespace incview::pg {

namespace {

// incview.refresh_log's columns at catalog 0.2, in order (0.1's script, then the owner the
// 0.1 -> 0.2 script adds).
constexpr int kColumns = 11;
const Oid kColumnTypes[kColumns] = {INT8OID, TEXTOID,        TEXTOID,     INT8OID, INT8OID,   INT8OID,
                                    INT8OID, TIMESTAMPTZOID, INTERVALOID, TEXTOID, REGROLEOID};
constexpr int kIndexes = 2;  // refresh_log_pkey (id), refresh_log_stage (stage, started_at)

// The table whose shape was last found right, and its id sequence, until a relcache message
// for it (or for every relation) arrives.
ShapeMemo shape;
Oid checked_sequence = InvalidOid;

// The two indexes of our script: plain btree columns, no expression, no predicate, nothing
// deferred (what CatalogTupleInsert's index maintenance handles). Inside pg_call.
bool our_indexes(Relation rel) {
  List* indexes = RelationGetIndexList(rel);
  bool ok = list_length(indexes) == kIndexes;
  ListCell* lc;
  foreach (lc, indexes) {
    if (!ok) break;
    Relation index = index_open(lfirst_oid(lc), AccessShareLock);
    ok = plain_btree(index);
    index_close(index, AccessShareLock);
  }
  list_free(indexes);
  return ok;
}

// Inside pg_call.
bool check_shape(Relation rel) {
  return shape.get(rel, [](Relation r) {
    bool ok = plain_table_of(r, kColumnTypes, kColumns) && r->trigdesc == nullptr && our_indexes(r);
    // The id's sequence: the one the bigserial made, owned by the column.
    Oid seq = InvalidOid;
    if (ok) {
      seq = get_relname_relid("refresh_log_id_seq", RelationGetNamespace(r));
      Oid table = InvalidOid;
      int32 column = 0;
      ok = OidIsValid(seq) && sequenceIsOwned(seq, DEPENDENCY_AUTO, &table, &column) && table == RelationGetRelid(r) &&
           column == 1;
    }
    checked_sequence = seq;
    return ok;
  });
}

}  // namespace

bool append_log_row(const LogRow& row) {
  bool written = false;
  const char* stage = row.stage.c_str();
  const char* engine = row.engine.c_str();
  const char* error = row.error ? row.error->c_str() : nullptr;
  pg_call([&] {
    const Oid ns = get_namespace_oid("incview", true);
    const Oid table = OidIsValid(ns) ? get_relname_relid("refresh_log", ns) : InvalidOid;
    if (!OidIsValid(table)) return;
    Relation rel = table_open(table, RowExclusiveLock);
    if (!check_shape(rel)) {
      table_close(rel, RowExclusiveLock);
      return;
    }
    Interval* duration = static_cast<Interval*>(palloc0(sizeof(Interval)));
    duration->time = row.duration_us;
    Datum values[kColumns];
    bool nulls[kColumns] = {false, false, false, !row.scopes.has_value(), false, false,
                            false, false, false, error == nullptr,        false};
    values[0] = Int64GetDatum(nextval_internal(checked_sequence, false));
    values[1] = CStringGetTextDatum(stage);
    values[2] = CStringGetTextDatum(engine);
    values[3] = Int64GetDatum(row.scopes.value_or(0));
    values[4] = Int64GetDatum(row.deleted);
    values[5] = Int64GetDatum(row.inserted);
    values[6] = Int64GetDatum(row.updated);
    // As the statement did: clock_timestamp() - duration.
    values[7] = TimestampTzGetDatum(GetCurrentTimestamp() - row.duration_us);
    values[8] = IntervalPGetDatum(duration);
    values[9] = error ? CStringGetTextDatum(error) : Datum(0);
    values[10] = ObjectIdGetDatum(row.owner);
    HeapTuple tuple = heap_form_tuple(RelationGetDescr(rel), values, nulls);
    // Heap insert (TOAST included) and both indexes, as pg_cron writes its job table.
    CatalogTupleInsert(rel, tuple);
    heap_freetuple(tuple);
    table_close(rel, NoLock);
    written = true;
  });
  return written;
}

}  // namespace incview::pg
