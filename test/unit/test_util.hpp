#pragma once
// Helpers shared by the unit tests of src/core.
#include <string>

namespace incview::test {

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace incview::test
