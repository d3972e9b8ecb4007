#pragma once
// Output columns of a described GROUP BY query, for the unit tests of the delta engine's rules
// (delta_plan_test, delta_direct_test).
#include <string>

#include "core/delta_plan.hpp"

namespace incview::test {

inline DeltaOutput delta_group(const std::string& name, const std::string& type = "text") {
  DeltaOutput o;
  o.name = name;
  o.text = name;
  o.type = type;
  o.group_key = true;
  return o;
}

// A built-in aggregate `fn(arg)` (count(*) when arg is empty) of result type `type`.
inline DeltaOutput delta_agg(const std::string& name, const std::string& fn, const std::string& arg,
                             const std::string& arg_type, const std::string& type = "bigint",
                             bool arg_fixed_scale = false) {
  DeltaOutput o;
  o.name = name;
  o.function = fn;
  o.star = arg.empty();
  o.arg = arg;
  o.arg_type = arg_type;
  o.arg_fixed_scale = arg_fixed_scale;
  o.text = fn + "(" + (arg.empty() ? "*" : arg) + ")";
  o.type = type;
  o.aggregate = true;
  o.builtin = true;
  return o;
}

}  // namespace incview::test
