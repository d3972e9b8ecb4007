#include <gtest/gtest.h>

#include "core/capture_sql.hpp"
#include "core/error.hpp"
#include "core/refresh_planner.hpp"
#include "core/stage_sql.hpp"

using namespace incview;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

StageShape single() {
  StageShape s;
  s.query = "SELECT patient_id, product_id, n FROM t -- trailing comment";
  s.target = "\"public\".\"due\"";
  s.columns = {"patient_id", "product_id", "n"};
  s.scope = {{"patient_id", "bigint"}};
  s.unique_key = {"patient_id", "product_id"};
  return s;
}

StageShape composite() {
  StageShape s;
  s.query = "SELECT org_id, cluster, id FROM reports";
  s.target = "\"public\".\"latest\"";
  s.columns = {"org_id", "cluster", "id"};
  s.scope = {{"org_id", "integer"}, {"cluster", "text"}};
  return s;
}

}  // namespace

TEST(StageSql, NeedsAScope) {
  StageShape s = single();
  s.scope.clear();
  EXPECT_THROW(StageSql{s}, Error);
}

TEST(StageSql, ScopeFilterIsPushableAny) {
  StageSql sql(single());
  EXPECT_EQ(sql.scope_filter("s", {false}), "s.\"patient_id\" = ANY($1::bigint[])");
  EXPECT_EQ(sql.scope_filter("s", {true}), "(s.\"patient_id\" = ANY($1::bigint[]) OR s.\"patient_id\" IS NULL)");
}

TEST(StageSql, TrailingCommentCannotSwallowTheParenthesis) {
  StageSql sql(single());
  const std::string q = sql.select_scoped({false});
  EXPECT_TRUE(contains(q, "-- trailing comment\n) AS s WHERE")) << q;
}

TEST(StageSql, CompositeFilterHasPerColumnAnyAndExactTuples) {
  StageSql sql(composite());
  const std::string f = sql.scope_filter("s", {false, false});
  EXPECT_TRUE(contains(f, "s.\"org_id\" = ANY($1::integer[])"));
  EXPECT_TRUE(contains(f, "s.\"cluster\" = ANY($2::text[])"));
  EXPECT_TRUE(contains(f, "(s.\"org_id\", s.\"cluster\") IN (SELECT * FROM unnest($1::integer[], $2::text[]))"));
  const std::string n = sql.scope_filter("s", {false, true});
  EXPECT_TRUE(contains(n, "(s.\"cluster\" = ANY($2::text[]) OR s.\"cluster\" IS NULL)"));
  EXPECT_TRUE(contains(n, "k.k2 IS NOT DISTINCT FROM s.\"cluster\""));
}

TEST(StageSql, ReplaceStatements) {
  StageSql sql(single());
  EXPECT_EQ(sql.delete_scoped({false}), "DELETE FROM \"public\".\"due\" AS t WHERE t.\"patient_id\" = ANY($1::bigint[])");
  EXPECT_TRUE(contains(sql.insert_scoped({false}), "INSERT INTO \"public\".\"due\" (\"patient_id\", \"product_id\", \"n\") SELECT s.\"patient_id\""));
}

TEST(StageSql, DiffPairsByUniqueKeyAndUpdatesOnlyChangedRows) {
  StageSql sql(single());
  const std::string d = sql.diff_scoped({false});
  EXPECT_TRUE(contains(d, "ROW(f.\"patient_id\", f.\"product_id\")::text AS incview_key"));  // hashable
  EXPECT_TRUE(contains(d, "WHERE f.incview_row IS DISTINCT FROM c.incview_row"));
  EXPECT_TRUE(contains(d, "SET \"n\" = p.\"n\""));
  // Rows to change are reached through the scope filter, then matched by key.
  EXPECT_TRUE(contains(d, "WHERE t.\"patient_id\" = ANY($1::bigint[]) AND ROW(t.\"patient_id\", t.\"product_id\")::text = p.incview_key"));
  EXPECT_FALSE(contains(d, "ctid"));
  EXPECT_FALSE(contains(d, "SET \"patient_id\""));
}

TEST(StageSql, DiffWithoutUniqueKeyPairsCopiesOfWholeRows) {
  StageShape s = single();
  s.unique_key.clear();
  const std::string d = StageSql(s).diff_scoped({false});
  // Copies per value, counted by the whole row's text form on both sides.
  EXPECT_TRUE(contains(d, "ROW(f.\"patient_id\", f.\"product_id\", f.\"n\")::text AS incview_row"));
  EXPECT_TRUE(contains(d, "ROW(t.\"patient_id\", t.\"product_id\", t.\"n\")::text AS incview_row"));
  EXPECT_TRUE(contains(d, "SELECT f.incview_row, 1 AS incview_n FROM fresh f UNION ALL SELECT c.incview_row, -1 FROM cur c"));
  EXPECT_TRUE(contains(d, "HAVING pg_catalog.sum(u.incview_n) OPERATOR(pg_catalog.<>) 0"));
  // Surplus copies are deleted by (tableoid, ctid), reached through the scope filter,
  // only as many as the count dropped.
  EXPECT_TRUE(contains(d, "DELETE FROM \"public\".\"due\" AS t WHERE t.\"patient_id\" = ANY($1::bigint[]) AND "
                          "(t.tableoid, t.ctid) IN (SELECT x.incview_toid, x.incview_tid FROM"));
  EXPECT_TRUE(contains(d, "x.incview_k OPERATOR(pg_catalog.<=) OPERATOR(pg_catalog.-) x.incview_n"));
  EXPECT_TRUE(contains(d, "x.incview_k OPERATOR(pg_catalog.<=) x.incview_n RETURNING 1"));
  // The query's rows travel as one anonymous record: no name of ours meets a user's column.
  EXPECT_TRUE(contains(d, "SELECT ROW(f.\"patient_id\", f.\"product_id\", f.\"n\") AS incview_rec"));
  EXPECT_TRUE(contains(d, "SELECT (x.incview_rec).f1, (x.incview_rec).f2, (x.incview_rec).f3 FROM"));
  EXPECT_FALSE(contains(d, "UPDATE"));
  EXPECT_FALSE(contains(d, "incview_key"));
  EXPECT_TRUE(contains(d, "0::bigint"));
  // The whole-table form has no scope filter on the target.
  const std::string all = StageSql(s).diff_all();
  EXPECT_TRUE(contains(all, "DELETE FROM \"public\".\"due\" AS t WHERE (t.tableoid, t.ctid) IN"));
  EXPECT_TRUE(contains(all, "FROM \"public\".\"due\" AS t),"));
}

TEST(StageSql, DiffWithOnlyKeyColumnsHasNoUpdate) {
  StageShape s = single();
  s.columns = {"patient_id", "product_id"};
  const std::string d = StageSql(s).diff_scoped({false});
  EXPECT_FALSE(contains(d, "UPDATE"));
  EXPECT_TRUE(contains(d, "0::bigint"));
}

TEST(StageSql, LiteralBatchReplacesHighParamsFirst) {
  StageSql sql(composite());
  const std::string q = sql.select_scoped_literal({"{1,2}", "{a,b'c}"}, {false, false});
  EXPECT_FALSE(contains(q, "$1")) << q;
  EXPECT_FALSE(contains(q, "$2")) << q;
  EXPECT_TRUE(contains(q, "'{1,2}'::integer[]"));
  EXPECT_TRUE(contains(q, "'{a,b''c}'::text[]"));
}

TEST(StageSql, KeysFromJsonAcceptScalarsOnlyForSingleColumn) {
  EXPECT_TRUE(contains(StageSql(single()).keys_from_json(), "ELSE e #>> '{}' END)::bigint"));
  EXPECT_TRUE(contains(StageSql(composite()).keys_from_json(), "ELSE NULL END)::text"));
  EXPECT_TRUE(contains(StageSql(composite()).check_json_keys(), "jsonb_array_length(e) <> 2 ELSE true END"));
}

TEST(StageSql, ColumnNamesAreQuotedEverywhere) {
  StageShape s = single();
  s.columns = {"Weird \"Name\"", "x"};
  s.scope = {{"Weird \"Name\"", "text"}};
  s.unique_key = {"x"};
  StageSql sql(s);
  EXPECT_TRUE(contains(sql.create_scope_index(), "(\"Weird \"\"Name\"\"\")"));
  EXPECT_TRUE(contains(sql.keys_from_json(), "e ->> 'Weird \"Name\"'"));
  EXPECT_TRUE(contains(sql.create_unique_index(), "NULLS NOT DISTINCT"));
}

TEST(CaptureSql, SameMappingReadsTheRightTransitionTables) {
  CaptureSpec spec{MappingKind::Same, {"org_id", "cluster"}, ""};
  const std::string ins = capture_statement(spec, CaptureEvent::Insert);
  EXPECT_TRUE(contains(ins, "FROM incview_new n"));
  EXPECT_FALSE(contains(ins, "incview_old"));
  const std::string upd = capture_statement(spec, CaptureEvent::Update);
  EXPECT_TRUE(contains(upd, "FROM incview_new n UNION SELECT o.\"org_id\", o.\"cluster\" FROM incview_old o"));  // deduplicated
  EXPECT_TRUE(contains(upd, "incview_old o"));
  // Distinct raw values first, one jsonb key per distinct value.
  EXPECT_TRUE(contains(capture_statement(spec, CaptureEvent::Delete),
                       "SELECT pg_catalog.jsonb_build_array(c1, c2) AS key FROM (SELECT DISTINCT o.\"org_id\", o.\"cluster\" FROM incview_old o) AS d(c1, c2)"));
  EXPECT_TRUE(contains(ins, "n.c OPERATOR(pg_catalog.>) $2"));  // the every-scope marker
}

TEST(CaptureSql, SmallStatementsSkipTheMarkerAndSingleRowsSkipDeduplication) {
  CaptureSpec spec{MappingKind::Same, {"patient_id"}, ""};
  const std::string one = capture_statement(spec, CaptureEvent::Insert, CaptureSize::One);
  EXPECT_FALSE(contains(one, "DISTINCT"));
  EXPECT_FALSE(contains(one, "count("));
  EXPECT_TRUE(contains(one, "FROM (SELECT pg_catalog.jsonb_build_array(c1) AS key FROM (SELECT n.\"patient_id\" FROM incview_new n) AS d(c1)) AS k"));
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
  CaptureSpec spec{MappingKind::Lookup, {"patient_id"}, "SELECT o.patient_id FROM orders o WHERE o.id = changed.order_id"};
  const std::string q = lookup_keys_statement(spec, CaptureEvent::Update);
  EXPECT_TRUE(contains(q, "FROM (SELECT * FROM incview_old UNION ALL SELECT * FROM incview_new) AS changed, LATERAL ("));
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
  EXPECT_TRUE(contains(q, "SELECT DISTINCT t.\"patient_id\", t.\"clinic\" FROM public.\"events 2026\" t LIMIT $1::pg_catalog.int8"));
  EXPECT_TRUE(contains(q, "pg_catalog.jsonb_build_array(c1, c2) AS key"));
  EXPECT_FALSE(contains(q, "incview.dirty_scope"));
  // Lookup: the mapping over every row of the table, capped like a statement's capture.
  CaptureSpec lookup{MappingKind::Lookup, {"tag"}, "SELECT t.tag FROM tags t WHERE t.doc = changed.id"};
  const std::string l = table_keys_statement(lookup, "public.docs_1");
  EXPECT_TRUE(contains(l, "FROM (SELECT * FROM public.docs_1) AS changed, LATERAL ("));
  EXPECT_TRUE(contains(l, ") AS m(c1) LIMIT $1::pg_catalog.int8) AS r"));
  EXPECT_THROW(table_keys_statement(CaptureSpec{MappingKind::All, {"k"}, ""}, "t"), Error);
}

TEST(RefreshPlanner, ChoosesBatchesOrFull) {
  RefreshInput in;
  in.engine = "auto";
  EXPECT_EQ(plan_refresh(in), RefreshMode::Nothing);
  in.dirty = 10;
  in.total = 100;
  EXPECT_EQ(plan_refresh(in), RefreshMode::Batches);
  in.dirty = 51;
  EXPECT_EQ(plan_refresh(in), RefreshMode::Full);
  in.total = 0;  // unknown size: never guess a rebuild
  EXPECT_EQ(plan_refresh(in), RefreshMode::Batches);
  in.engine = "replace";
  in.total = 100;
  EXPECT_EQ(plan_refresh(in), RefreshMode::Batches);  // only auto switches on the ratio
  in.every_scope = true;
  EXPECT_EQ(plan_refresh(in), RefreshMode::Full);     // a marker always rebuilds
  in = RefreshInput{};
  in.engine = "full";
  in.dirty = 1;
  EXPECT_EQ(plan_refresh(in), RefreshMode::Full);
}

#include "core/graph_dot.hpp"

TEST(GraphDot, TablesStagesAndStageEdges) {
  std::vector<DotStage> stages = {{"up", "public.up", "patient_id", "continuous", 3, false},
                                  {"down \"x\"", "public.down", "location_id", "manual", 0, true}};
  std::vector<DotSource> sources = {{"up", "public.meds", "same", ""},
                                    {"down \"x\"", "public.up", "lookup", "up"}};
  const std::string dot = graph_dot(stages, sources);
  EXPECT_TRUE(contains(dot, "\"table:public.meds\" [shape=box"));
  EXPECT_TRUE(contains(dot, "\"table:public.meds\" -> \"stage:up\";"));
  EXPECT_TRUE(contains(dot, "\"stage:up\" -> \"stage:down \\\"x\\\"\" [label=\"lookup\""));
  EXPECT_FALSE(contains(dot, "table:public.up"));  // a stage's table is drawn as the stage
  EXPECT_TRUE(contains(dot, "dirty: 3"));
  EXPECT_TRUE(contains(dot, "dirty: all"));
  EXPECT_EQ(dot.rfind("digraph incview {", 0), 0u);
}

#include "core/stage_partitioning.hpp"

TEST(StagePartitioning, ParsesTheThreeForms) {
  auto l = parse_partition_by(" LIST (season_competition_id) ");
  EXPECT_EQ(l.method, "list");
  EXPECT_EQ(l.column, "season_competition_id");
  EXPECT_TRUE(l.creates_on_demand());
  auto h = parse_partition_by("hash (patient_id) 16");
  EXPECT_EQ(h.modulus, 16);
  EXPECT_FALSE(h.creates_on_demand());
  auto r = parse_partition_by("range (updated_at) 1 month");
  EXPECT_EQ(r.interval, "1 month");
  EXPECT_FALSE(r.numeric_range);
  EXPECT_TRUE(parse_partition_by("range (id) 100000").numeric_range);
  EXPECT_EQ(parse_partition_by("list (\"Mixed Col\")").column, "Mixed Col");
  EXPECT_FALSE(parse_partition_by("").partitioned());
  EXPECT_EQ(partition_clause(h), " PARTITION BY HASH (\"patient_id\")");
}

TEST(StagePartitioning, RejectsBadInput) {
  for (const char* bad : {"list", "list ()", "tree (a)", "hash (a)", "hash (a) x", "hash (a) 1", "range (a)",
                          "list (a, b)", "range (a) 0", "list (a) 5"}) {
    try {
      parse_partition_by(bad);
      FAIL() << "accepted " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.sqlstate(), "22023") << bad;
    }
  }
}

TEST(StagePartitioning, NamesFitInIdentifiers) {
  EXPECT_EQ(partition_name("stats", "3f2a"), "stats_p_3f2a");
  EXPECT_LE(partition_name(std::string(80, 'x'), "0123456789ab").size(), 63u);
}

TEST(StageSql, RetentionFiltersTheQueryEverywhere) {
  StageShape s = single();
  s.retention_column = "last_at";
  s.retention_keep = "30 days";
  StageSql sql(s);
  EXPECT_TRUE(contains(sql.select_scoped({false}), "AS r WHERE r.\"last_at\" >= now() - '30 days'::interval) AS s WHERE"));
  EXPECT_TRUE(contains(sql.verify(), "r.\"last_at\" >= now() - '30 days'::interval"));
  EXPECT_TRUE(contains(sql.insert_all(), "r.\"last_at\" >= now()"));
  EXPECT_TRUE(contains(sql.delete_expired(500), "t.\"last_at\" < now() - '30 days'::interval LIMIT 500"));
  EXPECT_TRUE(contains(sql.delete_expired(500), "d.tableoid = x.toid AND d.ctid = x.tid"));  // partitions repeat ctids
  EXPECT_THROW(StageSql(single()).delete_expired(1), Error);
}

TEST(StageSql, RebuildRowFilterGoesOutsideTheQuery) {
  StageSql sql(single());
  // Outside the query's parentheses, so it filters (and counts) the query's output rows.
  EXPECT_TRUE(contains(sql.insert_all("incview.progress_row()"), "\n) AS s WHERE incview.progress_row()"));
  EXPECT_TRUE(contains(sql.diff_all("incview.progress_row()"), "\n) AS s WHERE incview.progress_row()) AS f"));
  EXPECT_FALSE(contains(sql.insert_all(), "WHERE"));
  EXPECT_FALSE(contains(sql.diff_all(), "progress_row"));
}

TEST(StageSql, DeclaredIndexDefinitions) {
  StageSql sql(single());
  EXPECT_EQ(sql.create_declared_index("ix", "n DESC"), "CREATE INDEX \"ix\" ON \"public\".\"due\" (n DESC)");
  EXPECT_EQ(sql.create_declared_index("ix", "(a, b DESC)"), "CREATE INDEX \"ix\" ON \"public\".\"due\" (a, b DESC)");
}

#include "core/plan_reach.hpp"

TEST(PlanReach, ReadsIndexBitmapSeqAndUnreachedScans) {
  const std::vector<std::string> plan = {
      "Unique  (cost=1..2 rows=1 width=8)",
      "  ->  Append  (cost=1..2 rows=1 width=8)",
      "        ->  Bitmap Heap Scan on meds  (cost=1..2 rows=1 width=8)",
      "              Recheck Cond: (patient_id = ANY ('{1,2}'::integer[]))",
      "              ->  Bitmap Index Scan on meds_patient_id_idx  (cost=0..1 rows=1 width=0)",
      "                    Index Cond: (patient_id = ANY ('{1,2}'::integer[]))",
      "        ->  Index Scan using shots_pid on shots s  (cost=1..2 rows=1 width=8)",
      "              Index Cond: (patient_id = ANY ('{1,2}'::integer[]))",
      "        ->  Seq Scan on orders  (cost=1..2 rows=1 width=8)",
      "              Filter: (patient_id = ANY ('{1,2}'::integer[]))",
      "  ->  Seq Scan on products p  (cost=0..4 rows=200 width=8)",
      "  ->  Subquery Scan on w  (cost=1..2 rows=1 width=8)",
      "        Filter: (w.patient_id = ANY ('{1,2}'::integer[]))",
      "        ->  WindowAgg  (cost=1..2 rows=1 width=8)",
      "              ->  Seq Scan on visits  (cost=1..2 rows=1 width=8)",
  };
  const std::vector<std::string> lit = {"{1,2}"};
  EXPECT_EQ(scope_reach(plan, "meds", {"patient_id"}, lit), ScopeReach::IndexScan);
  EXPECT_EQ(scope_reach(plan, "shots", {"patient_id"}, lit), ScopeReach::IndexScan);
  EXPECT_EQ(scope_reach(plan, "orders", {"patient_id"}, lit), ScopeReach::FilteredScan);
  EXPECT_EQ(scope_reach(plan, "visits", {"patient_id"}, lit), ScopeReach::NotReached);  // filter sits above the window
  EXPECT_EQ(scope_reach(plan, "products", {"patient_id"}, lit), ScopeReach::NotReached);
  EXPECT_EQ(scope_reach(plan, "absent", {"patient_id"}, lit), ScopeReach::NotRead);
  EXPECT_EQ(scope_reach(plan, "meds", {"patient"}, lit), ScopeReach::NotReached);  // whole identifiers only
  EXPECT_EQ(scope_reach(plan, "med", {"patient_id"}, lit), ScopeReach::NotRead);   // whole table names only
  EXPECT_EQ(scope_reach(plan, "meds", {"patient_id"}, {"{3,4}"}), ScopeReach::NotReached);  // another batch's array
}

// Issue 17: the query's own predicate on the scope column under a LIMIT is not the batch's
// filter (the plan of "... WHERE customer_id > 0 GROUP BY customer_id ORDER BY sum DESC LIMIT 20").
TEST(PlanReach, TheQuerysOwnFilterOnTheScopeColumnIsNotTheBatchFilter) {
  const std::vector<std::string> plan = {
      "Subquery Scan on s  (cost=476.95..477.30 rows=13 width=12)",
      "  Filter: (s.customer_id = ANY ('{64,79}'::integer[]))",
      "  ->  Limit  (cost=476.90..476.95 rows=20 width=12)",
      "        ->  Sort  (cost=476.90..478.15 rows=500 width=12)",
      "              Sort Key: (sum(orders.amount)) DESC, orders.customer_id",
      "              ->  HashAggregate  (cost=458.60..463.60 rows=500 width=12)",
      "                    Group Key: orders.customer_id",
      "                    ->  Seq Scan on orders  (cost=0.00..359.00 rows=19920 width=8)",
      "                          Filter: (customer_id > 0)",
  };
  EXPECT_EQ(scope_reach(plan, "orders", {"customer_id"}, {"{64,79}"}), ScopeReach::NotReached);
  const std::vector<std::string> not_null = {
      "WindowAgg  (cost=1..2 rows=1 width=8)",
      "  ->  Seq Scan on orders  (cost=1..2 rows=1 width=8)",
      "        Filter: (customer_id IS NOT NULL)",
  };
  EXPECT_EQ(scope_reach(not_null, "orders", {"customer_id"}, {"{1}"}), ScopeReach::NotReached);
}

TEST(PlanReach, AJoinOnTheScopeCarriesTheBatchFilter) {
  // Hash join: meds is scanned in full but joined on the scope to orders, which the batch
  // constrains: meds contributes only rows of the batch's scopes.
  const std::vector<std::string> hash = {
      "HashAggregate  (cost=3890.00..3895.00 rows=500 width=20)",
      "  Group Key: o.customer_id",
      "  ->  Hash Join  (cost=711.00..2690.00 rows=160000 width=12)",
      "        Hash Cond: (o.customer_id = m.customer_id)",
      "        ->  Bitmap Heap Scan on orders o  (cost=152.00..321.00 rows=4000 width=8)",
      "              Recheck Cond: (customer_id = ANY ('{0,1,2}'::integer[]))",
      "              ->  Bitmap Index Scan on orders_customer_id_idx  (cost=0.00..150.75 rows=4000 width=0)",
      "                    Index Cond: (customer_id = ANY ('{0,1,2}'::integer[]))",
      "        ->  Hash  (cost=309.00..309.00 rows=20000 width=8)",
      "              ->  Seq Scan on meds m  (cost=0.00..309.00 rows=20000 width=8)",
  };
  EXPECT_EQ(scope_reach(hash, "orders", {"customer_id"}, {"{0,1,2}"}), ScopeReach::IndexScan);
  EXPECT_EQ(scope_reach(hash, "meds", {"customer_id"}, {"{0,1,2}"}), ScopeReach::FilteredScan);
  // Nested loop parameter, and a join on another column that carries nothing.
  const std::vector<std::string> loop = {
      "Nested Loop  (cost=1..2 rows=1 width=8)",
      "  ->  Index Scan using p_pid on patients p  (cost=1..2 rows=1 width=8)",
      "        Index Cond: (patient_id = ANY ('{7}'::integer[]))",
      "  ->  Index Scan using m_pid on meds m  (cost=1..2 rows=1 width=8)",
      "        Index Cond: (patient_id = p.patient_id)",
      "  ->  Hash Join  (cost=1..2 rows=1 width=8)",
      "        Hash Cond: (x.product_id = m.product_id)",
      "        ->  Seq Scan on meds x  (cost=1..2 rows=1 width=8)",
  };
  EXPECT_EQ(scope_reach(loop, "patients", {"patient_id"}, {"{7}"}), ScopeReach::IndexScan);
  EXPECT_EQ(scope_reach(loop, "meds", {"patient_id"}, {"{7}"}), ScopeReach::NotReached);  // x is not joined on it
  // Multi-column scopes need every column; quoted names as EXPLAIN prints them.
  const std::vector<std::string> two = {
      "Seq Scan on reports r  (cost=1..2 rows=1 width=8)",
      "  Filter: ((\"Org\" = ANY ('{1}'::integer[])) AND (cluster = ANY ('{a}'::text[])))",
      "Seq Scan on events e  (cost=1..2 rows=1 width=8)",
      "  Filter: (\"Org\" = ANY ('{1}'::integer[]))",
  };
  EXPECT_EQ(scope_reach(two, "reports", {"Org", "cluster"}, {"{1}", "{a}"}), ScopeReach::FilteredScan);
  EXPECT_EQ(scope_reach(two, "events", {"Org", "cluster"}, {"{1}", "{a}"}), ScopeReach::NotReached);
}
