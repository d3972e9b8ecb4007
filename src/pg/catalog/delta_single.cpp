#include "pg/catalog/delta_single.hpp"

#include "pg/support/guard.hpp"

extern "C" {
#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/regproc.h"
#include "utils/snapmgr.h"
}

namespace incview::pg {

QueueScan scan_delta_queue(const std::string& queue) {
  QueueScan out;
  const char* name = queue.c_str();
  pg_call([&] {
    const Oid q = RangeVarGetRelid(makeRangeVarFromNameList(stringToQualifiedNameList(name)), RowExclusiveLock, true);
    if (!OidIsValid(q)) return;
    Relation rel = table_open(q, NoLock);
    TupleDesc desc = RelationGetDescr(rel);
    bool ok = rel->rd_rel->relkind == RELKIND_RELATION && rel->rd_rel->relam == HEAP_TABLE_AM_OID &&
              rel->trigdesc == nullptr && check_enable_rls(q, InvalidOid, true) != RLS_ENABLED;
    for (int i = 0; ok && i < desc->natts; ++i) ok = !TupleDescAttr(desc, i)->attisdropped;
    if (ok) {
      // As a statement: this transaction's earlier writes visible, the snapshot a statement
      // would take now (READ COMMITTED: a new one).
      CommandCounterIncrement();
      Snapshot snapshot = RegisterSnapshot(GetTransactionSnapshot());
      TableScanDesc scan = table_beginscan(rel, snapshot, 0, nullptr);
      HeapTuple first = heap_getnext(scan, ForwardScanDirection);
      HeapTuple copy = first ? heap_copytuple(first) : nullptr;
      const bool more = first && heap_getnext(scan, ForwardScanDirection) != nullptr;
      table_endscan(scan);
      UnregisterSnapshot(snapshot);
      out.rows = !copy ? QueuedRows::None : more ? QueuedRows::Several : QueuedRows::One;
      // Both privileges (one aclcheck of two bits would accept either): the statements the
      // fold would run otherwise read and delete it as this user.
      if (out.rows == QueuedRows::One && pg_class_aclcheck(q, GetUserId(), ACL_SELECT) == ACLCHECK_OK &&
          pg_class_aclcheck(q, GetUserId(), ACL_DELETE) == ACLCHECK_OK) {
        QueuedDelta d;
        d.queue = q;
        d.tid = copy->t_self;
        Datum* values = static_cast<Datum*>(palloc(sizeof(Datum) * desc->natts));
        bool* nulls = static_cast<bool*>(palloc(sizeof(bool) * desc->natts));
        heap_deform_tuple(copy, desc, values, nulls);
        for (int i = 0; i < desc->natts; ++i) {
          d.names.emplace_back(NameStr(TupleDescAttr(desc, i)->attname));
          d.values.push_back({TupleDescAttr(desc, i)->atttypid, values[i], nulls[i]});
        }
        out.one = std::move(d);
      }
    }
    table_close(rel, NoLock);  // RowExclusiveLock held to commit, as the DELETE statement holds it
  });
  return out;
}

void consume_queued_delta(const QueuedDelta& delta) {
  ItemPointerData tid = delta.tid;
  const Oid q = delta.queue;
  pg_call([&] {
    Relation rel = table_open(q, RowExclusiveLock);
    TM_FailureData tmfd;
    const TM_Result result =
        heap_delete(rel, &tid, GetCurrentCommandId(true), InvalidSnapshot, true /* wait */, &tmfd, false);
    table_close(rel, NoLock);
    if (result != TM_Ok)
      ereport(ERROR, (errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
                      errmsg("pg_incview: a queued delta of %s was consumed by another command", get_rel_name(q)),
                      errdetail("the refresh is undone; its deltas stay queued")));
  });
}

}  // namespace incview::pg
