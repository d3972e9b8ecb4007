#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/shared_delta_capture.hpp"

using namespace incview;

TEST(SharedDeltaCapture, OneInsertIsRunAsItIs) {
  EXPECT_EQ(shared_delta_capture({"INSERT INTO q1 SELECT 1"}), "INSERT INTO q1 SELECT 1");
}

TEST(SharedDeltaCapture, SeveralInsertsAreCtesOfOneStatement) {
  const std::string sql =
      shared_delta_capture({"INSERT INTO q1 SELECT 1", "WITH x AS (SELECT 2) INSERT INTO q2 SELECT * FROM x"});
  EXPECT_EQ(sql,
            "WITH \"__incview_c1\" AS (INSERT INTO q1 SELECT 1),\n"
            "\"__incview_c2\" AS (WITH x AS (SELECT 2) INSERT INTO q2 SELECT * FROM x)\n"
            "SELECT 1");
}

TEST(SharedDeltaCapture, NothingToRunIsAnInternalError) {
  EXPECT_THROW(shared_delta_capture({}), Error);
  EXPECT_THROW(shared_delta_capture({"INSERT INTO q1 SELECT 1", ""}), Error);
}
