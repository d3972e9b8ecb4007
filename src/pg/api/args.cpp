#include "pg/api/args.hpp"

#include "core/error.hpp"
#include "pg/support/guard.hpp"

namespace incview::pg {

std::optional<std::string> arg_text(FunctionCallInfo fcinfo, int n) {
  if (PG_NARGS() <= n || PG_ARGISNULL(n)) return std::nullopt;
  char* s = nullptr;
  pg_call([&] { s = text_to_cstring(PG_GETARG_TEXT_PP(n)); });
  return std::string(s);
}

std::string required_text(FunctionCallInfo fcinfo, int n, const char* param) {
  auto v = arg_text(fcinfo, n);
  if (!v || v->empty())
    throw Error(sqlstate::kNullValueNotAllowed, std::string("parameter \"") + param + "\" must not be NULL or empty");
  return *v;
}

std::vector<std::string> arg_text_array(FunctionCallInfo fcinfo, int n, const char* param) {
  std::vector<std::string> out;
  if (PG_NARGS() <= n || PG_ARGISNULL(n)) return out;
  Datum* elems = nullptr;
  bool* nulls = nullptr;
  int count = 0;
  pg_call([&] {
    ArrayType* arr = PG_GETARG_ARRAYTYPE_P(n);
    deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &count);
  });
  for (int i = 0; i < count; ++i) {
    if (nulls[i])
      throw Error(sqlstate::kNullValueNotAllowed, std::string("parameter \"") + param + "\" must not contain NULL");
    char* s = nullptr;
    Datum d = elems[i];
    pg_call([&] { s = TextDatumGetCString(d); });
    out.emplace_back(s);
  }
  return out;
}

bool arg_bool(FunctionCallInfo fcinfo, int n, bool fallback) {
  if (PG_NARGS() <= n || PG_ARGISNULL(n)) return fallback;
  return PG_GETARG_BOOL(n);
}

Datum text_result(const std::string& value) {
  Datum d = 0;
  const char* s = value.c_str();
  pg_call([&] { d = CStringGetTextDatum(s); });
  return d;
}

}  // namespace incview::pg
