// The one exception type src/core throws. It carries what a PostgreSQL ERROR needs,
// so the entry guard in src/pg can report it with the right SQLSTATE, detail and hint.
#pragma once
#include "core/no_postgres.hpp"

#include <stdexcept>
#include <string>

namespace incview {

// SQLSTATE codes we raise ourselves (five characters, as in PostgreSQL's errcodes.txt).
namespace sqlstate {
inline constexpr const char* kInvalidParameterValue = "22023";
inline constexpr const char* kUndefinedColumn = "42703";
inline constexpr const char* kUndefinedObject = "42704";
inline constexpr const char* kDuplicateObject = "42710";
inline constexpr const char* kDuplicateTable = "42P07";
inline constexpr const char* kSyntaxError = "42601";
inline constexpr const char* kWrongObjectType = "42809";
inline constexpr const char* kFeatureNotSupported = "0A000";
inline constexpr const char* kInvalidRecursion = "42P19";
inline constexpr const char* kDependentObjectsStillExist = "2BP01";
inline constexpr const char* kInsufficientPrivilege = "42501";
inline constexpr const char* kObjectInUse = "55006";
inline constexpr const char* kObjectNotInPrerequisiteState = "55000";
inline constexpr const char* kNullValueNotAllowed = "22004";
inline constexpr const char* kCheckViolation = "23514";
inline constexpr const char* kTriggerProtocolViolated = "39P01";
inline constexpr const char* kInvalidSchemaName = "3F000";
inline constexpr const char* kNameTooLong = "42622";
inline constexpr const char* kDatatypeMismatch = "42804";
inline constexpr const char* kInternalError = "XX000";
}  // namespace sqlstate

class Error : public std::runtime_error {
 public:
  Error(std::string sqlstate, const std::string& message, std::string detail = {}, std::string hint = {})
      : std::runtime_error(message),
        sqlstate_(std::move(sqlstate)),
        detail_(std::move(detail)),
        hint_(std::move(hint)) {}

  const std::string& sqlstate() const noexcept { return sqlstate_; }
  const std::string& detail() const noexcept { return detail_; }
  const std::string& hint() const noexcept { return hint_; }

 private:
  std::string sqlstate_;
  std::string detail_;
  std::string hint_;
};

}  // namespace incview
