#include "core/delta_write_cost.hpp"

namespace incview {

namespace {

std::string stages_text(long n) { return std::to_string(n) + (n == 1 ? " delta stage" : " delta stages"); }

// What the bench measured, quoted by every message about it (bench/capture_fanout.md).
const char* kMeasured =
    "each delta stage runs a capture statement of its own on every write to the table "
    "(measured: 50 delta stages on one table cost a single-row INSERT 10 to 14 times the server CPU of one; "
    "stages with engine replace/diff share one change record per statement)";

}  // namespace

AutoDelta auto_delta_choice(double rows_per_scope, long busiest, const DeltaShape& shape) {
  if (!delta_pays_off(rows_per_scope, shape)) return AutoDelta::SmallScopes;
  if (busiest >= kAutoDeltaStagesPerSource) return AutoDelta::SourceBusy;
  return AutoDelta::Delta;
}

std::string auto_delta_declined(const std::string& stage, const std::string& source, long delta_stages) {
  return "engine auto does not use delta for stage \"" + stage + "\": " + source + " already has " +
         stages_text(delta_stages) + ", and " + kMeasured;
}

std::string auto_delta_declined_hint(const std::string& stage) {
  return "the stage captures keys and refreshes with replace or diff; incview.set_engine('" + stage +
         "', 'delta') forces delta (docs/engines.md, \"What it costs writers\")";
}

std::string forced_delta_warning(const std::string& stage, const std::string& source, long delta_stages) {
  return "stage \"" + stage + "\" makes " + stages_text(delta_stages) + " on " + source + ": " + kMeasured;
}

std::string forced_delta_hint(const std::string& stage) {
  return "engine auto keeps at most " + stages_text(kAutoDeltaStagesPerSource) + " on a table; incview.set_engine('" +
         stage + "', 'auto') lets it choose (docs/engines.md)";
}

std::string delta_write_cost_detail(const std::string& source, long delta_stages) {
  return source + " has " + stages_text(delta_stages) + ": " + kMeasured;
}

}  // namespace incview
