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
