// A stage's sources: what its query reads, how a changed source row maps to scope keys,
// and removing a stage with everything it installed.
#pragma once
#include "pg/catalog/catalog.hpp"
#include "pg/query/stage_inputs.hpp"

namespace incview::pg {

// Records each relation the query reads in incview.stage_source. A source that has every
// scope column by name maps to the same keys; any other maps to "every scope" until
// incview.map_source says better (a NOTICE names it). Tables not in `read_before` (the
// stage's sources before; empty for a new stage) wait for their open writers
// (lock_new_source).
void register_sources(const StageRecord& stage, const std::vector<Oid>& relations,
                      const std::vector<Oid>& read_before = {});

// ERROR 42501 unless `owner` may read every relation (SELECT) and may put triggers on it
// (owns it, or has TRIGGER): pg_incview installs capture triggers on every source, and a
// stage's owner must never get a trigger or a mapping onto a table it could not itself
// touch. Checked at create_stage, alter_stage and map_source, whether or not the triggers
// already exist (another stage's owner may have installed them).
void check_source_privileges(Oid owner, const std::vector<Oid>& relations);

// ERROR 42809 when a relation belongs to pg_incview itself (its catalog, its dirty queue):
// capture triggers there would fire on pg_incview's own writes -- on the queue, without end
// (every captured key inserts a row that is captured again). Checked wherever a source is
// added: create_stage, alter_stage, map_source/add_source, tables read inside functions.
void refuse_own_tables(const std::vector<Oid>& relations);

// Inputs found beyond the planned tables (stage_inputs.hpp): tables read inside SQL
// functions become sources that dirty every scope (captured); foreign tables and
// materialized views become polled sources (no trigger; interval/daily stages rebuild at
// every period); opaque and time-dependent functions are reported with a WARNING. Tables
// the plan does not list were refused before (refuse_uncapturable).
void register_inputs(const StageRecord& stage, StageInputs inputs, const std::vector<Oid>& read_before = {});

// ERROR 0A000 naming tables the query reads that the plan does not list (nothing would
// capture them: a distributed table, say).
void refuse_uncapturable(const StageInputs& inputs);

// alter_stage's new definition. Writes: drops the stage's incview.stage_source rows except
// the declared mappings of sources in `still_read` (an oid[] literal: register_sources
// re-adds the rest), and sets the stage's query, columns (`columns_json`, a JSON array of
// names), target and search_path.
void save_redefinition(int32 stage_id, const std::string& still_read, const std::string& query,
                       const std::string& columns_json, Oid target, const std::string& search_path);

}  // namespace incview::pg
