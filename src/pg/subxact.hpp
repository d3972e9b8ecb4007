// Runs a step in an internal subtransaction, the way PL/pgSQL runs an EXCEPTION block:
// on error the step's writes (including the dirty keys it consumed) roll back and the
// error message is returned, so the caller can log it and go on.
#pragma once
#include "pg/guard.hpp"

namespace incview::pg {

template <typename F>
std::optional<std::string> in_subtransaction(F&& body) {
  MemoryContext cxt = CurrentMemoryContext;
  ResourceOwner owner = CurrentResourceOwner;
  pg_call([&] { BeginInternalSubTransaction(nullptr); });
  MemoryContextSwitchTo(cxt);
  std::optional<std::string> error;
  try {
    body();
  } catch (const PgError& e) {
    error = e.what();
  } catch (const std::exception& e) {
    error = e.what();
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
