#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/sql_text.hpp"

using namespace incview;

TEST(QuoteIdent, AlwaysQuotesAndDoublesQuotes) {
  EXPECT_EQ(quote_ident("patient_id"), "\"patient_id\"");
  EXPECT_EQ(quote_ident("My Stage"), "\"My Stage\"");
  EXPECT_EQ(quote_ident("a\"b"), "\"a\"\"b\"");
  EXPECT_EQ(quote_ident("\"; DROP TABLE t; --"), "\"\"\"; DROP TABLE t; --\"");
  EXPECT_EQ(quote_ident(""), "\"\"");
}

TEST(QuoteLiteral, DoublesQuotesAndEscapesBackslashes) {
  EXPECT_EQ(quote_literal("abc"), "'abc'");
  EXPECT_EQ(quote_literal("it's"), "'it''s'");
  EXPECT_EQ(quote_literal("a\\b"), "E'a\\\\b'");
  EXPECT_EQ(quote_literal("'); DROP TABLE t; --"), "'''); DROP TABLE t; --'");
}

TEST(QuoteQualified, SchemaOptional) {
  EXPECT_EQ(quote_qualified("", "t"), "\"t\"");
  EXPECT_EQ(quote_qualified("Reporting", "Per Clinic"), "\"Reporting\".\"Per Clinic\"");
}

TEST(SplitQualifiedName, FoldsUnquotedKeepsQuoted) {
  EXPECT_EQ(split_qualified_name("Foo"), (std::vector<std::string>{"foo"}));
  EXPECT_EQ(split_qualified_name("public.Foo"), (std::vector<std::string>{"public", "foo"}));
  EXPECT_EQ(split_qualified_name("\"Reporting\".\"Per Clinic\""),
            (std::vector<std::string>{"Reporting", "Per Clinic"}));
  EXPECT_EQ(split_qualified_name(" s . \"a\"\"b\" "), (std::vector<std::string>{"s", "a\"b"}));
}

TEST(SplitQualifiedName, RejectsMalformed) {
  for (const char* bad : {"a.b.c", "\"open", "a.", ".a", "\"\"", "a b", "a\"b"}) {
    try {
      split_qualified_name(bad);
      FAIL() << "accepted " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.sqlstate(), "42601") << bad;
    }
  }
}

TEST(ColumnList, QuotesEveryName) {
  EXPECT_EQ(column_list({"a", "B c"}), "\"a\", \"B c\"");
  EXPECT_EQ(column_list({"a", "b"}, "s"), "s.\"a\", s.\"b\"");
}

TEST(JsonStringArray, EscapesLikeJson) {
  EXPECT_EQ(json_string_array({}), "[]");
  EXPECT_EQ(json_string_array({"a", "b\"c", "d\\e", "f\ng"}), "[\"a\",\"b\\\"c\",\"d\\\\e\",\"f\\u000ag\"]");
}
