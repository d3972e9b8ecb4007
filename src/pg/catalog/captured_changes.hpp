// Collecting change records (incview.source_change, written by capture, see
// pg/capture/change_record.hpp) into the stages' own queues (incview.dirty_scope).
//
// A record names the stages of its key group as its writer saw them. Each stage collects the
// records meant for it that are new to it, and keeps in incview.capture_mark the snapshot it
// collected them with: a record is new to the stage when its writer's transaction is not
// visible in that snapshot. Writers commit out of order, which is why it is a snapshot and
// not a sequence number: a record whose writer was still running when the stage collected is
// collected next time. Collecting for one stage never removes a record another stage still
// needs; a record goes once every stage named in it (and still existing) has collected it.
// The consistency rule holds across the move: the record commits with its change, the
// stage's query runs after the collection, in a later snapshot.
#pragma once
#include "pg/support/pg_headers.hpp"

namespace incview::pg {

// SQL condition: record r is new to the stage whose mark (LEFT JOINed, alias m) is given.
// A record of the collecting transaction itself is judged by command id alone: its own xid
// may be at or past the snapshot's xmax (not visible) though its earlier records were read.
inline constexpr const char* kRecordIsNew =
    "(m.seen IS NULL "
    "OR (r.xid OPERATOR(pg_catalog.=) m.seen_own AND r.cid OPERATOR(pg_catalog.>=) m.seen_cid) "
    "OR (r.xid IS DISTINCT FROM m.seen_own AND NOT pg_catalog.pg_visible_in_snapshot(r.xid, m.seen)))";

// Loading a stage (find_stage) probes, in the same statement, whether a record naming it is
// visible: the answer holds for this stage's next collection in this transaction as long
// as the transaction's command counter has not moved (no write of its own since, which
// could be a record), and is used once. Anything else probes again.
void note_records_probe(int32 stage_id, bool any);

// Moves the records new to this stage into its dirty_scope rows (before reading its queue:
// a refresh, refresh_scopes, a rebuild). Waits only for another collection for the same stage.
// Nothing under catalog 0.1.
void collect_captured(int32 stage_id);

// For every stage not being collected for right now (the scheduler's pass, in a short
// transaction of its own), then drops the records every stage has collected. Returns the
// number of keys moved.
int64 collect_all_captured();

// Drops the records that every stage named in them (and still existing) has collected
// (after a drop_stage: the records of its key group may name no other stage). Records
// locked by another collection's delete are left for the next one: never waits. Run as the
// extension owner, catalog 0.2.
void forget_collected_records();

}  // namespace incview::pg
