// Runs a step in an internal subtransaction, the way PL/pgSQL runs an EXCEPTION block:
// on error the step's writes (including the dirty keys it consumed) roll back and the
// error message is returned, so the caller can log it and go on.
#pragma once
#include "pg/support/guard.hpp"

namespace incview::pg {

inline std::string unpack_sqlstate(int code) {
  std::string out(5, '0');
  for (int i = 0; i < 5; ++i) {
    out[i] = static_cast<char>(PGUNSIXBIT(code));
    code >>= 6;
  }
  return out;
}

struct SubxactError {
  std::string message;
  std::string sqlstate;  // five characters
};

template <typename F>
std::optional<SubxactError> in_subtransaction(F&& body) {
  MemoryContext cxt = CurrentMemoryContext;
  ResourceOwner owner = CurrentResourceOwner;
  pg_call([&] { BeginInternalSubTransaction(nullptr); });
  MemoryContextSwitchTo(cxt);
  std::optional<SubxactError> error;
  try {
    body();
  } catch (const PgError& e) {
    error = SubxactError{e.what(), unpack_sqlstate(e.data()->sqlerrcode)};
  } catch (const Error& e) {
    error = SubxactError{e.what(), e.sqlstate()};
  } catch (const std::exception& e) {
    error = SubxactError{e.what(), "XX000"};
  }
  if (!error) {
    pg_call([&] { ReleaseCurrentSubTransaction(); });
  } else {
    pg_call([&] { RollbackAndReleaseCurrentSubTransaction(); });
  }
  MemoryContextSwitchTo(cxt);
  CurrentResourceOwner = owner;
  return error;
}

}  // namespace incview::pg
