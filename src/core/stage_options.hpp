// The closed sets of words a stage is configured with: its engine, its refresh policy and
// its partition method. Each set is written once, as a list below: adding a value is one
// line in its list (plus the code that gives it meaning). Parsing and printing come from
// that list, so error hints and catalog values can never disagree with the parser.
#pragma once
#include "core/no_postgres.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace incview {

// X(Enumerator, "name as stored in incview.stage and accepted by the SQL API")
#define INCVIEW_ENGINES(X) \
  X(Auto, "auto")          \
  X(Replace, "replace")    \
  X(Diff, "diff")          \
  X(Full, "full")          \
  X(Delta, "delta")

#define INCVIEW_POLICIES(X)   \
  X(Continuous, "continuous") \
  X(Interval, "interval")     \
  X(Daily, "daily")           \
  X(Manual, "manual")

// None is the unpartitioned stage (partition_by NULL); it has no name of its own.
#define INCVIEW_PARTITION_METHODS(X) \
  X(List, "list")                    \
  X(Hash, "hash")                    \
  X(Range, "range")

#define INCVIEW_ENUMERATOR(e, name) e,
enum class Engine { INCVIEW_ENGINES(INCVIEW_ENUMERATOR) };
enum class Policy { INCVIEW_POLICIES(INCVIEW_ENUMERATOR) };
enum class PartitionMethod { None, INCVIEW_PARTITION_METHODS(INCVIEW_ENUMERATOR) };
#undef INCVIEW_ENUMERATOR

const char* to_string(Engine engine);
const char* to_string(Policy policy);
const char* to_string(PartitionMethod method);  // "" for None

// Exact, lower-case names (as stored); nullopt for anything else.
std::optional<Engine> parse_engine(std::string_view name);
std::optional<Policy> parse_policy(std::string_view name);
std::optional<PartitionMethod> parse_partition_method(std::string_view name);  // never None

// "auto, replace, diff and full": for the hints of errors that reject a name.
std::string engine_names();
std::string policy_names();

// Throw Error(22023) naming the accepted values (what the SQL API reports).
Engine engine_or_throw(std::string_view name);
Policy policy_or_throw(std::string_view name);

}  // namespace incview
