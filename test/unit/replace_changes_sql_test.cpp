#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/replace_changes_sql.hpp"
#include "stage_shapes.hpp"
#include "test_util.hpp"

using namespace incview;
using incview::test::contains;
using incview::test::keyed_stage;

namespace {

const std::vector<std::string> kTypes = {"bigint", "integer", "pg_catalog.text"};

}  // namespace

TEST(ReplaceChangesSql, OnlyWithAUniqueKey) {
  StageShape s = keyed_stage();
  EXPECT_TRUE(replace_writes_changes(s));
  s.unique_key.clear();
  EXPECT_FALSE(replace_writes_changes(s));
  EXPECT_THROW(replace_changes_scoped(StageSql(s), {false}, false, kTypes), Error);
  EXPECT_THROW(replace_changes_scoped(StageSql(keyed_stage()), {false}, false, {"bigint"}), Error);
}

// Deletes rows without an identical fresh row, inserts fresh rows without an identical
// current row after the delete, both paired by the unique key's `=` and compared by `*=` on
// rows cast to the compare types; our operators qualified.
TEST(ReplaceChangesSql, Statement) {
  const std::string q = replace_changes_scoped(StageSql(keyed_stage()), {false}, false, kTypes);
  EXPECT_TRUE(contains(q,
                       "WITH incview_fresh AS MATERIALIZED (SELECT f.*, ROW(f.\"patient_id\"::bigint, "
                       "f.\"product_id\"::integer, f.\"n\"::pg_catalog.text) AS incview_img FROM (SELECT"))
      << q;
  EXPECT_TRUE(contains(q,
                       "incview_gone AS (DELETE FROM \"public\".\"due\" AS t WHERE t.\"patient_id\" = "
                       "ANY($1::bigint[]) AND NOT EXISTS (SELECT 1 FROM incview_fresh AS f WHERE f.\"patient_id\" = "
                       "t.\"patient_id\" AND f.\"product_id\" = t.\"product_id\" AND f.incview_img "
                       "OPERATOR(pg_catalog.*=) ROW(t.\"patient_id\"::bigint"))
      << q;
  EXPECT_TRUE(contains(q,
                       "INSERT INTO \"public\".\"due\" (\"patient_id\", \"product_id\", \"n\") SELECT "
                       "f.\"patient_id\", f.\"product_id\", f.\"n\" FROM incview_fresh AS f WHERE (SELECT "
                       "pg_catalog.count(*) FROM incview_gone) OPERATOR(pg_catalog.>=) 0 AND NOT EXISTS"))
      << q;
  EXPECT_TRUE(contains(q, "trailing comment\n)")) << q;
  // One key: the one-key filter on both sides.
  const std::string one = replace_changes_scoped(StageSql(keyed_stage()), {false}, true, kTypes);
  EXPECT_TRUE(contains(one, "AS t WHERE t.\"patient_id\" = ($1::bigint[])[1] AND NOT EXISTS")) << one;
  EXPECT_FALSE(contains(one, "ANY(")) << one;
}

// A user column named like one of ours does not collide with it.
TEST(ReplaceChangesSql, OwnColumnNamesAvoidTheUsers) {
  StageShape s = keyed_stage();
  s.columns = {"patient_id", "product_id", "incview_img"};
  const std::string q = replace_changes_scoped(StageSql(s), {false}, false, {"bigint", "integer", "text"});
  EXPECT_TRUE(contains(q, "AS incview_img_ FROM")) << q;
  EXPECT_TRUE(contains(q, "AND f.incview_img_ OPERATOR(pg_catalog.*=)")) << q;
}
