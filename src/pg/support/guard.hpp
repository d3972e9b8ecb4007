// The C++/PostgreSQL error boundary (docs/design.md, "Layers").
//
// Exit guard  pg_call(f): every call from C++ into PostgreSQL goes through it. A PostgreSQL
//   ERROR (a longjmp) is caught with PG_TRY, its ErrorData copied, and turned into a C++
//   PgError so C++ destructors run normally while the stack unwinds.
// Entry guard entry_guard(f): every extern "C" function PostgreSQL calls runs its C++ body
//   inside it. PgError is re-thrown to PostgreSQL unchanged (SQLSTATE, detail, hint kept);
//   incview::Error and other C++ exceptions become a clean ERROR. Messages are copied into
//   fixed buffers inside the catch and raised only after leaving it: a longjmp out of a
//   catch block would skip the exception's cleanup.
#pragma once
#include "pg/support/pg_headers.hpp"

#include <exception>

#include "core/error.hpp"

namespace incview::pg {

class PgError : public std::exception {
 public:
  explicit PgError(ErrorData* data) : data_(data) {}
  const char* what() const noexcept override { return data_ && data_->message ? data_->message : "PostgreSQL error"; }
  ErrorData* data() const noexcept { return data_; }

 private:
  ErrorData* data_;  // palloc'd in the caller's memory context; lives until the re-throw.
};

// Runs f (plain C calls into PostgreSQL, no C++ exceptions, no objects with destructors)
// and converts a PostgreSQL ERROR into PgError.
template <typename F>
void pg_call(F&& f) {
  MemoryContext cxt = CurrentMemoryContext;
  ErrorData* volatile edata = nullptr;
  PG_TRY();
  { f(); }
  PG_CATCH();
  {
    MemoryContextSwitchTo(cxt);
    edata = CopyErrorData();
    FlushErrorState();
  }
  PG_END_TRY();
  if (edata) throw PgError(edata);
}

namespace detail {
struct CaughtError {
  bool failed = false;
  ErrorData* pg = nullptr;
  int sqlerrcode = 0;
  char message[1024] = {0};
  char detail[1024] = {0};
  char hint[512] = {0};
};
void copy_out(char* dst, size_t size, const char* src) noexcept;
int sqlstate_code(const std::string& sqlstate) noexcept;
[[noreturn]] void raise(const CaughtError& e);
}  // namespace detail

template <typename F>
Datum entry_guard(F&& body) {
  detail::CaughtError err;
  try {
    return body();
  } catch (const PgError& e) {
    err.failed = true;
    err.pg = e.data();
  } catch (const incview::Error& e) {
    err.failed = true;
    err.sqlerrcode = detail::sqlstate_code(e.sqlstate());
    detail::copy_out(err.message, sizeof err.message, e.what());
    detail::copy_out(err.detail, sizeof err.detail, e.detail().c_str());
    detail::copy_out(err.hint, sizeof err.hint, e.hint().c_str());
  } catch (const std::bad_alloc&) {
    err.failed = true;
    err.sqlerrcode = ERRCODE_OUT_OF_MEMORY;
    detail::copy_out(err.message, sizeof err.message, "pg_incview: out of memory");
  } catch (const std::exception& e) {
    err.failed = true;
    err.sqlerrcode = ERRCODE_INTERNAL_ERROR;
    detail::copy_out(err.message, sizeof err.message, e.what());
  } catch (...) {
    err.failed = true;
    err.sqlerrcode = ERRCODE_INTERNAL_ERROR;
    detail::copy_out(err.message, sizeof err.message, "pg_incview: unknown C++ exception");
  }
  detail::raise(err);  // outside every catch block
}

}  // namespace incview::pg
