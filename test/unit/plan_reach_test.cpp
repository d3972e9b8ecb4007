#include <gtest/gtest.h>

#include "core/plan_reach.hpp"
#include "test_util.hpp"

using namespace incview;
using incview::test::contains;

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
  EXPECT_EQ(scope_reach(plan, "meds", {"patient"}, lit), ScopeReach::NotReached);           // whole identifiers only
  EXPECT_EQ(scope_reach(plan, "med", {"patient_id"}, lit), ScopeReach::NotRead);            // whole table names only
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
