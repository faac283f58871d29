#include "workflow/yaml_loader.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

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

#if defined(__SANITIZE_ADDRESS__)
#define WEFT_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT_UNDER_ASAN 1
#endif
#endif

// Peak resident set (ru_maxrss, KiB) of `weft --home HOME validate FILE` run as a child process,
// and its exit code.
[[maybe_unused]] std::pair<long, int> validate_peak_rss_kib(const std::string& home, const std::string& file) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 1);
    ::dup2(devnull, 2);
    ::execl(WEFT_CLI, WEFT_CLI, "--home", home.c_str(), "validate", file.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  rusage usage{};
  if (pid < 0 || ::wait4(pid, &status, 0, &usage) != pid) return {-1, -1};
  return {usage.ru_maxrss, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status)};
}

// RELIABILITY row 16: each bomb is refused by `weft validate` using under 64 MB more memory than
// validating a small good file (whole process: the peak RSS of the child).
TEST(YamlLoader, BombsAreRefusedUnder64MegabytesOfMemory) {
#ifdef WEFT_UNDER_ASAN
  GTEST_SKIP() << "AddressSanitizer's shadow memory makes the RSS meaningless";
#else
  test::TempDir dir;
  const std::string home = dir.path() + "/home";
  const std::string good = dir.write("good.yaml",
                                     "name: good\nsteps:\n  - id: a\n    uses: http.request\n"
                                     "    with: {method: GET, url: http://127.0.0.1:9/}\n");
  auto [baseline, good_exit] = validate_peak_rss_kib(home, good);
  ASSERT_EQ(good_exit, 0);
  ASSERT_GT(baseline, 0);

  std::string laughs = "a: &a [x,x,x,x,x,x,x,x,x]\n";
  const char* names = "abcdefghij";
  for (int i = 1; i < 10; ++i) {
    laughs += std::string(1, names[i]) + ": &" + names[i] + " [";
    for (int k = 0; k < 9; ++k) laughs += std::string(k ? "," : "") + "*" + names[i - 1];
    laughs += "]\n";
  }
  std::string block = "a:\n";
  for (int i = 0; i < 5000; ++i) block += "- ";
  block += "x\n";
  // Just under the 1 MiB limit: the biggest flow nesting the loader reads.
  const std::size_t depth = 500 * 1024;
  const std::vector<std::pair<std::string, std::string> > bombs = {
      {"laughs.yaml", laughs},
      {"flow.yaml", "a: " + std::string(depth, '[') + std::string(depth, ']') + "\n"},
      {"block.yaml", block},
      {"cycle.yaml", "a: &a [*a]\n"},
      {"big.yaml", "a: " + std::string(10 * 1024 * 1024, 'x') + "\n"},
  };
  for (const auto& [name, text] : bombs) {
    const std::string path = dir.write(name, text);
    auto [peak, code] = validate_peak_rss_kib(home, path);
    EXPECT_EQ(code, 1) << name << " was not refused";
    EXPECT_LT(peak - baseline, 64L * 1024)
        << name << ": peak " << peak << " KiB, baseline " << baseline << " KiB";
  }
#endif
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
