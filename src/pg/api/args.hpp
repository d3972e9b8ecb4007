// Reading SQL function arguments into C++ values (through the exit guard).
#pragma once
#include "pg/support/pg_headers.hpp"

namespace incview::pg {

std::optional<std::string> arg_text(FunctionCallInfo fcinfo, int n);
// ERROR 22004-style (null_value_not_allowed) naming the parameter when NULL or empty.
std::string required_text(FunctionCallInfo fcinfo, int n, const char* param);
// NULL array reads as empty; NULL elements are refused.
std::vector<std::string> arg_text_array(FunctionCallInfo fcinfo, int n, const char* param);
bool arg_bool(FunctionCallInfo fcinfo, int n, bool fallback);

// Text result, palloc'd.
Datum text_result(const std::string& value);

}  // namespace incview::pg
