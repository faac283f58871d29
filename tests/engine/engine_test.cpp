// The real engine: connectors loaded from the build's connector directory, the vault and run store
// in a temporary home, calls going to a loopback server through the shared HTTP client.
#include "engine/engine.hpp"

#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "auth/connection_manager.hpp"
#include "plugin/registry.hpp"
#include "store/run_store.hpp"
#include "support/test_support.hpp"

namespace weft {
namespace {

Json parse(const std::string& s) {
  auto r = json::parse(s);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return *r;
}

std::unique_ptr<engine::Engine> open_engine(const test::TempDir& home) {
  auto e = engine::Engine::open({.home = home.path() + "/home", .connector_dirs = {test::connector_dir()}});
  EXPECT_TRUE(e.ok()) << e.status().to_string();
  return e.ok() ? std::move(*e) : nullptr;
}

// Records the headers of the last request and answers {"ok":true}.
struct EchoServer {
  std::mutex mu;
  std::string api_key, authorization;
  test::LocalServer server{[this](Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) {
    {
      std::lock_guard lock(mu);
      api_key = req.get("X-Api-Key", "");
      authorization = req.get("Authorization", "");
    }
    resp.setContentType("application/json");
    resp.send() << R"({"ok":true})";
  }};
};

TEST(Engine, LoadsTheBuiltConnectorsAndCallsLoopbackWithoutAConnection) {
  test::TempDir dir;
  auto e = open_engine(dir);
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->load_diagnostics().empty());
  const plugin::ActionInfo* op = e->catalog().find("http.request");
  ASSERT_NE(op, nullptr);
  EchoServer echo;
  auto out = e->catalog().invoke(*op, parse(R"({"method":"GET","url":")" + echo.server.url("/x") + R"("})"),
                                 plugin::InvokeContext{.run_id = "r1", .step_id = "s1"});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(json::get(*out, "status").convert<int>(), 200);
  EXPECT_TRUE(json::get(json::get(*out, "body"), "ok").convert<bool>());
}

TEST(Engine, ApiTokenConnectionAddsItsHeaderOnEveryCall) {
  test::TempDir dir;
  auto e = open_engine(dir);
  ASSERT_TRUE(e);
  auth::AddRequest add;
  add.name = "key1";
  add.connector = "http";
  add.token = "tok-123456789";
  add.settings = {{"auth", "api_token"}, {"header", "X-Api-Key"}, {"scheme", ""}};
  ASSERT_TRUE(e->connections().add(add).ok());
  EchoServer echo;
  const plugin::ActionInfo* op = e->catalog().find("http.request");
  auto out = e->catalog().invoke(*op, parse(R"({"method":"GET","url":")" + echo.server.url("/x") + R"("})"),
                                 plugin::InvokeContext{.connection = "key1"});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  std::lock_guard lock(echo.mu);
  EXPECT_EQ(echo.api_key, "tok-123456789");
}

TEST(Engine, ConnectionsPersistAcrossEnginesOnTheSameHome) {
  test::TempDir dir;
  {
    auto e = open_engine(dir);
    ASSERT_TRUE(e);
    auth::AddRequest add;
    add.name = "key2";
    add.connector = "http";
    add.token = "persisted-token-42";
    add.settings = {{"auth", "api_token"}};
    ASSERT_TRUE(e->connections().add(add).ok());
  }
  auto e = open_engine(dir);
  ASSERT_TRUE(e);
  EchoServer echo;
  auto out = e->catalog().invoke(*e->catalog().find("http.request"),
                                 parse(R"({"method":"GET","url":")" + echo.server.url("/x") + R"("})"),
                                 plugin::InvokeContext{.connection = "key2"});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  std::lock_guard lock(echo.mu);
  EXPECT_NE(echo.authorization.find("persisted-token-42"), std::string::npos) << echo.authorization;
}

TEST(Engine, UnknownConnectionFailsTheCallWithHowToAddIt) {
  test::TempDir dir;
  auto e = open_engine(dir);
  ASSERT_TRUE(e);
  EchoServer echo;
  auto out = e->catalog().invoke(*e->catalog().find("http.request"),
                                 parse(R"({"method":"GET","url":")" + echo.server.url("/x") + R"("})"),
                                 plugin::InvokeContext{.connection = "nobody"});
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("connection 'nobody' does not exist"), std::string::npos)
      << out.status().message();
  EXPECT_NE(out.status().message().find("weft connections add nobody"), std::string::npos);
  EXPECT_EQ(echo.server.requests(), 0);
}

TEST(Engine, MissingConnectorDirectoryIsOneDiagnosticAndTheRestLoads) {
  test::TempDir dir;
  auto e = engine::Engine::open(
      {.home = dir.path() + "/home", .connector_dirs = {dir.path() + "/no-such-dir", test::connector_dir()}});
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  ASSERT_EQ((*e)->load_diagnostics().size(), 1u);
  EXPECT_NE((*e)->load_diagnostics()[0].find("no-such-dir"), std::string::npos);
  EXPECT_NE((*e)->catalog().find("http.request"), nullptr);
}

// The daemon's pick-up of new connector files: added to the running engine, usable at once, a bad
// file or missing directory reported per path while the rest loads.
TEST(Engine, LoadConnectorsAddsToARunningEngineAndReportsEachRefusedPath) {
  test::TempDir dir;
  auto e = engine::Engine::open({.home = dir.path() + "/home", .connector_dirs = {}});
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  EXPECT_EQ((*e)->catalog().find("http.request"), nullptr);
  const std::string bogus = dir.write("plugins/not-a-plugin.so", "not a shared library");
  std::vector<std::string> diagnostics;
  Status s = (*e)->load_connectors(
      {bogus, test::connector_dir() + "/http.so", dir.path() + "/no-such-dir"}, &diagnostics);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("not-a-plugin.so"), std::string::npos) << s.message();
  ASSERT_EQ(diagnostics.size(), 2u);
  EXPECT_NE(diagnostics[0].find("not-a-plugin.so"), std::string::npos) << diagnostics[0];
  EXPECT_NE(diagnostics[1].find("no-such-dir"), std::string::npos) << diagnostics[1];
  EXPECT_TRUE((*e)->load_diagnostics().empty());  // open()'s lines are unchanged

  const plugin::ActionInfo* op = (*e)->catalog().find("http.request");
  ASSERT_NE(op, nullptr);
  EchoServer echo;  // the new connector gets the engine's host services (HTTP)
  auto out = (*e)->catalog().invoke(
      *op, parse(R"({"method":"GET","url":")" + echo.server.url("/x") + R"("})"),
      plugin::InvokeContext{.run_id = "r1", .step_id = "s1"});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(json::get(*out, "status").convert<int>(), 200);

  // Loading it again is refused as a duplicate id; the loaded one stays.
  diagnostics.clear();
  s = (*e)->load_connectors({test::connector_dir() + "/http.so"}, &diagnostics);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("duplicate connector id 'http'"), std::string::npos) << s.message();
  EXPECT_EQ(diagnostics.size(), 1u);
  EXPECT_NE((*e)->catalog().find("http.request"), nullptr);
  EXPECT_TRUE((*e)->load_connectors({}, nullptr).ok());
}

TEST(Engine, HomeThatIsAFileIsRefusedWithTheReason) {
  test::TempDir dir;
  std::string file = dir.write("not-a-dir", "x");
  auto e = engine::Engine::open({.home = file, .connector_dirs = {}});
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find(file), std::string::npos) << e.status().message();
}

TEST(Engine, ConcurrentCallsShareOneClientAndAllSucceed) {
  test::TempDir dir;
  auto e = open_engine(dir);
  ASSERT_TRUE(e);
  EchoServer echo;
  const plugin::ActionInfo* op = e->catalog().find("http.request");
  Json input = parse(R"({"method":"GET","url":")" + echo.server.url("/x") + R"("})");
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        if (e->catalog().invoke(*op, input, plugin::InvokeContext{}).ok()) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 200);
  EXPECT_EQ(echo.server.requests(), 200);
}

}  // namespace
}  // namespace weft
