// The OAuth2 connectors' whole lifecycle as a user drives it, every step through the built
// binary: `weft connections add` and `weft connections authorize --listen` against the sandbox's
// authorize and token endpoints, calls as `weft run` of a one-step workflow using the connection
// (each a fresh process reading the pair from the vault), `weft connections refresh` rotating the
// pair between two runs, the sandbox expiring every token so the next `weft run` gets a 401 and
// must do a real refresh (and store the new pair for the run after it), and `weft connections
// remove` revoking.
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
  std::string api_counter;  // the sandbox counter of API calls
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

  // `weft run` of a one-step workflow calling `uses` with the connection; the run's JSON.
  Json run_call(const std::string& uses, const std::string& connection) {
    const std::string flow = dir_.write("call.yaml", "name: call\nsteps:\n  - id: call\n    uses: " + uses +
                                                         "\n    connection: " + connection + "\n");
    auto r = weft({"run", flow, "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    auto doc = json::parse(r.out);
    EXPECT_TRUE(doc.ok()) << "not JSON: " << r.out << r.err;
    if (!doc) return Json();
    EXPECT_EQ(json::get_string(*doc, "status"), "succeeded") << r.out;
    auto steps = json::as_array(json::get(*doc, "steps"));
    EXPECT_TRUE(steps && steps->size() == 1) << r.out;
    if (steps && steps->size() == 1) {
      EXPECT_EQ(json::get_string(steps->get(0), "status"), "succeeded") << r.out;
      EXPECT_TRUE(json::is_object(json::get(steps->get(0), "output"))) << r.out;
    }
    return *doc;
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

  const long long api_before = counter(p.api_counter);
  run_call(p.call, p.connection);  // the pair from the authorization, as stored
  EXPECT_EQ(counter(p.refresh_counter), 0);
  const long long per_run = counter(p.api_counter) - api_before;
  EXPECT_GE(per_run, 1)
      << get(box_.url("/_control/counters")).second;  // the run reached the API with the token

  auto refreshed = weft({"connections", "refresh", p.connection});  // rotates the pair
  ASSERT_EQ(refreshed.exit_code, 0) << refreshed.err;
  EXPECT_EQ(counter(p.refresh_counter), 1);
  run_call(p.call, p.connection);  // the rotated pair, read from the vault: no refresh of its own
  EXPECT_EQ(counter(p.refresh_counter), 1);

  ASSERT_EQ(get(box_.url(p.expire_control), nullptr, "POST").first, 200);
  run_call(p.call, p.connection);  // a 401, one reactive refresh, the call again
  EXPECT_EQ(counter(p.refresh_counter), 2);
  EXPECT_EQ(state_of(p.connection), "active");
  run_call(p.call, p.connection);  // the refreshed pair was stored: no refresh now
  EXPECT_EQ(counter(p.refresh_counter), 2);
  EXPECT_EQ(counter(p.api_counter) - api_before, 4 * per_run);  // accepted calls: the same in each run

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
                               "/_control/restream/expire-tokens",
                               "restream.api"},
                      Provider{"my-livepush",
                               "livepush",
                               {"authorize_url={S}/livepush/id/oauth2/authorize",
                                "token_url={S}/livepush/tokens/oauth2/access_token",
                                "api_base={S}/livepush/octopus", "accounts_base={S}/livepush/squid"},
                               "livepush.get_account",
                               "livepush.token.refresh_token",
                               "/_control/livepush/expire-tokens",
                               "livepush.api"}),
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
