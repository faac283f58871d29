// The schema module: compile once, validate from many threads, issues as JSON pointers.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "core/json.hpp"
#include "schema/schema.hpp"

namespace weft::schema {
namespace {

Json parse(const std::string& text) {
  auto doc = json::parse(text);
  EXPECT_TRUE(doc.ok()) << doc.status().to_string();
  return doc.ok() ? *doc : Json();
}

TEST(Schema, BadSchemaIsAClearCompileError) {
  auto bad_type = Schema::compile(parse(R"({"type":"strnig"})"));
  ASSERT_FALSE(bad_type.ok());
  EXPECT_EQ(bad_type.status().code(), Code::kInvalidArgument);
  EXPECT_FALSE(bad_type.status().message().empty());

  auto not_object = Schema::compile(parse(R"([1,2])"));
  ASSERT_FALSE(not_object.ok());
  EXPECT_EQ(not_object.status().message(), "a JSON Schema must be an object");

  auto bad_ref = Schema::compile(parse(R"({"$ref":"#/definitions/missing"})"));
  EXPECT_FALSE(bad_ref.ok());

  auto bad_text = Schema::compile_text("{");
  ASSERT_FALSE(bad_text.ok());
  EXPECT_EQ(bad_text.status().message().rfind("invalid JSON", 0), 0u) << bad_text.status().message();
}

TEST(Schema, IssuesArePointersWithEscapedKeys) {
  auto s = Schema::compile(parse(R"({"type":"object","properties":{"a/b~c":{"type":"array","items":{"type":"integer"}}}})"));
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  auto issues = s->validate(parse(R"({"a/b~c":[1,"x"]})"));
  ASSERT_FALSE(issues.empty());
  EXPECT_EQ(describe(issues), "at /a~1b~0c/1: Value type not permitted by 'type' constraint.");
  EXPECT_TRUE(s->validate(parse(R"({"a/b~c":[1,2]})")).empty());
}

TEST(Schema, DescribeCapsTheNumberOfIssues) {
  auto s = Schema::compile(parse(R"({"type":"object","required":["a","b","c","d","e"]})"));
  ASSERT_TRUE(s.ok());
  std::string text = describe(s->validate(json::object()), 2);
  EXPECT_EQ(text,
            "at (root): Missing required property 'a'.; at (root): Missing required property 'b'. (and 3 more)");
}

// Regression (found by json_input_fuzz under UBSan): valijson's integer multipleOf cast a huge double
// to int64, and truncated 4.5 to 4 so it passed "multipleOf: 2".
TEST(Schema, MultipleOfJudgesEveryNumberWithoutOverflow) {
  auto s = Schema::compile(parse(R"({"properties":{"n":{"type":"number","multipleOf":2},
                                                   "multipleOf":{"type":"string"}},
                                     "enum":[{"n":4,"multipleOf":"x"},{"n":8.446617555e123},{"n":4.5},{"n":-1e308},{"n":7}]})"));
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  EXPECT_TRUE(s->validate(parse(R"({"n":4,"multipleOf":"x"})")).empty());
  EXPECT_TRUE(s->validate(parse(R"({"n":8.446617555e123})")).empty());  // an even integer, as a double
  EXPECT_TRUE(s->validate(parse(R"({"n":-1e308})")).empty());
  EXPECT_EQ(describe(s->validate(parse(R"({"n":4.5})"))), "at /n: Value should be a multiple of 2.000000");
  EXPECT_EQ(describe(s->validate(parse(R"({"n":7})"))), "at /n: Value should be a multiple of 2.000000");

  // The fuzzer's input, against the fuzz target's own schema rule: an issue, not a crash.
  auto count = Schema::compile(parse(R"({"properties":{"count":{"type":"integer","minimum":0,"maximum":100,"multipleOf":2}}})"));
  ASSERT_TRUE(count.ok()) << count.status().to_string();
  EXPECT_FALSE(count->validate(parse(R"({"method":"GMT","count":8446617555e114,"any":[1e308,-0,0.0051616]})")).empty());
  EXPECT_TRUE(count->validate(parse(R"({"count":42})")).empty());

  for (const char* bad : {R"({"multipleOf":0})", R"({"multipleOf":-2})", R"({"multipleOf":"0"})",
                          R"({"items":{"multipleOf":0.0}})"}) {
    auto compiled = Schema::compile(parse(bad));
    ASSERT_FALSE(compiled.ok()) << bad;
    EXPECT_NE(compiled.status().message().find("must be a number greater than 0"), std::string::npos)
        << compiled.status().message();
  }
  EXPECT_EQ(Schema::compile(parse(R"({"items":{"multipleOf":0}})")).status().message(),
            "'multipleOf' at /items/multipleOf must be a number greater than 0");
}

TEST(Schema, EmbeddedManifestSchemaValidatesDocuments) {
  auto ok = validate_embedded("connector-manifest.schema.json",
                              parse(R"({"id":"x","version":"1.0.0","name":"X","auth":{"kind":"none"},"actions":{}})"));
  ASSERT_TRUE(ok.ok()) << ok.status().to_string();
  EXPECT_TRUE(ok->empty()) << describe(*ok);

  auto bad = validate_embedded("connector-manifest.schema.json",
                               parse(R"({"id":"Bad Id","version":"1.0.0","name":"X","auth":{"kind":"none"},"actions":{}})"));
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(describe(*bad), "at /id: Failed to match regex specified by 'pattern' constraint.");

  auto unknown = validate_embedded("nope.schema.json", json::object());
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), Code::kNotFound);
}

TEST(Schema, DeepDocumentIsOneIssueNotAStackOverflow) {
  auto s = Schema::compile(parse("{}"));
  ASSERT_TRUE(s.ok());
  Json deep = json::new_array();
  for (int i = 0; i < 10000; ++i) {
    auto outer = json::new_array();
    outer->add(deep);
    deep = outer;
  }
  auto issues = s->validate(deep);
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].message, "document nests deeper than 512 levels");
}

TEST(Schema, ValidatesConcurrentlyFromOneCompiledSchema) {
  auto s = Schema::compile(parse(R"({"type":"object","properties":{"n":{"type":"string","pattern":"^[a-z]+$"}}})"));
  ASSERT_TRUE(s.ok());
  std::atomic<int> right{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        bool should_pass = (i + t) % 2 == 0;
        Json doc = json::object({{"n", std::string(should_pass ? "abc" : "ABC")}});
        if (s->validate(doc).empty() == should_pass) ++right;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(right.load(), 8 * 200);
}

}  // namespace
}  // namespace weft::schema
