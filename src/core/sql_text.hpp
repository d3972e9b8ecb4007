// Quoting and small text helpers for SQL we generate. Every identifier and literal that
// reaches generated SQL goes through here (docs/design.md: quote everything we emit).
#pragma once
#include "core/no_postgres.hpp"

#include <string>
#include <vector>

namespace incview {

// Always double-quotes, doubling embedded quotes: "a""b". Quoting unconditionally is
// valid SQL for every name and avoids keeping a keyword list in sync with PostgreSQL.
std::string quote_ident(const std::string& name);

// 'text' with quotes doubled; E'' form with doubled backslashes when a backslash occurs,
// so the literal means the same whatever standard_conforming_strings says.
std::string quote_literal(const std::string& value);

// "schema"."name" (schema omitted when empty).
std::string quote_qualified(const std::string& schema, const std::string& name);

// Splits a possibly qualified, possibly quoted name the way PostgreSQL reads it:
// unquoted parts are folded to lower case, quoted parts are kept ("My Schema".tbl).
// Returns one or two parts; throws Error(42601) on malformed input.
std::vector<std::string> split_qualified_name(const std::string& text);

// alias."a", alias."b"  — or without alias: "a", "b"
std::string column_list(const std::vector<std::string>& columns, const std::string& alias = {});

// Joins parts with a separator.
std::string join(const std::vector<std::string>& parts, const std::string& sep);

}  // namespace incview

namespace incview {
// ["a","b"] as JSON text (for passing name lists to SQL as one jsonb parameter).
std::string json_string_array(const std::vector<std::string>& values);
}  // namespace incview
