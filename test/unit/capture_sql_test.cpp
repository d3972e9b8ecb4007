// capture_statement, table_keys_statement and the SQL built when DDL changes a source
// under a capture (stage_ddl.cpp).
#include <gtest/gtest.h>

#include "core/capture_sql.hpp"
#include "core/error.hpp"
#include "test_util.hpp"

using namespace incview;
using incview::test::contains;

TEST(CaptureSql, SameMappingReadsTheRightTransitionTables) {
  CaptureSpec spec{MappingKind::Same, {"org_id", "cluster"}, ""};
  const std::string ins = capture_statement(spec, CaptureEvent::Insert);
  EXPECT_TRUE(contains(ins, "FROM incview_new n"));
  EXPECT_FALSE(contains(ins, "incview_old"));
  const std::string upd = capture_statement(spec, CaptureEvent::Update);
  EXPECT_TRUE(
      contains(upd, "FROM incview_new n UNION SELECT o.\"org_id\", o.\"cluster\" FROM incview_old o"));  // deduplicated
  EXPECT_TRUE(contains(upd, "incview_old o"));
  // Distinct raw values first, one jsonb key per distinct value.
  EXPECT_TRUE(contains(capture_statement(spec, CaptureEvent::Delete),
                       "SELECT pg_catalog.jsonb_build_array(c1, c2) AS key FROM (SELECT DISTINCT o.\"org_id\", "
                       "o.\"cluster\" FROM incview_old o) AS d(c1, c2)"));
  EXPECT_TRUE(contains(ins, "n.c OPERATOR(pg_catalog.>) $2"));  // the every-scope marker
}

TEST(CaptureSql, SmallStatementsSkipTheMarkerAndSingleRowsSkipDeduplication) {
  CaptureSpec spec{MappingKind::Same, {"patient_id"}, ""};
  const std::string one = capture_statement(spec, CaptureEvent::Insert, CaptureSize::One);
  EXPECT_FALSE(contains(one, "DISTINCT"));
  EXPECT_FALSE(contains(one, "count("));
  EXPECT_TRUE(contains(one,
                       "FROM (SELECT pg_catalog.jsonb_build_array(c1) AS key FROM (SELECT n.\"patient_id\" FROM "
                       "incview_new n) AS d(c1)) AS k"));
  const std::string few = capture_statement(spec, CaptureEvent::Delete, CaptureSize::Few);
  EXPECT_TRUE(contains(few, "SELECT DISTINCT o.\"patient_id\" FROM incview_old o"));
  EXPECT_FALSE(contains(few, "count("));
  // An update's old and new keys are deduplicated whatever the size (UNION).
  EXPECT_TRUE(contains(capture_statement(spec, CaptureEvent::Update, CaptureSize::One), "incview_new n UNION SELECT"));
  EXPECT_FALSE(contains(capture_statement(spec, CaptureEvent::Update, CaptureSize::Few), "DISTINCT"));  // UNION does it
  // Every variant takes $1 and $2, so one parameter list fits all.
  for (auto size : {CaptureSize::One, CaptureSize::Few, CaptureSize::Many})
    EXPECT_TRUE(contains(capture_statement(spec, CaptureEvent::Insert, size), "$2::pg_catalog.int8"));
}

TEST(CaptureSql, TruncateAndAllQueueTheMarker) {
  CaptureSpec same{MappingKind::Same, {"a"}, ""};
  EXPECT_TRUE(contains(capture_statement(same, CaptureEvent::Truncate), "VALUES ($1::pg_catalog.int4, NULL)"));
  CaptureSpec all{MappingKind::All, {"a"}, ""};
  const std::string del = capture_statement(all, CaptureEvent::Delete);
  EXPECT_TRUE(contains(del, "EXISTS (SELECT 1 FROM incview_old)"));
  EXPECT_FALSE(contains(del, "incview_new"));
}

TEST(CaptureSql, LookupRunsTheMappingPerChangedRow) {
  CaptureSpec spec{MappingKind::Lookup,
                   {"patient_id"},
                   "SELECT o.patient_id FROM orders o WHERE o.id = changed.order_id"};
  const std::string q = lookup_keys_statement(spec, CaptureEvent::Update);
  EXPECT_TRUE(
      contains(q, "FROM (SELECT * FROM incview_old UNION ALL SELECT * FROM incview_new) AS changed, LATERAL ("));
  EXPECT_TRUE(contains(q, ") AS m(k1)"));
  EXPECT_TRUE(contains(q, "jsonb_build_array(m.k1)"));
  EXPECT_THROW(capture_statement(spec, CaptureEvent::Insert), Error);
}

TEST(CaptureSql, LookupKeysAreCappedBeforeDeduplication) {
  // A mapping fanning one row out to millions of keys must stop at the cap ($1), which
  // applies to the raw rows (below DISTINCT), and report how many it read.
  CaptureSpec spec{MappingKind::Lookup, {"tag"}, "SELECT g FROM generate_series(1, 2000000) g"};
  const std::string q = lookup_keys_statement(spec, CaptureEvent::Insert);
  EXPECT_TRUE(contains(q, ") AS m(k1) LIMIT $1::pg_catalog.int8) AS r"));
  EXPECT_TRUE(contains(q, "pg_catalog.array_agg(DISTINCT r.key), pg_catalog.count(*)"));
}

TEST(CaptureSql, OwnerKeysDeriveTheSameKeysWithoutQueueing) {
  // Owner-typed scope columns: the keys are computed (DISTINCT, jsonb_build_array) in a
  // statement that touches no pg_incview table, so it can run as the stage owner.
  CaptureSpec spec{MappingKind::Same, {"mood"}, ""};
  const std::string q = owner_keys_statement(spec, CaptureEvent::Update);
  EXPECT_FALSE(contains(q, "incview.dirty_scope"));
  EXPECT_TRUE(contains(q, "incview_new n UNION SELECT"));
  EXPECT_TRUE(contains(q, "pg_catalog.jsonb_build_array(c1)"));
  EXPECT_TRUE(contains(q, "$1::pg_catalog.int8"));
  EXPECT_THROW(owner_keys_statement(spec, CaptureEvent::Truncate), Error);
  EXPECT_THROW(owner_keys_statement(CaptureSpec{MappingKind::All, {"mood"}, ""}, CaptureEvent::Insert), Error);
  // Phase 2 queues a jsonb[] and nothing else: only jsonb as the extension owner.
  EXPECT_TRUE(contains(queue_keys_statement(), "pg_catalog.unnest($3::pg_catalog.jsonb[])"));
}

TEST(CaptureSql, TableKeysReadAWholePartitionUpToTheCap) {
  // A partition leaving a source (DROP/DETACH): its distinct scope values, at most $1 of
  // them, read from the table itself; the same key shape as capture's.
  CaptureSpec same{MappingKind::Same, {"patient_id", "clinic"}, ""};
  const std::string q = table_keys_statement(same, "public.\"events 2026\"");
  EXPECT_TRUE(contains(
      q, "SELECT DISTINCT t.\"patient_id\", t.\"clinic\" FROM public.\"events 2026\" t LIMIT $1::pg_catalog.int8"));
  EXPECT_TRUE(contains(q, "pg_catalog.jsonb_build_array(c1, c2) AS key"));
  EXPECT_FALSE(contains(q, "incview.dirty_scope"));
  // Lookup: the mapping over every row of the table, capped like a statement's capture.
  CaptureSpec lookup{MappingKind::Lookup, {"tag"}, "SELECT t.tag FROM tags t WHERE t.doc = changed.id"};
  const std::string l = table_keys_statement(lookup, "public.docs_1");
  EXPECT_TRUE(contains(l, "FROM (SELECT * FROM public.docs_1) AS changed, LATERAL ("));
  EXPECT_TRUE(contains(l, ") AS m(c1) LIMIT $1::pg_catalog.int8) AS r"));
  EXPECT_THROW(table_keys_statement(CaptureSpec{MappingKind::All, {"k"}, ""}, "t"), Error);
}

TEST(CaptureDdl, RenamedScopeColumnReadsTheNewNameUnderTheScopeName) {
  EXPECT_EQ(renamed_same_mapping({"org_id", "patient_id"}, "patient_id", "pid"),
            "SELECT changed.\"org_id\" AS \"org_id\", changed.\"pid\" AS \"patient_id\"");
}

TEST(CaptureDdl, RenamedMappingQuotesNamesThatNeedIt) {
  EXPECT_EQ(renamed_same_mapping({"Patient"}, "Patient", "a \"b\""), "SELECT changed.\"a \"\"b\"\"\" AS \"Patient\"");
}

TEST(CaptureDdl, LookupCheckReadsNoRowAndNamesOneColumnPerScopeColumn) {
  CaptureSpec spec;
  spec.kind = MappingKind::Lookup;
  spec.scope = {"org_id", "cluster"};
  spec.mapping = "SELECT o.org_id, o.cluster FROM orders o WHERE o.id = changed.order_id";
  const std::string sql = lookup_check_statement(spec, "\"public\".\"order_lines\"");
  EXPECT_EQ(sql, "SELECT m.* FROM (SELECT * FROM \"public\".\"order_lines\" LIMIT 0) AS changed, LATERAL (\n" +
                     spec.mapping + "\n) AS m(k1, k2)");
}
