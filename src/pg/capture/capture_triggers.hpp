// pg_incview's capture triggers on a source: installing them, their names and how they fire,
// and the warning when a table's owner has disabled or dropped them.
#pragma once
#include "pg/catalog/catalog.hpp"

namespace incview::pg {

// Creates the capture triggers on `source` unless they exist (as the caller, who needs
// the TRIGGER privilege on it), and tells every backend to reload its capture plans.
void install_capture(Oid source);

// Whether this database has a logical-replication subscription: then plain-table sources
// also get the row trigger incview_capture_row (ENABLE REPLICA), the only kind of trigger
// the apply worker fires.
bool database_has_subscription();

// The stage's sources that carry capture triggers (tables and partitioned tables; foreign
// tables and materialized views are polled).
std::vector<Oid> trigger_sources(int32 stage_id);

// install_capture for every source of the stage (incview.rebuild: a table owner may have
// dropped our triggers, leaving the stage stale).
void reinstall_missing_capture(const StageRecord& stage);

// The names of pg_incview's capture triggers, by event (insert, update, delete, truncate).
inline constexpr const char* kTriggerNames[] = {"incview_capture_ins", "incview_capture_upd", "incview_capture_del",
                                                "incview_capture_trunc"};
// The statement triggers are ENABLE ALWAYS: a session under session_replication_role =
// replica (a bulk load skipping triggers, another replication tool) must not change a
// source unseen. The apply worker of a logical-replication subscription fires no statement
// triggers for INSERT/UPDATE/DELETE, only row triggers: this one (ENABLE REPLICA, on plain
// tables of a database with a subscription) captures there, and only there (it returns at
// once in any other replica-role session, whose statement triggers fire).
inline constexpr const char* kRowTrigger = "incview_capture_row";

// WARNING when some source of the stage has pg_incview's capture triggers disabled or
// dropped (incview.capture_off(), also behind incview.stages: the stage is then 'stale').
void warn_if_capture_off(const StageRecord& stage);

}  // namespace incview::pg
