#include <gtest/gtest.h>

#include <string>

#include "core/json.hpp"

namespace weft {
namespace {

TEST(Json, ParsesAndKeepsInsertionOrderWhenStringified) {
  auto doc = json::parse(R"({"b":1,"a":[true,null,"x"]})");
  ASSERT_TRUE(doc.ok()) << doc.status().to_string();
  EXPECT_EQ(json::get_string(json::object({{"k", std::string("v")}}), "k"), "v");
  Json o = json::object({{"z", 1}, {"a", 2}});
  EXPECT_EQ(json::stringify(o), R"({"z":1,"a":2})");
}

TEST(Json, RefusesTenThousandLevelsOfNestingWithoutCrashing) {
  std::string deep(10000, '[');
  deep += std::string(10000, ']');
  auto doc = json::parse(deep);
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.status().code(), Code::kResourceExhausted);
}

TEST(Json, BracketsInsideStringsDoNotCountAsNesting) {
  std::string text = "{\"s\":\"" + std::string(2000, '[') + "\"}";
  EXPECT_TRUE(json::parse(text).ok());
}

TEST(Json, SyntaxErrorIsInvalidArgument) {
  auto doc = json::parse("{\"a\":");
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace weft

#include "support/test_support.hpp"

namespace weft {
namespace {
TEST(TestSupport, LocalServerAnswersAndCountsAndWeftBinaryRuns) {
  test::LocalServer server([](Poco::Net::HTTPServerRequest&, Poco::Net::HTTPServerResponse& resp) {
    resp.setContentType("application/json");
    resp.send() << R"({"ok":true})";
  });
  EXPECT_GT(server.port(), 0);
  auto r = test::run_weft({"--version"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("weft"), std::string::npos);
  auto bad = test::run_weft({"nosuch"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("unknown command"), std::string::npos);
}
}  // namespace
}  // namespace weft
