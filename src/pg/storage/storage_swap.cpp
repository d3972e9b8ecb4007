#include "pg/storage/storage_swap.hpp"

#include "pg/storage/scope_tally.hpp"
#include "pg/storage/swap_downstream.hpp"
#include "pg/storage/swap_lock_log.hpp"

#include "core/sql_text.hpp"
#include "pg/background/progress.hpp"
#include "pg/catalog/dirty_queue.hpp"
#include "pg/refresh/scope_count.hpp"
#include "pg/citus/citus.hpp"
#include "pg/support/guard.hpp"
#include "pg/support/role.hpp"
#include "pg/support/spi.hpp"

extern "C" {
#include "access/genam.h"
#include "access/heapam.h"
#include "access/tableam.h"
#include "access/toast_internals.h"
#include "access/xlog.h"
#include "access/xloginsert.h"
#include "catalog/dependency.h"
#include "catalog/heap.h"
#include "catalog/index.h"
#include "catalog/indexing.h"
#include "catalog/pg_class.h"
#include "commands/cluster.h"
#include "commands/defrem.h"
#include "commands/tablecmds.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "storage/latch.h"
#include "utils/inval.h"
#include "utils/plancache.h"
#include "utils/relcache.h"
#include "utils/wait_event.h"
}

#include <chrono>
#include <memory>

namespace incview::pg {

namespace {

// How long the swap waits for the table's current readers by polling, never queueing for
// the lock (a queued ACCESS EXCLUSIVE request would block every reader arriving after it).
// A reader transaction that holds the table longer than this (a report, an idle-in-
// transaction session) does not hold the rebuild back and is not waited for: the rows of
// the new heap are copied into the table instead (DELETE + INSERT, readers never blocked).
constexpr double kPollLockSeconds = 2.0;
constexpr long kPollLockStepMs = 2;

// ---- the fill: the query's rows straight into the new heap (what REFRESH does) ----

// A DestReceiver that inserts each row of the query into the new heap: no executor
// ModifyTable per row, a bulk-insert buffer ring, no free-space map lookups, and rows
// written frozen (the heap is new in this transaction: if it aborts, the file goes). Frozen
// rows are what REFRESH MATERIALIZED VIEW writes too: a snapshot older than the swap that
// first reads the table after it sees the new rows, never an empty table.
struct HeapFill {
  DestReceiver pub;  // first: the executor sees a DestReceiver*
  Relation rel;
  TupleTableSlot* out;
  const AttrNumber* map;  // query column i -> 1-based heap attribute
  const bool* not_null;   // per heap attribute
  int ncols;
  BulkInsertState bistate;
  CommandId cid;
  int options;
  int64 rows;
  int64 unreported;
  ScopeTally* tally;  // the scopes of the rows, counted as they go in
};

// The incview.progress count: one atomic store per 4096 rows, not per row.
inline void count_row(HeapFill* st) {
  ++st->rows;
  if (++st->unreported == 4096) {
    progress_rows(st->unreported);
    st->unreported = 0;
  }
}

// The query's columns are the table's, in order (create_stage's new table, a rebuild of a
// table with no dropped columns): the query's row goes in as it is, as CREATE TABLE AS
// inserts it (no deforming and re-forming into a second slot).
bool fill_receive_identical(TupleTableSlot* slot, DestReceiver* self) {
  auto* st = reinterpret_cast<HeapFill*>(self);
  for (int a = 0; a < st->ncols; ++a)
    if (st->not_null[a] && slot_attisnull(slot, a + 1))
      ereport(ERROR, (errcode(ERRCODE_NOT_NULL_VIOLATION),
                      errmsg("null value in column \"%s\" of relation \"%s\" violates not-null constraint",
                             NameStr(TupleDescAttr(RelationGetDescr(st->rel), a)->attname),
                             RelationGetRelationName(st->rel))));
  table_tuple_insert(st->rel, slot, st->cid, st->options, st->bistate);
  st->tally->add(slot);
  count_row(st);
  return true;
}

bool fill_receive(TupleTableSlot* slot, DestReceiver* self) {
  auto* st = reinterpret_cast<HeapFill*>(self);
  TupleTableSlot* out = st->out;
  slot_getallattrs(slot);
  ExecClearTuple(out);
  const int natts = out->tts_tupleDescriptor->natts;
  for (int a = 0; a < natts; ++a) {
    out->tts_values[a] = (Datum)0;
    out->tts_isnull[a] = true;
  }
  for (int i = 0; i < st->ncols; ++i) {
    const int a = st->map[i] - 1;
    out->tts_values[a] = slot->tts_values[i];
    out->tts_isnull[a] = slot->tts_isnull[i];
  }
  for (int a = 0; a < natts; ++a)
    if (st->not_null[a] && out->tts_isnull[a])
      ereport(ERROR,
              (errcode(ERRCODE_NOT_NULL_VIOLATION),
               errmsg("null value in column \"%s\" of relation \"%s\" violates not-null constraint",
                      NameStr(TupleDescAttr(out->tts_tupleDescriptor, a)->attname), RelationGetRelationName(st->rel))));
  ExecStoreVirtualTuple(out);
  table_tuple_insert(st->rel, out, st->cid, st->options, st->bistate);
  st->tally->add(slot);
  count_row(st);
  return true;
}

void fill_startup(DestReceiver*, int, TupleDesc) {}
void fill_shutdown(DestReceiver* self) {
  auto* st = reinterpret_cast<HeapFill*>(self);
  progress_rows(st->unreported);
  st->unreported = 0;
}
void fill_destroy(DestReceiver*) {}

// The query's result columns mapped onto the table's attributes by name; "" when they map
// one to one without a cast, else why not.
struct ColumnMap {
  std::vector<AttrNumber> map;
  std::vector<bool> not_null;
  std::string refusal;
};

ColumnMap map_columns(Oid table, TupleDesc result) {
  ColumnMap m;
  Relation rel = nullptr;
  pg_call([&] { rel = table_open(table, AccessShareLock); });
  TupleDesc td = RelationGetDescr(rel);
  m.not_null.assign(td->natts, false);
  std::vector<bool> covered(td->natts, false);
  for (int i = 0; i < result->natts && m.refusal.empty(); ++i) {
    Form_pg_attribute r = TupleDescAttr(result, i);
    int found = -1;
    for (int a = 0; a < td->natts; ++a) {
      Form_pg_attribute t = TupleDescAttr(td, a);
      if (!t->attisdropped && strcmp(NameStr(t->attname), NameStr(r->attname)) == 0) found = a;
    }
    if (found < 0) {
      m.refusal = std::string("the query's column \"") + NameStr(r->attname) + "\" is not a column of the table";
      break;
    }
    Form_pg_attribute t = TupleDescAttr(td, found);
    if (t->atttypid != r->atttypid || (t->atttypmod != -1 && t->atttypmod != r->atttypmod))
      m.refusal = std::string("column \"") + NameStr(t->attname) + "\" would need a cast";
    covered[found] = true;
    m.map.push_back(static_cast<AttrNumber>(found + 1));
  }
  for (int a = 0; a < td->natts && m.refusal.empty(); ++a) {
    Form_pg_attribute t = TupleDescAttr(td, a);
    if (t->attisdropped) continue;
    if (t->attgenerated)
      m.refusal = std::string("column \"") + NameStr(t->attname) + "\" is generated";
    else if (!covered[a])
      m.refusal = std::string("column \"") + NameStr(t->attname) + "\" is not in the query";
    m.not_null[a] = t->attnotnull;
  }
  pg_call([&] { table_close(rel, AccessShareLock); });
  return m;
}

// Prepares the query (its plan's result descriptor tells its columns). Kept for this call.
// Parallel plans allowed, as CREATE TABLE AS and REFRESH MATERIALIZED VIEW plan theirs:
// the rows are inserted by this (leader) backend, which PostgreSQL permits in parallel
// mode; the planner keeps a query serial when it calls anything not parallel safe.
SPIPlanPtr prepare_query(const std::string& select_sql, TupleDesc* result) {
  SPIPlanPtr plan = nullptr;
  const char* src = select_sql.c_str();
  pg_call([&] {
    plan = SPI_prepare_cursor(src, 0, nullptr, CURSOR_OPT_PARALLEL_OK);
    if (!plan) elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
    List* sources = SPI_plan_get_plan_sources(plan);
    if (list_length(sources) != 1) elog(ERROR, "the stage query is not one statement");
    *result = static_cast<CachedPlanSource*>(linitial(sources))->resultDesc;
    if (!*result) elog(ERROR, "the stage query returns no rows");
  });
  return plan;
}

int64 fill_heap(Oid heap, SPIPlanPtr plan, const ColumnMap& cols, bool frozen, ScopeTally* tally) {
  HeapFill st{};
  st.tally = tally;
  st.pub.receiveSlot = fill_receive;
  st.pub.rStartup = fill_startup;
  st.pub.rShutdown = fill_shutdown;
  st.pub.rDestroy = fill_destroy;
  st.pub.mydest = DestNone;
  st.map = cols.map.data();
  std::unique_ptr<bool[]> not_null(new bool[cols.not_null.size() + 1]);
  for (size_t a = 0; a < cols.not_null.size(); ++a) not_null[a] = cols.not_null[a];
  st.not_null = not_null.get();
  st.ncols = static_cast<int>(cols.map.size());
  HeapFill* s = &st;
  pg_call([&] {
    s->rel = table_open(heap, AccessExclusiveLock);
    // Same attributes in the same order (types were checked by map_columns): the heap tuple
    // the query's slot makes has the table's layout.
    bool identical = RelationGetDescr(s->rel)->natts == s->ncols;
    for (int i = 0; identical && i < s->ncols; ++i) identical = s->map[i] == i + 1;
    if (identical) s->pub.receiveSlot = fill_receive_identical;
    s->out = MakeSingleTupleTableSlot(RelationGetDescr(s->rel), &TTSOpsVirtual);
    s->bistate = GetBulkInsertState();
    s->cid = GetCurrentCommandId(true);
    s->options = TABLE_INSERT_SKIP_FSM | (frozen ? TABLE_INSERT_FROZEN : 0);
    SPIExecuteOptions opts;
    memset(&opts, 0, sizeof opts);
    opts.dest = &s->pub;
    const int rc = SPI_execute_plan_extended(plan, &opts);
    if (rc < 0) elog(ERROR, "SPI_execute_plan_extended failed: %s", SPI_result_code_string(rc));
    FreeBulkInsertState(s->bistate);
    table_finish_bulk_insert(s->rel, s->options);
    ExecDropSingleTupleTableSlot(s->out);
    table_close(s->rel, NoLock);
  });
  return st.rows;
}

std::vector<std::string> scope_names(const StageRecord& stage) {
  std::vector<std::string> names;
  for (const auto& c : stage.shape.scope) names.push_back(c.name);
  return names;
}

// ---- indexes: each of the table's indexes, built again on the new heap ----

struct IndexPair {
  Oid table_index;
  Oid built;
};

std::vector<IndexPair> build_indexes(Oid table, Oid heap) {
  std::vector<Oid> indexes;
  pg_call([&] {
    Relation rel = table_open(table, AccessShareLock);
    List* list = RelationGetIndexList(rel);
    ListCell* lc;
    foreach (lc, list) indexes.push_back(lfirst_oid(lc));
    table_close(rel, NoLock);
  });
  std::vector<IndexPair> pairs;
  for (Oid index : indexes) {
    Oid built = InvalidOid;
    pg_call([&] {
      Relation heap_rel = table_open(heap, AccessExclusiveLock);
      char* name = ChooseRelationName(get_rel_name(index), nullptr, "incview_swap", get_rel_namespace(heap), false);
      // Same columns, expressions, predicate, operator classes, options and tablespace;
      // the catalog entry is a throwaway (dropped with the heap after the swap), only its
      // storage is kept.
      built = index_concurrently_create_copy(heap_rel, index, get_rel_tablespace(index), name);
      CommandCounterIncrement();
      Relation index_rel = index_open(built, AccessExclusiveLock);
      IndexInfo* info = BuildIndexInfo(index_rel);
      index_build(heap_rel, index_rel, info, false, true);
      index_close(index_rel, NoLock);
      table_close(heap_rel, NoLock);
      CommandCounterIncrement();
    });
    pairs.push_back({index, built});
  }
  return pairs;
}

// ---- the swap ----

std::string qualified_name(Oid rel) {
  std::string out;
  pg_call([&] {
    char* s = quote_qualified_identifier(get_namespace_name(get_rel_namespace(rel)), get_rel_name(rel));
    out = s;
  });
  return out;
}

// ACCESS EXCLUSIVE on the table if its current readers finish within kPollLockSeconds.
bool lock_for_swap(Oid table) {
  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + std::chrono::duration<double>(kPollLockSeconds);
  bool locked = false;
  while (!locked) {
    pg_call([&] { locked = ConditionalLockRelationOid(table, AccessExclusiveLock); });
    if (locked || clock::now() > deadline) break;
    pg_call([&] {
      (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, kPollLockStepMs, PG_WAIT_EXTENSION);
      ResetLatch(MyLatch);
      CHECK_FOR_INTERRUPTS();
    });
  }
  return locked;
}

// Exchanges the storage of two relations in pg_class (what cluster.c's swap_relation_files
// does for CLUSTER and REFRESH): file, tablespace, freeze horizons, size statistics, and,
// for heaps, the TOAST table (by link: each TOAST table moves with the rows that point at it,
// its dependency follows).
void swap_class_storage(Oid r1, Oid r2, bool heaps) {
  pg_call([&] {
    Relation pg_class_rel = table_open(RelationRelationId, RowExclusiveLock);
    HeapTuple t1 = SearchSysCacheCopy1(RELOID, ObjectIdGetDatum(r1));
    HeapTuple t2 = SearchSysCacheCopy1(RELOID, ObjectIdGetDatum(r2));
    if (!HeapTupleIsValid(t1) || !HeapTupleIsValid(t2))
      elog(ERROR, "cache lookup failed for relation %u or %u", r1, r2);
    Form_pg_class f1 = (Form_pg_class)GETSTRUCT(t1);
    Form_pg_class f2 = (Form_pg_class)GETSTRUCT(t2);
#define INCVIEW_SWAP(field) \
  do {                      \
    auto tmp_ = f1->field;  \
    f1->field = f2->field;  \
    f2->field = tmp_;       \
  } while (0)
    INCVIEW_SWAP(relfilenode);
    INCVIEW_SWAP(reltablespace);
    INCVIEW_SWAP(relfrozenxid);
    INCVIEW_SWAP(relminmxid);
    INCVIEW_SWAP(relpages);
    INCVIEW_SWAP(reltuples);
    INCVIEW_SWAP(relallvisible);
    if (heaps) INCVIEW_SWAP(reltoastrelid);
#undef INCVIEW_SWAP
    CatalogIndexState indstate = CatalogOpenIndexes(pg_class_rel);
    CatalogTupleUpdateWithInfo(pg_class_rel, &t1->t_self, t1, indstate);
    CatalogTupleUpdateWithInfo(pg_class_rel, &t2->t_self, t2, indstate);
    CatalogCloseIndexes(indstate);

    if (heaps && (OidIsValid(f1->reltoastrelid) || OidIsValid(f2->reltoastrelid))) {
      // Each TOAST table depends (internally) on the heap whose rows point into it.
      if (OidIsValid(f1->reltoastrelid)) deleteDependencyRecordsFor(RelationRelationId, f1->reltoastrelid, false);
      if (OidIsValid(f2->reltoastrelid)) deleteDependencyRecordsFor(RelationRelationId, f2->reltoastrelid, false);
      ObjectAddress base, toast;
      base.classId = toast.classId = RelationRelationId;
      base.objectSubId = toast.objectSubId = 0;
      if (OidIsValid(f1->reltoastrelid)) {
        base.objectId = r1;
        toast.objectId = f1->reltoastrelid;
        recordDependencyOn(&toast, &base, DEPENDENCY_INTERNAL);
      }
      if (OidIsValid(f2->reltoastrelid)) {
        base.objectId = r2;
        toast.objectId = f2->reltoastrelid;
        recordDependencyOn(&toast, &base, DEPENDENCY_INTERNAL);
      }
    }

    // r1's file (from r2) is new in this transaction: WAL-skipping (wal_level = minimal)
    // and its commit-time sync follow the file, as in swap_relation_files.
    Relation rel1 = relation_open(r1, NoLock);
    Relation rel2 = relation_open(r2, NoLock);
    rel2->rd_createSubid = rel1->rd_createSubid;
    rel2->rd_newRelfilenodeSubid = rel1->rd_newRelfilenodeSubid;
    rel2->rd_firstRelfilenodeSubid = rel1->rd_firstRelfilenodeSubid;
    RelationAssumeNewRelfilenode(rel1);
    relation_close(rel1, NoLock);
    relation_close(rel2, NoLock);

    heap_freetuple(t1);
    heap_freetuple(t2);
    table_close(pg_class_rel, RowExclusiveLock);
  });
}

void drop_relation(Oid rel) {
  pg_call([&] {
    ObjectAddress object;
    object.classId = RelationRelationId;
    object.objectId = rel;
    object.objectSubId = 0;
    performDeletion(&object, DROP_RESTRICT, PERFORM_DELETION_INTERNAL);
    CommandCounterIncrement();
  });
}

// The table is under a long read: its rows are replaced from the new heap through the
// executor instead (capture triggers fire as for any write), and the heap is dropped.
int64 copy_in(const StageRecord& stage, Oid heap) {
  const std::string columns = column_list(stage.shape.columns);
  const auto deleted = static_cast<int64>(spi_exec("DELETE FROM " + stage.shape.target));
  spi_exec("INSERT INTO " + stage.shape.target + " (" + columns + ") SELECT " + columns + " FROM " +
           qualified_name(heap));
  drop_relation(heap);
  return deleted;
}

void swap_in(Oid table, Oid heap, const std::vector<IndexPair>& indexes) {
  for (const auto& p : indexes) pg_call([&] { LockRelationOid(p.table_index, AccessExclusiveLock); });
  swap_class_storage(table, heap, true);
  for (const auto& p : indexes) swap_class_storage(p.table_index, p.built, false);
  pg_call([&] { CommandCounterIncrement(); });
  // The heap now holds the old storage: dropping it (with its indexes and the old TOAST
  // table) deletes the old files at commit, or keeps them if we abort.
  drop_relation(heap);
  pg_call([&] {
    // The table's TOAST table is now the one made for the new heap: name it after the table.
    Relation rel = table_open(table, NoLock);
    const Oid toast = rel->rd_rel->reltoastrelid;
    table_close(rel, NoLock);
    if (OidIsValid(toast)) {
      char name[NAMEDATALEN];
      snprintf(name, NAMEDATALEN, "pg_toast_%u", table);
      RenameRelationInternal(toast, name, true, false);
      const Oid toast_index = toast_get_valid_index(toast, NoLock);
      snprintf(name, NAMEDATALEN, "pg_toast_%u_index", table);
      RenameRelationInternal(toast_index, name, true, true);
      CommandCounterIncrement();
    }
  });
}

}  // namespace

std::string swap_refusal(const StageRecord& stage, const std::string& select_sql) {
  if (is_citus_table(stage.target)) return "the table is a Citus table";
  spi_exec(
      "SELECT c.relkind::text, c.relpersistence::text, c.relforcerowsecurity, c.relhasrules, "
      "  (SELECT pg_catalog.string_agg(t.tgname::text, ', ') FROM pg_catalog.pg_trigger t "
      "    WHERE t.tgrelid OPERATOR(pg_catalog.=) c.oid AND NOT t.tgisinternal AND t.tgfoid OPERATOR(pg_catalog.<>) "
      "      ALL (SELECT p.oid FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid "
      "OPERATOR(pg_catalog.=) "
      "p.pronamespace WHERE n.nspname OPERATOR(pg_catalog.=) 'incview' AND p.proname OPERATOR(pg_catalog.=) "
      "'capture')), "
      "  EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k WHERE (k.conrelid OPERATOR(pg_catalog.=) c.oid "
      "    AND k.contype OPERATOR(pg_catalog.=) ANY ('{c,f,x,t}'::pg_catalog.\"char\"[])) "
      "    OR (k.confrelid OPERATOR(pg_catalog.=) c.oid AND k.contype OPERATOR(pg_catalog.=) 'f')), "
      "  EXISTS (SELECT 1 FROM pg_catalog.pg_publication p "
      "    WHERE c.oid OPERATOR(pg_catalog.=) ANY (SELECT t.relid FROM pg_catalog.pg_get_publication_tables(p.pubname) "
      "t)), "
      "  EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid OPERATOR(pg_catalog.=) c.oid "
      "    AND (NOT i.indisvalid OR NOT i.indisready OR i.indisexclusion)) "
      "FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) $1",
      {oid_arg(stage.target)}, true);
  if (SPI_processed != 1) return "the table is gone";
  if (spi_text_or(0, 1, "") != "r") return "the table is partitioned";
  if (spi_text_or(0, 2, "") == "t") return "the table is temporary";
  if (spi_bool(0, 3)) return "the table forces row level security on its owner";
  if (spi_bool(0, 4)) return "the table has rules";
  if (auto triggers = spi_text(0, 5)) return "the table has triggers of its own (" + *triggers + ")";
  if (spi_bool(0, 6))
    return "the table has CHECK, foreign-key or exclusion constraints, or is referenced by a foreign key";
  if (spi_bool(0, 7)) return "the table is published for logical replication";
  if (spi_bool(0, 8)) return "the table has an invalid or exclusion index";
  TupleDesc result = nullptr;
  (void)prepare_query(select_sql, &result);
  return map_columns(stage.target, result).refusal;
}

SwapResult swap_rebuild(const StageRecord& stage, const std::string& select_sql) {
  SwapResult out;
  const Oid table = stage.target;
  Oid heap = InvalidOid;
  pg_call([&] {
    Relation rel = table_open(table, AccessShareLock);
    out.replaced = rel->rd_rel->reltuples > 0 ? static_cast<int64>(rel->rd_rel->reltuples) : 0;
    const Oid space = rel->rd_rel->reltablespace;
    const Oid am = rel->rd_rel->relam;
    const char persistence = rel->rd_rel->relpersistence;
    table_close(rel, NoLock);
    // Same columns (dropped ones included), owner, tablespace, access method, options and
    // TOAST table; named pg_temp_<oid> in the table's schema; invisible to other sessions
    // until we commit, and by then dropped again.
    heap = make_new_heap(table, space, am, persistence, AccessShareLock);
    CommandCounterIncrement();
  });
  TupleDesc result = nullptr;
  SPIPlanPtr plan = prepare_query(select_sql, &result);
  const ColumnMap cols = map_columns(table, result);
  if (!cols.refusal.empty()) throw Error(sqlstate::kInternalError, "storage swap refused: " + cols.refusal);
  ScopeTally tally(scope_names(stage), result);
  out.inserted = fill_heap(heap, plan, cols, true, &tally);  // the heap is new in this subtransaction
  pg_call([&] { CommandCounterIncrement(); });
  const std::vector<IndexPair> indexes = build_indexes(table, heap);
  progress_phase(ProgressPhase::RecordingScopes);
  const std::optional<int64> tallied = tally.count();
  out.scope_count = tallied ? record_known_scope_count(stage, *tallied) : record_scope_count(stage, qualified_name(heap));
  // The stages reading the table: the scopes whose rows changed, from the old rows and the
  // new heap side by side, queued now, before the lock (no capture trigger sees a swap; a
  // copy-in below queues again through the triggers, which costs a repeat, never a miss).
  queue_downstream_scopes(changed_downstream_scopes(stage, qualified_name(heap)));
  // The new heap's WAL goes to disk now, not in the commit under the swap's lock. Up to the
  // end of this backend's last record: the insert position itself may lie past a page
  // header no record ends at, which XLogFlush refuses ("flush request ... not satisfied").
  pg_call([&] {
    if (!XLogRecPtrIsInvalid(XactLastRecEnd)) XLogFlush(XactLastRecEnd);
  });
  const auto wait_start = std::chrono::steady_clock::now();
  out.swapped = lock_for_swap(table);
  if (out.swapped) {
    swap_lock_taken(stage.name, stage.shape.target,
                    std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - wait_start).count());
    swap_in(table, heap, indexes);
    swap_lock_swapped();
  } else
    out.replaced = copy_in(stage, heap);
  return out;
}

std::optional<LoadResult> load_new_table(const StageRecord& stage, const std::string& select_sql) {
  if (!swap_refusal(stage, select_sql).empty()) return std::nullopt;
  TupleDesc result = nullptr;
  SPIPlanPtr plan = prepare_query(select_sql, &result);
  const ColumnMap cols = map_columns(stage.target, result);
  if (!cols.refusal.empty()) return std::nullopt;
  // Frozen rows are safe only in a file this subtransaction created (as COPY FREEZE): if it
  // rolls back, the file goes with it.
  bool frozen = false;
  const Oid table = stage.target;
  pg_call([&] {
    Relation rel = table_open(table, AccessShareLock);
    const SubTransactionId sub = GetCurrentSubTransactionId();
    frozen = rel->rd_createSubid == sub || rel->rd_newRelfilenodeSubid == sub;
    table_close(rel, NoLock);
  });
  ScopeTally tally(scope_names(stage), result);
  LoadResult out;
  out.rows = fill_heap(table, plan, cols, frozen, &tally);
  out.scope_count = tally.count();
  return out;
}

}  // namespace incview::pg
