#pragma once
// Stage shapes shared by the unit tests of the generated refresh SQL.
#include "core/stage_sql.hpp"

namespace incview::test {

// The vet stage's shape: scope patient_id, unique key (patient_id, product_id).
inline StageShape keyed_stage() {
  StageShape s;
  s.query = "SELECT patient_id, product_id, n FROM t -- trailing comment";
  s.target = "\"public\".\"due\"";
  s.columns = {"patient_id", "product_id", "n"};
  s.scope = {{"patient_id", "bigint"}};
  s.unique_key = {"patient_id", "product_id"};
  return s;
}

}  // namespace incview::test
