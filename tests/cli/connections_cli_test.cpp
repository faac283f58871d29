// `weft connections` end to end through the real binary, vault in a temporary home.
#include <gtest/gtest.h>

#include "core/json.hpp"
#include "support/test_support.hpp"

namespace weft {
namespace {

constexpr const char* kToken = "cli-secret-token-9876";

TEST(ConnectionsCommand, AddListRemoveAnApiTokenConnectionNeverPrintsTheToken) {
  test::TempDir home;
  auto add = test::run_weft({"--home", home.path(), "connections", "add", "key1", "--connector", "http",
                             "--token", kToken, "--set", "auth=api_token", "--set", "header=X-Api-Key"});
  ASSERT_EQ(add.exit_code, 0) << add.err;
  EXPECT_EQ((add.out + add.err).find(kToken), std::string::npos);

  auto list = test::run_weft({"--home", home.path(), "connections", "list", "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ((list.out + list.err).find(kToken), std::string::npos);
  auto doc = json::parse(list.out);
  ASSERT_TRUE(doc.ok()) << list.out;
  auto arr = json::as_array(*doc);
  ASSERT_FALSE(arr.isNull());
  ASSERT_EQ(arr->size(), 1u);
  EXPECT_EQ(json::get_string(arr->get(0), "name"), "key1");
  EXPECT_EQ(json::get_string(arr->get(0), "state"), "active");

  auto rm = test::run_weft({"--home", home.path(), "connections", "remove", "key1"});
  ASSERT_EQ(rm.exit_code, 0) << rm.err;
  auto after = test::run_weft({"--home", home.path(), "connections", "list", "--json"});
  ASSERT_EQ(after.exit_code, 0) << after.err;
  EXPECT_EQ(after.out.find("key1"), std::string::npos);
}

TEST(ConnectionsCommand, UnknownConnectorIsOneClearErrorAndExitOne) {
  test::TempDir home;
  auto r = test::run_weft(
      {"--home", home.path(), "connections", "add", "x1", "--connector", "nope", "--token", kToken});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("connector 'nope' is not loaded"), std::string::npos) << r.err;
  EXPECT_EQ((r.out + r.err).find(kToken), std::string::npos);
}

TEST(ConnectionsCommand, MissingConnectorFlagIsAUsageError) {
  test::TempDir home;
  auto r = test::run_weft({"--home", home.path(), "connections", "add", "x1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--connector"), std::string::npos) << r.err;
}

TEST(ConnectionsCommand, DuplicateNameIsRefused) {
  test::TempDir home;
  std::vector<std::string> args = {"--home", home.path(),   "connections",   "add",
                                   "dup",    "--connector", "http",          "--token",
                                   kToken,   "--set",       "auth=api_token"};
  ASSERT_EQ(test::run_weft(args).exit_code, 0);
  auto again = test::run_weft(args);
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("dup"), std::string::npos) << again.err;
}

TEST(ConnectionsCommand, RemovingAnUnknownConnectionSaysSo) {
  test::TempDir home;
  auto r = test::run_weft({"--home", home.path(), "connections", "remove", "ghost"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("ghost"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace weft
