#include "workflow/yaml_loader.hpp"

#include <gtest/gtest.h>

#include <string>

#include "support/test_support.hpp"

namespace weft::workflow {
namespace {

std::string error_of(const std::string& text) {
  auto doc = load_yaml_text(text, "flow.yaml");
  EXPECT_FALSE(doc.ok()) << "accepted: " << text.substr(0, 80);
  return doc.ok() ? "" : doc.status().message();
}

TEST(YamlLoader, KeepsScalarTypesAndQuotedStringsStayStrings) {
  auto doc = load_yaml_text("a: true\nb: 42\nc: 1.5\nd: null\ne: \"true\"\nf: '42'\ng: hello\nh: ~\ni: -7\n",
                            "f.yaml");
  ASSERT_TRUE(doc.ok()) << doc.status().message();
  EXPECT_EQ(json::stringify(doc->root),
            R"({"a":true,"b":42,"c":1.5,"d":null,"e":"true","f":"42","g":"hello","h":null,"i":-7})");
}

TEST(YamlLoader, RecordsLineAndColumnOfEveryValue) {
  auto doc = load_yaml_text("name: x\nsteps:\n  - id: a\n    uses: demo.echo\n", "flow.yaml");
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(doc->where("/steps/0/uses"), "flow.yaml:4:11");
  EXPECT_EQ(doc->where("/steps/0/with/missing"), "flow.yaml:3:5");  // nearest ancestor
}

TEST(YamlLoader, MissingFileIsNotFoundWithTheName) {
  auto doc = load_yaml_file("/nonexistent/flow.yaml");
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.status().code(), Code::kNotFound);
  EXPECT_NE(doc.status().message().find("/nonexistent/flow.yaml: no such file"), std::string::npos);
}

TEST(YamlLoader, EmptyFileIsRefusedWithAHint) {
  EXPECT_NE(error_of("").find("flow.yaml:1:1: the file is empty (hint:"), std::string::npos);
  EXPECT_NE(error_of("# only a comment\n").find("the file is empty"), std::string::npos);
}

TEST(YamlLoader, TabIndentationNamesTheLine) {
  EXPECT_NE(error_of("name: x\nsteps:\n\t- id: a\n").find("flow.yaml:3:1: a tab is used for indentation"),
            std::string::npos);
}

TEST(YamlLoader, BrokenIndentationGivesPositionAndHint) {
  const std::string e = error_of("name: x\nsteps:\n  - id: a\n   uses: b\n  bad\n");
  EXPECT_NE(e.find("flow.yaml:"), std::string::npos) << e;
  EXPECT_NE(e.find("invalid YAML"), std::string::npos) << e;
  EXPECT_NE(e.find("(hint:"), std::string::npos) << e;
}

TEST(YamlLoader, TopLevelListIsRefused) {
  EXPECT_NE(error_of("- a\n- b\n").find("the top level is a list, not a mapping"), std::string::npos);
}

TEST(YamlLoader, InvalidUtf8NamesTheByte) {
  EXPECT_NE(error_of("name: ok\nx: caf\xc3\n").find("flow.yaml:2:7: the file is not valid UTF-8"),
            std::string::npos);
  EXPECT_NE(error_of("a: \xed\xa0\x80\n").find("not valid UTF-8"), std::string::npos);  // a surrogate
}

TEST(YamlLoader, TenMegabyteFileIsRefusedBeforeReading) {
  test::TempDir dir;
  const std::string path = dir.write("big.yaml", "a: " + std::string(10 * 1024 * 1024, 'x') + "\n");
  auto doc = load_yaml_file(path);
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.status().code(), Code::kResourceExhausted);
  EXPECT_NE(doc.status().message().find("at most 1 MiB"), std::string::npos);
}

TEST(YamlLoader, BillionLaughsIsRefused) {
  std::string text = "a: &a [x,x,x,x,x,x,x,x,x]\n";
  const char* names = "abcdefghij";
  for (int i = 1; i < 10; ++i) {
    text += std::string(1, names[i]) + ": &" + names[i] + " [";
    for (int k = 0; k < 9; ++k) text += std::string(k ? "," : "") + "*" + names[i - 1];
    text += "]\n";
  }
  const std::string e = error_of(text);
  EXPECT_NE(e.find("expands to more than"), std::string::npos) << e;
}

TEST(YamlLoader, FiveThousandLevelsOfFlowNestingAreRefused) {
  const std::string e = error_of("a: " + std::string(5000, '[') + std::string(5000, ']') + "\n");
  EXPECT_NE(e.find("nesting is deeper than"), std::string::npos) << e;
}

TEST(YamlLoader, FiveThousandLevelsOfBlockNestingAreRefused) {
  std::string text = "a:\n";
  for (int i = 0; i < 5000; ++i) text += "- ";
  text += "x\n";
  EXPECT_NE(error_of(text).find("nesting is deeper than"), std::string::npos);
  std::string indented = "a:\n";
  for (int i = 1; i < 200; ++i) indented += std::string(static_cast<std::size_t>(i), ' ') + "b:\n";
  EXPECT_NE(error_of(indented).find("nesting is deeper than"), std::string::npos);
}

TEST(YamlLoader, CyclicAliasIsRefused) {
  const std::string e = error_of("a: &a [*a]\n");
  EXPECT_NE(e.find("flow.yaml:1:"), std::string::npos) << e;
}

TEST(YamlLoader, DuplicateKeyIsRefused) {
  EXPECT_NE(error_of("name: a\nname: b\n").find("flow.yaml:2:1: duplicate key 'name'"), std::string::npos);
}

TEST(YamlLoader, ModestAliasesStillWork) {
  auto doc = load_yaml_text("base: &b {x: 1}\nuse: *b\n", "f.yaml");
  ASSERT_TRUE(doc.ok()) << doc.status().message();
  EXPECT_EQ(json::stringify(json::get(doc->root, "use")), R"({"x":1})");
}

}  // namespace
}  // namespace weft::workflow
