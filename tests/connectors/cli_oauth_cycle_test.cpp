// The OAuth2 connectors' whole lifecycle as a user drives it: `weft connections add` and
// `weft connections authorize --listen` (the built binary) against the sandbox's authorize and
// token endpoints, calls through the real engine (engine::Engine::open on the same home), the
// sandbox expiring every token, a reactive refresh, `weft connections refresh` from another
// process rotating the pair under the running engine, and `weft connections remove` revoking.
// The expiry comes right after the engine adopted the rotated pair: a 401 then must still cause a
// real refresh, not a resend of the token the vault holds.
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Pipe.h>
#include <Poco/PipeStream.h>
#include <Poco/Process.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "core/json.hpp"
#include "engine/engine.hpp"
#include "sandbox.hpp"
#include "support/test_support.hpp"

namespace weft::test {
namespace {

struct Provider {
  std::string connection;
  std::string connector;
  std::vector<std::string> settings;  // --set values, "{S}" replaced by the sandbox URL
  std::string call;                   // an action that needs the token
  std::string refresh_counter;        // the sandbox counter of refresh_token grants
  std::string expire_control;
};

class CliOAuthCycle : public ::testing::TestWithParam<Provider> {
 protected:
  void SetUp() override {
    std::string error;
    ASSERT_TRUE(box_.start(error)) << error;
  }

  std::pair<int, std::string> get(const std::string& url, std::string* location = nullptr,
                                  const std::string& method = "GET") {
    Poco::URI uri(url);
    Poco::Net::HTTPClientSession s("127.0.0.1", uri.getPort());
    s.setTimeout(Poco::Timespan(10, 0));
    Poco::Net::HTTPRequest req(method, uri.getPathAndQuery(), Poco::Net::HTTPMessage::HTTP_1_1);
    if (method == "POST") req.setContentLength(0);
    s.sendRequest(req);
    Poco::Net::HTTPResponse resp;
    std::string body;
    Poco::StreamCopier::copyToString(s.receiveResponse(resp), body);
    if (location != nullptr) *location = resp.get("Location", "");
    return {resp.getStatus(), body};
  }

  long long counter(const std::string& name) {
    auto doc = json::parse(get(box_.url("/_control/counters")).second);
    if (!doc) return -1;
    Json v = json::get(*doc, name);
    return v.isEmpty() ? 0 : v.convert<long long>();
  }

  ProcessResult weft(std::vector<std::string> args) {
    args.insert(args.begin(), {"--home", home_});
    return run_weft(args);
  }

  // `weft connections authorize NAME --listen`: read the URL it prints, let the sandbox approve,
  // follow the redirect to the listener, and return the exit code and output.
  std::pair<int, std::string> authorize(const std::string& name) {
    unsigned short port = 0;
    {
      Poco::Net::ServerSocket probe(Poco::Net::SocketAddress("127.0.0.1", 0));
      port = probe.address().port();
    }
    Poco::Pipe out;
    Poco::ProcessHandle ph = Poco::Process::launch(
        WEFT_CLI,
        {"--home", home_, "connections", "authorize", name, "--listen", "127.0.0.1:" + std::to_string(port)},
        nullptr, &out, &out);
    Poco::PipeInputStream in(out);
    std::string line, printed, url;
    while (url.empty() && std::getline(in, line)) {
      printed += line + "\n";
      auto at = line.find(box_.url());
      if (at != std::string::npos) url = line.substr(at, line.find_first_of(" \t", at) - at);
    }
    if (!url.empty()) {
      std::string location;
      EXPECT_EQ(get(url, &location).first, 302);
      EXPECT_EQ(location.rfind("http://127.0.0.1:" + std::to_string(port), 0), 0u) << location;
      get(location);  // the listener completes the exchange
    }
    std::string rest;
    Poco::StreamCopier::copyToString(in, rest);
    int code = ph.wait();
    return {code, printed + rest};
  }

  Result<Json> call(engine::Engine& e, const std::string& uses, const std::string& connection) {
    const plugin::ActionInfo* op = e.catalog().find(uses);
    if (op == nullptr) return Status(Code::kNotFound, uses + " is not loaded");
    return e.catalog().invoke(*op, Json(json::new_object()),
                              plugin::InvokeContext{.run_id = "r", .step_id = "s", .connection = connection});
  }

  std::string state_of(const std::string& name) {
    auto r = weft({"connections", "list", "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto doc = json::parse(r.out);
    if (!doc) return "unparsable: " + r.out;
    auto arr = json::as_array(*doc);
    for (std::size_t i = 0; arr && i < arr->size(); ++i)
      if (json::get_string(arr->get(i), "name") == name) return json::get_string(arr->get(i), "state");
    return "absent";
  }

  sandbox::Sandbox box_{sandbox::Options{}};
  TempDir dir_;
  std::string home_ = dir_.path() + "/home";
};

TEST_P(CliOAuthCycle, AuthorizeCallExpireRefreshCallRemove) {
  const Provider& p = GetParam();
  std::vector<std::string> add = {"connections",   "add",         p.connection,     "--connector",
                                  p.connector,     "--client-id", "sandbox-client", "--client-secret",
                                  "sandbox-secret"};
  for (std::string s : p.settings) {
    for (auto at = s.find("{S}"); at != std::string::npos; at = s.find("{S}")) s.replace(at, 3, box_.url());
    add.insert(add.end(), {"--set", s});
  }
  auto added = weft(add);
  ASSERT_EQ(added.exit_code, 0) << added.err;
  EXPECT_EQ(state_of(p.connection), "pending");

  auto [code, printed] = authorize(p.connection);
  ASSERT_EQ(code, 0) << printed;
  EXPECT_EQ(state_of(p.connection), "active");
  EXPECT_EQ(printed.find("sandbox-secret"), std::string::npos) << "a secret was printed";

  auto opened = engine::Engine::open({.home = home_, .connector_dirs = {connector_dir()}});
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  engine::Engine& e = **opened;
  auto first = call(e, p.call, p.connection);
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ(counter(p.refresh_counter), 0);

  auto refreshed = weft({"connections", "refresh", p.connection});  // another process rotates
  ASSERT_EQ(refreshed.exit_code, 0) << refreshed.err;
  EXPECT_EQ(counter(p.refresh_counter), 1);
  auto after_cli = call(e, p.call, p.connection);  // the engine's cached token was rotated away
  ASSERT_TRUE(after_cli.ok()) << after_cli.status().message();
  EXPECT_EQ(counter(p.refresh_counter), 1);  // the new pair was read from the vault, not refreshed again

  ASSERT_EQ(get(box_.url(p.expire_control), nullptr, "POST").first, 200);
  auto after_expiry = call(e, p.call, p.connection);
  ASSERT_TRUE(after_expiry.ok()) << after_expiry.status().message();
  EXPECT_EQ(counter(p.refresh_counter), 2);  // one reactive refresh
  EXPECT_EQ(state_of(p.connection), "active");

  auto removed = weft({"connections", "remove", p.connection});
  ASSERT_EQ(removed.exit_code, 0) << removed.err;
  EXPECT_EQ(state_of(p.connection), "absent");
  if (p.connector == "restream") {
    EXPECT_GE(counter("restream.revoke"), 1);  // declared revoke_url
  }
}

INSTANTIATE_TEST_SUITE_P(
    Providers, CliOAuthCycle,
    ::testing::Values(Provider{"my-restream",
                               "restream",
                               {"authorize_url={S}/restream/login", "token_url={S}/restream/oauth/token",
                                "revoke_url={S}/restream/oauth/revoke", "api_base={S}/restream"},
                               "restream.get_profile",
                               "restream.token.refresh_token",
                               "/_control/restream/expire-tokens"},
                      Provider{"my-livepush",
                               "livepush",
                               {"authorize_url={S}/livepush/id/oauth2/authorize",
                                "token_url={S}/livepush/tokens/oauth2/access_token",
                                "api_base={S}/livepush/octopus", "accounts_base={S}/livepush/squid"},
                               "livepush.get_account",
                               "livepush.token.refresh_token",
                               "/_control/livepush/expire-tokens"}),
    [](const ::testing::TestParamInfo<Provider>& info) { return info.param.connector; });

}  // namespace
}  // namespace weft::test

namespace weft::test {
namespace {

TEST(ExamplesCli, WeftValidateAcceptsEveryProviderExample) {
  TempDir dir;
  for (const char* file : {"restream_event_live.yaml", "restream_morning_digest.yaml",
                           "livepush_stream_on_webhook.yaml", "ome_record_on_publish.yaml"}) {
    auto r = run_weft({"--home", dir.path() + "/home", "validate", source_dir() + "/examples/" + file});
    EXPECT_EQ(r.exit_code, 0) << file << "\n" << r.out << r.err;
  }
}

// scripts/sandbox-demo.sh: the sandbox binary, `weft connections add/authorize` through its OAuth
// endpoints, and `weft run` of the Livepush webhook example, all offline.
TEST(ExamplesCli, SandboxDemoScriptRunsTheWebhookExampleEndToEnd) {
  auto r =
      run_process("/bin/bash", {source_dir() + "/scripts/sandbox-demo.sh", WEFT_BINARY_DIR}, {}, "", 90000);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, ::testing::HasSubstr("(hello) succeeded"));
  EXPECT_THAT(r.out, ::testing::HasSubstr("(restream-morning-digest) succeeded"));
  EXPECT_THAT(r.out, ::testing::HasSubstr("(livepush-stream-on-webhook) succeeded"));
  EXPECT_THAT(r.out, ::testing::HasSubstr("1 Restream event(s) tomorrow"));  // what the sink received
  // The daemon part: a webhook run, and a run started by OvenMediaEngine's polling trigger.
  EXPECT_THAT(r.out, ::testing::HasSubstr(R"("workflow":"livepush-stream-on-webhook","status":"succeeded")"));
  EXPECT_THAT(r.out, ::testing::HasSubstr(R"("workflow":"ome-record-on-publish","status":"succeeded")"));
  EXPECT_THAT(r.out, ::testing::HasSubstr("demo: done"));
}

}  // namespace
}  // namespace weft::test
