// SQL pg_incview builds when DDL changes a source under a capture (stage_ddl.cpp).
#include <gtest/gtest.h>

#include "core/capture_sql.hpp"

using namespace incview;

TEST(CaptureDdl, RenamedScopeColumnReadsTheNewNameUnderTheScopeName) {
  EXPECT_EQ(renamed_same_mapping({"org_id", "patient_id"}, "patient_id", "pid"),
            "SELECT changed.\"org_id\" AS \"org_id\", changed.\"pid\" AS \"patient_id\"");
}

TEST(CaptureDdl, RenamedMappingQuotesNamesThatNeedIt) {
  EXPECT_EQ(renamed_same_mapping({"Patient"}, "Patient", "a \"b\""),
            "SELECT changed.\"a \"\"b\"\"\" AS \"Patient\"");
}

TEST(CaptureDdl, LookupCheckReadsNoRowAndNamesOneColumnPerScopeColumn) {
  CaptureSpec spec;
  spec.kind = MappingKind::Lookup;
  spec.scope = {"org_id", "cluster"};
  spec.mapping = "SELECT o.org_id, o.cluster FROM orders o WHERE o.id = changed.order_id";
  const std::string sql = lookup_check_statement(spec, "\"public\".\"order_lines\"");
  EXPECT_EQ(sql,
            "SELECT m.* FROM (SELECT * FROM \"public\".\"order_lines\" LIMIT 0) AS changed, LATERAL (\n" +
                spec.mapping + "\n) AS m(k1, k2)");
}
