#include "pg/support/guard.hpp"

namespace incview::pg::detail {

void copy_out(char* dst, size_t size, const char* src) noexcept {
  if (!src) src = "";
  strlcpy(dst, src, size);
}

int sqlstate_code(const std::string& s) noexcept {
  if (s.size() != 5) return ERRCODE_INTERNAL_ERROR;
  return MAKE_SQLSTATE(s[0], s[1], s[2], s[3], s[4]);
}

void raise(const CaughtError& e) {
  if (e.pg) ReThrowError(e.pg);
  ereport(ERROR, (errcode(e.sqlerrcode), errmsg("%s", e.message), e.detail[0] ? errdetail("%s", e.detail) : 0,
                  e.hint[0] ? errhint("%s", e.hint) : 0));
  pg_unreachable();
}

}  // namespace incview::pg::detail
