#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <set>
#include <string>

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

// The ids of a manifest's "actions" or "triggers" object, as "<connector>.<name>", sorted.
std::set<std::string> manifest_ids(const std::string& connector, const char* kind) {
  std::ifstream in(test::source_dir() + "/connectors/" + connector + "/" + connector + ".manifest.json");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto doc = json::parse(text);
  EXPECT_TRUE(doc.ok()) << connector;
  std::set<std::string> out;
  if (!doc) return out;
  if (auto o = json::as_object(json::get(*doc, kind)); !o.isNull())
    for (const auto& name : o->getNames()) out.insert(connector + "." + name);
  return out;
}

std::set<std::string> listed_ids(const Json& connector, const char* kind) {
  std::set<std::string> out;
  auto arr = json::as_array(json::get(connector, kind));
  EXPECT_FALSE(arr.isNull()) << json::get_string(connector, "id") << " has no " << kind << " list";
  for (std::size_t i = 0; arr && i < arr->size(); ++i) out.insert(json::get_string(arr->get(i), "id"));
  return out;
}

// Every built connector is listed with exactly the actions and the triggers its manifest declares.
TEST(ConnectorsCli, ListJsonIsParseableAndNamesEveryAction) {
  auto r = test::run_weft({"connectors", "list", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto doc = json::parse(r.out);
  ASSERT_TRUE(doc.ok()) << r.out;
  auto list = json::as_array(json::get(*doc, "connectors"));
  ASSERT_FALSE(list.isNull());
  std::set<std::string> seen;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const Json c = list->get(i);
    const std::string id = json::get_string(c, "id");
    seen.insert(id);
    EXPECT_EQ(listed_ids(c, "actions"), manifest_ids(id, "actions")) << id;
    EXPECT_EQ(listed_ids(c, "triggers"), manifest_ids(id, "triggers")) << id;
  }
  for (const char* id : {"http", "restream", "livepush", "ovenmediaengine"})
    EXPECT_TRUE(seen.count(id)) << id << " is not listed: " << r.out;
  // Triggers are really there (not only empty lists): restream polls two.
  EXPECT_EQ(manifest_ids("restream", "triggers"),
            (std::set<std::string>{"restream.event_finished", "restream.event_started"}));
}

// Text and JSON describe show an input and an output schema for every action and every trigger.
TEST(ConnectorsCli, DescribeShowsInputAndOutputSchemas) {
  auto r = test::run_weft({"connectors", "describe", "http"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("http.request"), std::string::npos);
  EXPECT_NE(r.out.find("input schema"), std::string::npos);
  EXPECT_NE(r.out.find("output schema"), std::string::npos);
  for (const char* id : {"http", "restream"}) {
    SCOPED_TRACE(id);
    auto text = test::run_weft({"connectors", "describe", id});
    ASSERT_EQ(text.exit_code, 0) << text.err;
    auto j = test::run_weft({"connectors", "describe", id, "--json"});
    ASSERT_EQ(j.exit_code, 0) << j.err;
    auto doc = json::parse(j.out);
    ASSERT_TRUE(doc.ok());
    std::size_t ops = 0;
    for (const char* kind : {"actions", "triggers"}) {
      auto arr = json::as_array(json::get(*doc, kind));
      ASSERT_FALSE(arr.isNull()) << kind;
      for (std::size_t i = 0; i < arr->size(); ++i) {
        const Json op = arr->get(i);
        const std::string uses = json::get_string(op, "id");
        ++ops;
        EXPECT_TRUE(json::is_object(json::get(op, "input"))) << uses << " has no input schema";
        EXPECT_TRUE(json::is_object(json::get(op, "output"))) << uses << " has no output schema";
        EXPECT_FALSE(json::get_string(json::get(op, "output"), "type").empty()) << uses;
        EXPECT_NE(text.out.find("\n  " + uses + " "), std::string::npos) << uses << " not in the text";
      }
    }
    EXPECT_EQ(ops, manifest_ids(id, "actions").size() + manifest_ids(id, "triggers").size());
    // One "input schema:" and one "output schema:" heading per operation in the text form.
    std::size_t in_headings = 0, out_headings = 0;
    for (auto at = text.out.find("input schema:"); at != std::string::npos;
         at = text.out.find("input schema:", at + 1))
      ++in_headings;
    for (auto at = text.out.find("output schema:"); at != std::string::npos;
         at = text.out.find("output schema:", at + 1))
      ++out_headings;
    EXPECT_EQ(in_headings, ops);
    EXPECT_EQ(out_headings, ops);
  }
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
