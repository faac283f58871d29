#include <gtest/gtest.h>

#include "core/json.hpp"
#include "support/test_support.hpp"

namespace weft {
namespace {

TEST(ConnectorsCli, ListShowsTheBuiltInHttpConnector) {
  auto r = test::run_weft({"connectors", "list"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("http"), std::string::npos);
  EXPECT_NE(r.out.find("VERSION"), std::string::npos);
}

TEST(ConnectorsCli, ListJsonIsParseableAndNamesEveryAction) {
  auto r = test::run_weft({"connectors", "list", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto doc = json::parse(r.out);
  ASSERT_TRUE(doc.ok()) << r.out;
  auto list = json::as_array(json::get(*doc, "connectors"));
  ASSERT_FALSE(list.isNull());
  bool found = false;
  for (std::size_t i = 0; i < list->size(); ++i) {
    if (json::get_string(list->get(i), "id") == "http") found = true;
  }
  EXPECT_TRUE(found);
}

TEST(ConnectorsCli, DescribeShowsInputAndOutputSchemas) {
  auto r = test::run_weft({"connectors", "describe", "http"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("http.request"), std::string::npos);
  EXPECT_NE(r.out.find("input schema"), std::string::npos);
  EXPECT_NE(r.out.find("output schema"), std::string::npos);
  auto j = test::run_weft({"connectors", "describe", "http", "--json"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  auto doc = json::parse(j.out);
  ASSERT_TRUE(doc.ok());
  auto actions = json::as_array(json::get(*doc, "actions"));
  ASSERT_EQ(actions->size(), 1u);
  EXPECT_TRUE(json::is_object(json::get(actions->get(0), "input")));
}

TEST(ConnectorsCli, DescribeUnknownConnectorFailsWithTheLoadedOnesNamed) {
  auto r = test::run_weft({"connectors", "describe", "nosuch"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no connector 'nosuch'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("http"), std::string::npos);
}

TEST(ConnectorsCli, MissingConnectorsDirectoryIsAClearErrorAndExitOne) {
  auto r = test::run_weft({"--connectors", "/nonexistent/weft-dir", "connectors", "list"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("'/nonexistent/weft-dir' does not exist"), std::string::npos) << r.err;
}

TEST(ConnectorsCli, RefusedFileIsOneWarningLineAndTheRestStillLoad) {
  test::TempDir dir;
  dir.write("broken.so", "this is not a shared library");
  auto r = test::run_weft({"--connectors", dir.path(), "connectors", "list"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("broken.so"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("http"), std::string::npos);
}

TEST(ConnectorsCli, BadUsageExitsTwo) {
  EXPECT_EQ(test::run_weft({"connectors", "describe"}).exit_code, 2);
  EXPECT_EQ(test::run_weft({"connectors", "list", "--bogus"}).exit_code, 2);
}

}  // namespace
}  // namespace weft
