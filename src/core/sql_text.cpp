#include "core/sql_text.hpp"

#include "core/error.hpp"

#include <cctype>

namespace incview {

std::string quote_ident(const std::string& name) {
  std::string out;
  out.reserve(name.size() + 2);
  out.push_back('"');
  for (char c : name) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string quote_literal(const std::string& value) {
  const bool has_backslash = value.find('\\') != std::string::npos;
  std::string out;
  out.reserve(value.size() + 3);
  if (has_backslash) out.push_back('E');
  out.push_back('\'');
  for (char c : value) {
    if (c == '\'' || (c == '\\' && has_backslash)) out.push_back(c);
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

std::string quote_qualified(const std::string& schema, const std::string& name) {
  if (schema.empty()) return quote_ident(name);
  return quote_ident(schema) + "." + quote_ident(name);
}

std::vector<std::string> split_qualified_name(const std::string& text) {
  std::vector<std::string> parts;
  size_t i = 0;
  const size_t n = text.size();
  auto fail = [&](const std::string& why) {
    throw Error(sqlstate::kSyntaxError, "invalid name syntax: \"" + text + "\"", why);
  };
  auto skip_space = [&] {
    while (i < n && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  };
  skip_space();
  while (true) {
    std::string part;
    if (i < n && text[i] == '"') {
      ++i;
      bool closed = false;
      while (i < n) {
        if (text[i] == '"') {
          if (i + 1 < n && text[i + 1] == '"') {
            part.push_back('"');
            i += 2;
            continue;
          }
          ++i;
          closed = true;
          break;
        }
        part.push_back(text[i++]);
      }
      if (!closed) fail("unterminated quoted identifier");
      if (part.empty()) fail("zero-length quoted identifier");
    } else {
      while (i < n && text[i] != '.' && !std::isspace(static_cast<unsigned char>(text[i]))) {
        const char c = text[i++];
        if (c == '"') fail("quote inside an unquoted identifier");
        // PostgreSQL folds only ASCII letters of unquoted names.
        part.push_back((c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c);
      }
      if (part.empty()) fail("empty name part");
    }
    parts.push_back(part);
    skip_space();
    if (i >= n) break;
    if (text[i] != '.') fail("unexpected character after name");
    ++i;
    skip_space();
  }
  if (parts.size() > 2) fail("at most schema.name is allowed");
  return parts;
}

std::string column_list(const std::vector<std::string>& columns, const std::string& alias) {
  std::string out;
  for (size_t i = 0; i < columns.size(); ++i) {
    if (i) out += ", ";
    if (!alias.empty()) out += alias + ".";
    out += quote_ident(columns[i]);
  }
  return out;
}

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

}  // namespace incview

namespace incview {

std::string json_string_array(const std::vector<std::string>& values) {
  static const char* hex = "0123456789abcdef";
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ",";
    out += '"';
    for (unsigned char c : values[i]) {
      if (c == '"' || c == '\\') {
        out += '\\';
        out += static_cast<char>(c);
      } else if (c < 0x20) {
        out += "\\u00";
        out += hex[c >> 4];
        out += hex[c & 15];
      } else {
        out += static_cast<char>(c);
      }
    }
    out += '"';
  }
  return out + "]";
}

}  // namespace incview
