#include "pg/catalog/captured_changes.hpp"

#include "pg/catalog/catalog.hpp"
#include "pg/support/guard.hpp"
#include "pg/support/role.hpp"
#include "pg/support/spi.hpp"

extern "C" {
#include "storage/proc.h"
}

namespace incview::pg {

namespace {

// The keys of records (CTE `new`: stage_id, keys, dirtied_at) into dirty_scope, one row per
// stage and distinct key, with the oldest time (lag counts from the first write).
constexpr const char* kMoveNew =
    "moved AS (INSERT INTO incview.dirty_scope (stage_id, key, dirtied_at) "
    "  SELECT DISTINCT ON (n.stage_id, k.key) n.stage_id, k.key, n.dirtied_at "
    "  FROM new n CROSS JOIN LATERAL pg_catalog.unnest(coalesce(n.keys, ARRAY[NULL::jsonb])) AS k(key) "
    "  ORDER BY n.stage_id, k.key, n.dirtied_at RETURNING 1) ";

// The command id the next statement runs with, or less: this transaction's records written
// before it are visible to that statement, those written from it on count as new.
int64 current_command() {
  CommandId cid = 0;
  pg_call([&] { cid = GetCurrentCommandId(false); });
  return static_cast<int64>(cid);
}

}  // namespace

// A record is dropped once every stage named in it (and still existing) has a mark whose
// snapshot's xmin is past the record's writer: a committed writer below xmin is visible in
// that snapshot, so the collection that took it read the record (or an earlier one did).
// Per group of records with the same stages, one horizon (the least xmin of their marks);
// then one pass over the records. Checking each record against each stage's snapshot
// instead cost records x stages index probes per collection, on every stage refresh: with
// 50 stages that made freshness worse than capturing per stage (bench/capture_queue.md).
// A record past a horizon (a writer still running when a stage last collected, or this
// transaction's own) waits for a later collection. Never waits: rows another collection
// is deleting are skipped.
void forget_collected_records() {
  spi_exec(
      "WITH h AS (SELECT s.id, pg_catalog.pg_snapshot_xmin(m.seen) AS x "
      "           FROM incview.stage s LEFT JOIN incview.capture_mark m ON m.stage_id OPERATOR(pg_catalog.=) s.id), "
      "g AS (SELECT DISTINCT r.stage_ids FROM incview.source_change r), "
      "gh AS (SELECT g.stage_ids, a.n, a.unseen, a.horizon FROM g CROSS JOIN LATERAL ( "
      "         SELECT count(*) AS n, count(*) FILTER (WHERE h.x IS NULL) AS unseen, min(h.x) AS horizon "
      "         FROM pg_catalog.unnest(g.stage_ids) AS i(id) JOIN h ON h.id OPERATOR(pg_catalog.=) i.id) a) "
      "DELETE FROM incview.source_change d WHERE d.ctid OPERATOR(pg_catalog.=) ANY (ARRAY( "
      "  SELECT r.ctid FROM incview.source_change r "
      "  JOIN gh ON gh.stage_ids OPERATOR(pg_catalog.=) r.stage_ids "
      "  WHERE gh.n OPERATOR(pg_catalog.=) 0 "
      "     OR (gh.unseen OPERATOR(pg_catalog.=) 0 AND r.xid OPERATOR(pg_catalog.<) gh.horizon) "
      "  FOR UPDATE OF r SKIP LOCKED))");
}

namespace {

// The answer of the last stage load's look for records (note_records_probe).
struct RecordsProbe {
  int32 stage_id = 0;
  LocalTransactionId lxid = InvalidLocalTransactionId;
  CommandId cid = InvalidCommandId;
  bool any = true;
};
RecordsProbe noted;

// Whether a record naming the stage is visible now (this transaction's own included): when
// none is, a collection now would move nothing and write no mark, so it is skipped. A record
// committed after this probe's snapshot is left for the next collection, as if it had come a
// moment later; under REPEATABLE READ the collection would read the same snapshot as the
// probe. The probe takes no lock: the collection's row lock on the mark (and with it a
// transaction id, i.e. a write and a commit record) only when there is something to collect.
// A kept-plan scan of a table that holds only records not yet collected by all their stages.
// The answer of the stage's load moments ago serves if nothing of this transaction's own was
// written since (a write advances the command counter) and it was not used yet.
// The stage load's answer when it serves (and is used up); nullopt when a look is needed.
std::optional<bool> noted_answer(int32 stage_id) {
  LocalTransactionId lxid = InvalidLocalTransactionId;
  CommandId cid = InvalidCommandId;
  pg_call([&] {
    lxid = MyProc->lxid;
    cid = GetCurrentCommandId(false);
  });
  const RecordsProbe note = noted;
  noted = RecordsProbe{};
  if (note.stage_id == stage_id && note.lxid == lxid && note.cid == cid) return note.any;
  return std::nullopt;
}

// As the extension owner.
bool records_name_stage(int32 stage_id, std::optional<bool> answer) {
  if (answer) return *answer;
  return spi_scalar("SELECT 1 FROM incview.source_change r WHERE $1 OPERATOR(pg_catalog.=) ANY (r.stage_ids) LIMIT 1",
                    {int4_arg(stage_id)})
      .has_value();
}

}  // namespace

void note_records_probe(int32 stage_id, bool any) {
  pg_call([&] {
    noted.lxid = MyProc->lxid;
    noted.cid = GetCurrentCommandId(false);
  });
  noted.stage_id = stage_id;
  noted.any = any;
}

void collect_captured(int32 stage_id) {
  // The usual answer, "no record", is known before switching to the extension owner: no
  // role and search_path switch for nothing on every refresh call (issue 13).
  const std::optional<bool> answer = noted_answer(stage_id);
  if (answer && !*answer) return;  // (noted only under catalog 0.2)
  as_extension_owner([&] {
    if (!catalog_is_0_2()) return;
    if (!records_name_stage(stage_id, answer)) return;
    // One statement, one snapshot: the records read, the keys moved and the mark written all
    // agree on what "seen" means. The mark row is locked first: two collections for one
    // stage take turns (the second finds the first's mark, or moves a record twice: a
    // duplicate key, never a lost one).
    const uint64 n =
        spi_exec(std::string("WITH m AS (SELECT m.seen, m.seen_own, m.seen_cid FROM incview.capture_mark m WHERE "
                             "m.stage_id = $1 FOR UPDATE), "
                             "new AS (SELECT $1 AS stage_id, r.keys, r.dirtied_at FROM incview.source_change r "
                             "        LEFT JOIN m ON true WHERE $1 = ANY (r.stage_ids) AND ") +
                     kRecordIsNew + "), " + kMoveNew +
                     ", mark AS (INSERT INTO incview.capture_mark AS m (stage_id, seen, seen_own, seen_cid) "
                     "  SELECT $1, pg_catalog.pg_current_snapshot(), pg_catalog.pg_current_xact_id_if_assigned(), $2 "
                     "  WHERE EXISTS (SELECT 1 FROM new) "
                     "  ON CONFLICT (stage_id) DO UPDATE SET seen = excluded.seen, seen_own = excluded.seen_own, "
                     "                                       seen_cid = excluded.seen_cid RETURNING 1) "
                     "SELECT (SELECT count(*) FROM moved), (SELECT count(*) FROM mark)",
                 {int4_arg(stage_id), int8_arg(current_command())});
    if (n > 0 && spi_int8(0, 2) > 0) forget_collected_records();
  });
}

int64 collect_all_captured() {
  int64 moved = 0;
  as_extension_owner([&] {
    if (!catalog_is_0_2()) return;
    // A mark to lock for every stage a record names.
    spi_exec(
        std::string("INSERT INTO incview.capture_mark (stage_id) "
                    "SELECT s.id FROM incview.stage s "
                    "WHERE NOT EXISTS (SELECT 1 FROM incview.capture_mark m WHERE m.stage_id = s.id) "
                    "  AND EXISTS (SELECT 1 FROM incview.source_change r WHERE s.id = ANY (r.stage_ids)) "
                    "ON CONFLICT DO NOTHING"));
    // Stages whose refresh is collecting right now (their mark locked) are skipped: they
    // collect for themselves, and this pass never waits for a refresh to commit.
    spi_exec(std::string("WITH m AS (SELECT m.stage_id, m.seen, m.seen_own, m.seen_cid FROM incview.capture_mark m "
                         "           WHERE EXISTS (SELECT 1 FROM incview.source_change r "
                         "                         WHERE m.stage_id = ANY (r.stage_ids) AND ") +
                 kRecordIsNew +
                 ") ORDER BY m.stage_id FOR UPDATE SKIP LOCKED), "
                 "new AS (SELECT m.stage_id, r.keys, r.dirtied_at FROM m JOIN incview.source_change r "
                 "        ON m.stage_id = ANY (r.stage_ids) WHERE " +
                 kRecordIsNew + "), " + kMoveNew +
                 ", mark AS (UPDATE incview.capture_mark m SET seen = pg_catalog.pg_current_snapshot(), "
                 "           seen_own = pg_catalog.pg_current_xact_id_if_assigned(), seen_cid = $1 "
                 "           WHERE m.stage_id IN (SELECT n.stage_id FROM new n) RETURNING 1) "
                 "SELECT (SELECT count(*) FROM moved), (SELECT count(*) FROM mark)",
             {int8_arg(current_command())});
    moved = spi_int8(0, 1);
    forget_collected_records();
  });
  return moved;
}

}  // namespace incview::pg
