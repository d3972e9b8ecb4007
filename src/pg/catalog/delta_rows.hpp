// incview.delta_stage and incview.delta_capture rows: turning the engine on and off
// (refresh/delta_engine.cpp, which creates and drops the queue tables themselves: storage,
// not catalog) and the float re-derive's cadence. As the extension owner under the safe
// search path (docs/design.md, "The catalog layer").
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "pg/support/pg_headers.hpp"
#include "pg/support/spi.hpp"

namespace incview::pg {

// Writes: how often the scheduler re-derives the stage's folded groups
// (incview.delta_stage.rederive_every; a NULL interval turns it off).
void save_rederive_every(int32 stage_id, const SpiArg& every);

// Writes: the stage's incview.delta_stage row when the engine turns on: its queue table,
// the query its table is built from, its hidden columns (JSON array of names), its fold
// statement, re-derive statement (text, or NULL without float sums), fold of the usual
// case and fold of one queued row (text, or NULL when it has none).
void save_delta_stage(int32 stage_id, const std::string& queue, const std::string& table_query,
                      const std::string& hidden_json, const std::string& fold, const SpiArg& rederive,
                      const SpiArg& fold_fast, const SpiArg& fold_one);

// Writes: one incview.delta_capture row, the capture statements of one source, the other
// sides its statements must not have pending (JSON array of names), whether its writers
// wait for the other sides' (capture.cpp) and the direct capture of one-row statements
// (core/delta_direct.hpp; empty: none, stored NULL).
void save_delta_capture(int32 stage_id, const std::string& source, const std::string& capture_insert,
                        const std::string& capture_update, const std::string& capture_delete,
                        const std::string& pending_check_json, bool waits_for_writers, const std::string& direct);

// Writes: forgets the stage's incview.delta_stage row (its delta_capture rows go with it).
void forget_delta_stage(int32 stage_id);

// Reads: every delta stage's queue table, by stage id; none with the 0.1 catalog (no
// incview.delta_stage).
std::vector<std::string> all_delta_queues();

// Reads: the stage's re-derive statement; nullopt when it has none.
std::optional<std::string> rederive_sql(int32 stage_id);

// A source and how many delta stages capture it (incview.delta_capture rows).
struct DeltaLoad {
  std::string source;  // empty: no source has a delta stage
  long stages = 0;
};

// Reads: among the relations in `sources_json` (a JSON array of names), the one with the most
// delta stages other than `except_stage`, and their number (engine auto's write-cost rule,
// core/delta_write_cost.hpp). {"", 0} when none has one, or with the 0.1 catalog.
DeltaLoad busiest_delta_source(const std::string& sources_json, int32 except_stage);

// Reads: the same among the stage's own sources (incview.stage_source), every delta stage
// counted (this one too): incview.check and the WARNING of an explicit delta.
DeltaLoad busiest_delta_source_of(int32 stage_id);

// Writes: the stage's folded groups were re-derived now (incview.delta_stage.last_rederive).
void save_rederive_time(int32 stage_id);

}  // namespace incview::pg
