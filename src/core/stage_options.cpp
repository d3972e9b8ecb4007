#include "core/stage_options.hpp"

#include <array>
#include <utility>

#include "core/error.hpp"

namespace incview {

namespace {

#define INCVIEW_ROW(e, name) std::pair{Type::e, name},

template <typename Type, size_t N>
const char* name_of(const std::array<std::pair<Type, const char*>, N>& table, Type value) {
  for (const auto& [v, name] : table)
    if (v == value) return name;
  return "";
}

template <typename Type, size_t N>
std::optional<Type> value_of(const std::array<std::pair<Type, const char*>, N>& table, std::string_view name) {
  for (const auto& [v, n] : table)
    if (name == n) return v;
  return std::nullopt;
}

// "a, b, c and d"
template <typename Type, size_t N>
std::string names_of(const std::array<std::pair<Type, const char*>, N>& table) {
  std::string out;
  for (size_t i = 0; i < N; ++i) {
    if (i > 0) out += i + 1 == N ? " and " : ", ";
    out += table[i].second;
  }
  return out;
}

template <typename Type>
struct Names;
template <>
struct Names<Engine> {
  using Type = Engine;
  static constexpr std::array table{INCVIEW_ENGINES(INCVIEW_ROW)};
};
template <>
struct Names<Policy> {
  using Type = Policy;
  static constexpr std::array table{INCVIEW_POLICIES(INCVIEW_ROW)};
};
template <>
struct Names<PartitionMethod> {
  using Type = PartitionMethod;
  static constexpr std::array table{INCVIEW_PARTITION_METHODS(INCVIEW_ROW)};
};

#undef INCVIEW_ROW

}  // namespace

const char* to_string(Engine engine) { return name_of(Names<Engine>::table, engine); }
const char* to_string(Policy policy) { return name_of(Names<Policy>::table, policy); }
const char* to_string(PartitionMethod method) { return name_of(Names<PartitionMethod>::table, method); }

std::optional<Engine> parse_engine(std::string_view name) { return value_of(Names<Engine>::table, name); }
std::optional<Policy> parse_policy(std::string_view name) { return value_of(Names<Policy>::table, name); }
std::optional<PartitionMethod> parse_partition_method(std::string_view name) {
  return value_of(Names<PartitionMethod>::table, name);
}

std::string engine_names() { return names_of(Names<Engine>::table); }
std::string policy_names() { return names_of(Names<Policy>::table); }

Engine engine_or_throw(std::string_view name) {
  if (auto e = parse_engine(name)) return *e;
  throw Error(sqlstate::kInvalidParameterValue, "unknown engine \"" + std::string(name) + "\"",
              "engines are " + engine_names());
}

Policy policy_or_throw(std::string_view name) {
  if (auto p = parse_policy(name)) return *p;
  throw Error(sqlstate::kInvalidParameterValue, "unknown policy \"" + std::string(name) + "\"",
              "policies are " + policy_names());
}

}  // namespace incview
