// Engine auto and what delta stages cost writers (issue 18). Key-capturing stages share one
// change record per source and statement, whatever their number; a delta stage runs capture
// statements of its own (its partial aggregates, as its owner) on every write to each of its
// sources, so the writers' cost grows with the number of delta stages on a source. auto
// therefore chooses delta only while the source has few of them; an explicit delta beyond
// that works, with a WARNING, and incview.check reports the source.
#pragma once
#include "core/no_postgres.hpp"

#include <string>

#include "core/delta_crossover.hpp"

namespace incview {

// auto turns delta on for a stage only while each of its sources has fewer delta stages than
// this. Measured (bench/capture_fanout.md, "The default engine on a grown source"): each
// delta stage on a source adds about 26 us of server CPU to a single-row insert of about
// 100 us, so a second one already costs a CPU-bound writer about a fifth of its throughput,
// beyond issue 18's 10 % (50 stages >= 90 % of the throughput of one).
inline constexpr long kAutoDeltaStagesPerSource = 1;

// Why auto does or does not choose delta for a stage whose query qualifies.
enum class AutoDelta {
  Delta,        // large scopes, and the sources have room for another delta stage
  SmallScopes,  // fewer source rows per scope than the shape's crossover (core/delta_crossover): replace/diff
  SourceBusy,   // large scopes, but a source already has kAutoDeltaStagesPerSource delta stages
};

// rows_per_scope: the sources' rows over the stage's scopes; busiest: the most delta stages,
// other than this one, on any one of the stage's sources; shape: what delta does for the query.
AutoDelta auto_delta_choice(double rows_per_scope, long busiest, const DeltaShape& shape);

// Whether `delta_stages` delta stages on one source cost its writers more than auto allows.
inline bool delta_write_cost_grows(long delta_stages) { return delta_stages > kAutoDeltaStagesPerSource; }

// The NOTICE when auto keeps a stage off delta because `source` has `delta_stages` already.
std::string auto_delta_declined(const std::string& stage, const std::string& source, long delta_stages);
// Its hint: how to force delta.
std::string auto_delta_declined_hint(const std::string& stage);

// The WARNING when an explicit delta makes `source` have `delta_stages` (this one included).
std::string forced_delta_warning(const std::string& stage, const std::string& source, long delta_stages);
// Its hint.
std::string forced_delta_hint(const std::string& stage);

// incview.check's detail for a source with `delta_stages` delta stages.
std::string delta_write_cost_detail(const std::string& source, long delta_stages);

}  // namespace incview
