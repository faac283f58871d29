// The authoring guide's promise: examples/hello_connector builds with the one g++ line of
// connectors/README.md and loads.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "core/json.hpp"
#include "plugin/registry.hpp"
#include "support/test_support.hpp"

namespace weft::plugin {
namespace {

TEST(HelloConnector, BuildsWithPlainGppAsTheGuideSaysAndLoads) {
  weft::test::TempDir dir;
  const std::string src = weft::test::source_dir() + "/examples/hello_connector/hello.cpp";
  const std::string out = dir.path() + "/hello.so";
  auto built = weft::test::run_process(
      "/usr/bin/g++", {"-std=c++17", "-shared", "-fPIC", "-I" + weft::test::source_dir() + "/runtime/include", src,
                       "-o", out});
  ASSERT_EQ(built.exit_code, 0) << built.err;

  Registry registry;
  auto refused = registry.load({dir.path()});
  ASSERT_TRUE(refused.empty()) << refused[0].message();
  auto info = registry.connector("hello");
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->path, out);
  const ActionInfo* greet = registry.find("hello.greet");
  ASSERT_NE(greet, nullptr);

  auto input = json::parse(R"({"name":"Ada \"the\" Countess"})");
  ASSERT_TRUE(input.ok());
  auto result = registry.invoke(*greet, *input, InvokeContext{});
  ASSERT_TRUE(result.ok()) << result.status().to_string();
  EXPECT_EQ(json::get_string(*result, "message"), "Hello, Ada \"the\" Countess!");

  auto missing = registry.invoke(*greet, json::object(), InvokeContext{});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(), "hello.greet input at (root): Missing required property 'name'.");

  // The user's path: --connectors DIR, a workflow calling it, `weft run`.
  const std::string flow = dir.write("flow.yaml", R"(name: greet-ada
steps:
  - id: hi
    uses: hello.greet
    with: {name: Ada}
)");
  auto described = weft::test::run_weft(
      {"--home", dir.path() + "/home", "--connectors", dir.path(), "connectors", "describe", "hello"});
  EXPECT_EQ(described.exit_code, 0) << described.err;
  EXPECT_NE(described.out.find("hello.greet"), std::string::npos) << described.out;
  auto ran = weft::test::run_weft({"--home", dir.path() + "/home", "--connectors", dir.path(), "run", flow, "--json"});
  EXPECT_EQ(ran.exit_code, 0) << ran.out << ran.err;
  EXPECT_NE(ran.out.find("Hello, Ada!"), std::string::npos) << ran.out;
}

}  // namespace
}  // namespace weft::plugin
