// The daemon's HTTP API over real loopback HTTP, with fake engine services.
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>
#include <gtest/gtest.h>

#include <mutex>

#include "core/json.hpp"
#include "daemon/daemon.hpp"
#include "support/test_support.hpp"

namespace weft::daemon {
namespace {

struct FakeRuns : RunService {
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> triggered;  // name, trigger json
  Result<Json> trigger_workflow(const std::string& name, const Json& trigger, bool async) override {
    std::lock_guard<std::mutex> l(mu);
    if (name != "hello" && name != "signed" && name != "slow")
      return Status(Code::kNotFound, "no workflow '" + name + "'");
    triggered.emplace_back(name, json::stringify(trigger));
    return json::object({{"id", "r-1"},
                         {"status", async ? "queued" : "succeeded"},
                         {"output", json::object({{"ok", true}})}});
  }
  Result<Json> list_runs(const Json& filter) override {
    auto arr = json::new_array();
    arr->add(json::object({{"id", "r-1"}, {"filter", json::clone(filter)}}));
    return Json(arr);
  }
  Result<Json> get_run(const std::string& id) override {
    if (id != "r-1") return Status(Code::kNotFound, "no run '" + id + "'");
    return json::object({{"id", "r-1"}, {"status", "succeeded"}});
  }
};

struct FakeWorkflows : WorkflowService {
  Result<Json> list_workflows() override {
    auto arr = json::new_array();
    arr->add(json::object({{"name", "hello"}}));
    return Json(arr);
  }
  Result<WebhookPolicy> webhook_policy(const std::string& name) override {
    if (name == "hello" || name == "slow") return WebhookPolicy{};
    if (name == "signed")
      return WebhookPolicy{WebhookPolicy::Kind::kHmacSha256, "hook-secret", "X-Weft-Signature"};
    return Status(Code::kNotFound, "no webhook");
  }
  bool webhook_is_async(const std::string& name) override { return name == "slow"; }
};

struct FakeCatalog : CatalogView {
  Result<Json> list_connectors() override {
    auto arr = json::new_array();
    arr->add(json::object({{"id", "slack"}, {"version", "1.0.0"}}));
    return Json(arr);
  }
};

struct FakeConnections : ConnectionService {
  std::string last_redirect;
  Result<Json> list_connections() override { return Json(json::new_array()); }
  Result<Json> create_connection(const Json& body) override {
    return json::object({{"name", json::get_string(body, "name")}});
  }
  Status delete_connection(const std::string& name) override {
    if (name != "my-slack") return {Code::kNotFound, "no connection '" + name + "'"};
    return Status::Ok();
  }
  Result<std::string> start_authorization(const std::string& name, const std::string& redirect_uri) override {
    last_redirect = redirect_uri;
    return "https://provider.example/authorize?client_id=x&state=abc&conn=" + name;
  }
  Result<std::string> finish_authorization(const std::map<std::string, std::string>& query) override {
    auto it = query.find("state");
    if (it == query.end() || it->second != "abc")
      return Status(Code::kInvalidArgument, "unknown or expired state");
    return std::string("my-slack");
  }
};

struct HttpResult {
  int status = 0;
  std::string body;
  Poco::Net::HTTPResponse response;
};

class Api : public ::testing::Test {
 protected:
  void SetUp() override {
    Config c;
    c.listen_port = 0;
    c.home = home.path();
    c.admin_token_file = home.path() + "/admin.token";
    c.max_body_bytes = 4096;
    c.public_url = "https://weft.example.com";
    services = Services{&runs, &catalog, &connections, &workflows, [this]() -> Result<Json> {
                          ++reloads;
                          return json::object({{"workflows", 1}});
                        }};
    declare_engine_metrics(metrics);
    daemon = std::make_unique<Daemon>(c, services, metrics);
    Status s = daemon->start();
    ASSERT_TRUE(s.ok()) << s.message();
    token = daemon->admin_token();
  }

  HttpResult call(const std::string& method, const std::string& path, const std::string& body = "",
                  std::map<std::string, std::string> headers = {}, bool auth = true) {
    Poco::Net::HTTPClientSession session("127.0.0.1", daemon->port());
    session.setTimeout(Poco::Timespan(10, 0));
    Poco::Net::HTTPRequest req(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    if (auth) req.set("Authorization", "Bearer " + token);
    for (const auto& [k, v] : headers) req.set(k, v);
    if (!body.empty() || method == "POST") req.setContentLength(static_cast<std::streamsize>(body.size()));
    session.sendRequest(req) << body;
    HttpResult r;
    std::istream& in = session.receiveResponse(r.response);
    r.status = r.response.getStatus();
    Poco::StreamCopier::copyToString(in, r.body);
    return r;
  }

  static std::string error_code(const HttpResult& r) {
    auto doc = json::parse(r.body);
    return doc ? json::get_string(json::get(*doc, "error"), "code") : "(not json: " + r.body + ")";
  }

  test::TempDir home;
  FakeRuns runs;
  FakeWorkflows workflows;
  FakeCatalog catalog;
  FakeConnections connections;
  int reloads = 0;
  Services services;
  Metrics metrics;
  std::unique_ptr<Daemon> daemon;
  std::string token;
};

TEST_F(Api, HealthzNeedsNoToken) {
  auto r = call("GET", "/healthz", "", {}, false);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"status":"ok"})");
}

TEST_F(Api, EveryAdminRouteIsUnauthorizedWithoutOrWithAWrongToken) {
  const std::vector<std::pair<std::string, std::string>> routes = {
      {"GET", "/v1/connectors"},
      {"GET", "/v1/connections"},
      {"POST", "/v1/connections"},
      {"DELETE", "/v1/connections/my-slack"},
      {"POST", "/v1/connections/my-slack/authorize"},
      {"GET", "/v1/workflows"},
      {"POST", "/v1/workflows/hello/runs"},
      {"GET", "/v1/runs"},
      {"GET", "/v1/runs/r-1"},
      {"POST", "/v1/reload"},
      {"GET", "/metrics"},
      {"GET", "/v1/no-such-thing"}};
  for (const auto& [method, path] : routes) {
    auto none = call(method, path, "", {}, false);
    EXPECT_EQ(none.status, 401) << method << " " << path;
    EXPECT_EQ(none.body, R"({"error":{"code":"unauthenticated","message":"missing or wrong admin token"}})");
    auto wrong = call(method, path, "", {{"Authorization", "Bearer " + std::string(64, '0')}}, false);
    EXPECT_EQ(wrong.status, 401) << method << " " << path;
    auto prefix = call(method, path, "", {{"Authorization", "Bearer " + token.substr(0, 63)}}, false);
    EXPECT_EQ(prefix.status, 401) << method << " " << path;
  }
  EXPECT_EQ(runs.triggered.size(), 0u);
  EXPECT_EQ(reloads, 0);
}

TEST_F(Api, ListsComeFromTheServices) {
  EXPECT_EQ(call("GET", "/v1/connectors").body, R"([{"id":"slack","version":"1.0.0"}])");
  EXPECT_EQ(call("GET", "/v1/workflows").body, R"([{"name":"hello"}])");
  EXPECT_EQ(call("GET", "/v1/connections").body, "[]");
  auto runs_list = call("GET", "/v1/runs?workflow=hello&limit=5");
  EXPECT_EQ(runs_list.status, 200);
  EXPECT_EQ(runs_list.body, R"([{"id":"r-1","filter":{"workflow":"hello","limit":5}}])");
  EXPECT_EQ(call("GET", "/v1/runs?limit=0").status, 400);
  EXPECT_EQ(call("GET", "/v1/runs/r-1").body, R"({"id":"r-1","status":"succeeded"})");
  auto missing = call("GET", "/v1/runs/r-2");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body, R"({"error":{"code":"not_found","message":"no run 'r-2'"}})");
}

TEST_F(Api, TriggeringARunPassesInputsAndAnswersWithTheRun) {
  auto r = call("POST", "/v1/workflows/hello/runs", R"({"inputs":{"who":"ada"}})");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("status":"succeeded")"), std::string::npos);
  ASSERT_EQ(runs.triggered.size(), 1u);
  EXPECT_EQ(runs.triggered[0].second, R"({"type":"api","inputs":{"who":"ada"}})");
  auto async = call("POST", "/v1/workflows/hello/runs", R"({"async":true})");
  EXPECT_EQ(async.status, 202);
  EXPECT_EQ(async.response.get("Location", ""), "/v1/runs/r-1");
  EXPECT_EQ(call("POST", "/v1/workflows/nope/runs", "{}").status, 404);
}

TEST_F(Api, BadJsonIsABadRequestWithTheParserReason) {
  auto r = call("POST", "/v1/workflows/hello/runs", R"({"inputs": )");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(error_code(r), "invalid_argument");
  EXPECT_NE(r.body.find("request body is not valid JSON"), std::string::npos) << r.body;
  auto arr = call("POST", "/v1/workflows/hello/runs", "[1]");
  EXPECT_EQ(arr.status, 400);
  auto inputs = call("POST", "/v1/workflows/hello/runs", R"({"inputs": 3})");
  EXPECT_EQ(inputs.status, 400);
  EXPECT_NE(inputs.body.find("\\\"inputs\\\" must be an object"), std::string::npos) << inputs.body;
  EXPECT_EQ(call("POST", "/v1/connections", "nope").status, 400);
  EXPECT_TRUE(runs.triggered.empty());
}

TEST_F(Api, UnknownPathIs404AndWrongMethodIs405WithAllow) {
  auto nf = call("GET", "/nothing/here", "", {}, false);
  EXPECT_EQ(nf.status, 404);
  EXPECT_EQ(error_code(nf), "not_found");
  auto na = call("PUT", "/v1/runs/r-1");
  EXPECT_EQ(na.status, 405);
  EXPECT_EQ(na.response.get("Allow", ""), "GET");
  EXPECT_EQ(error_code(na), "method_not_allowed");
}

TEST_F(Api, TraversalInNamesIsRefusedBeforeAnyService) {
  for (const char* path :
       {"/hooks/..%2Fx", "/hooks/%2Fetc%2Fpasswd", "/hooks/.hidden", "/hooks/..", "/hooks/a%00b"}) {
    auto r = call("POST", path, "{}", {}, false);
    EXPECT_TRUE(r.status == 400 || r.status == 404) << path << " " << r.status;
    EXPECT_NE(r.status, 200) << path;
  }
  auto enc = call("POST", "/v1/workflows/..%2Fsecrets/runs", "{}");
  EXPECT_EQ(enc.status, 400);
  EXPECT_NE(enc.body.find("invalid workflow name '../secrets'"), std::string::npos) << enc.body;
  EXPECT_EQ(call("DELETE", "/v1/connections/%2Fetc%2Fpasswd").status, 400);
  EXPECT_EQ(call("POST", "/hooks/../x", "{}", {}, false).status, 404);
  EXPECT_TRUE(runs.triggered.empty());
}

TEST_F(Api, BodyOverTheLimitIs413WithoutReadingIt) {
  // Declares 100 MB and sends none of it: the answer comes from Content-Length alone.
  Poco::Net::HTTPClientSession session("127.0.0.1", daemon->port());
  session.setTimeout(Poco::Timespan(10, 0));
  Poco::Net::HTTPRequest req("POST", "/hooks/hello", Poco::Net::HTTPMessage::HTTP_1_1);
  req.setContentLength64(100LL * 1024 * 1024);
  session.sendRequest(req).flush();
  Poco::Net::HTTPResponse resp;
  std::string body;
  Poco::StreamCopier::copyToString(session.receiveResponse(resp), body);
  EXPECT_EQ(resp.getStatus(), 413);
  EXPECT_NE(body.find("max_body_bytes (4096 bytes)"), std::string::npos) << body;
  EXPECT_FALSE(resp.getKeepAlive());

  // Chunked bodies have no length up front: refused once they pass the limit.
  Poco::Net::HTTPClientSession s2("127.0.0.1", daemon->port());
  Poco::Net::HTTPRequest chunked("POST", "/v1/workflows/hello/runs", Poco::Net::HTTPMessage::HTTP_1_1);
  chunked.set("Authorization", "Bearer " + token);
  chunked.setChunkedTransferEncoding(true);
  s2.sendRequest(chunked) << std::string(5000, ' ');
  Poco::Net::HTTPResponse r2;
  std::string b2;
  Poco::StreamCopier::copyToString(s2.receiveResponse(r2), b2);
  EXPECT_EQ(r2.getStatus(), 413);
  EXPECT_TRUE(runs.triggered.empty());
}

TEST_F(Api, WebhookBodyHeadersAndQueryReachTheTrigger) {
  auto r = call("POST", "/hooks/hello?source=ci&x=1", R"({"event":"push"})",
                {{"Content-Type", "application/json"}, {"X-Event", "push"}, {"Cookie", "sid=1"}}, false);
  EXPECT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(runs.triggered.size(), 1u);
  auto trig = json::parse(runs.triggered[0].second);
  ASSERT_TRUE(trig);
  EXPECT_EQ(json::get_string(*trig, "type"), "webhook");
  EXPECT_EQ(json::get_string(json::get(*trig, "body"), "event"), "push");
  EXPECT_EQ(json::get_string(json::get(*trig, "headers"), "x-event"), "push");
  EXPECT_TRUE(json::get(json::get(*trig, "headers"), "cookie").isEmpty());
  EXPECT_EQ(json::get_string(json::get(*trig, "query"), "source"), "ci");

  auto text = call("POST", "/hooks/hello", "plain words", {{"Content-Type", "text/plain"}}, false);
  EXPECT_EQ(text.status, 200);
  EXPECT_NE(runs.triggered[1].second.find(R"("body":"plain words")"), std::string::npos);
  auto bad = call("POST", "/hooks/hello", "{oops", {{"Content-Type", "application/json"}}, false);
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(call("POST", "/hooks/unknown", "{}", {}, false).status, 404);
}

TEST_F(Api, AsyncWebhookAnswers202WithTheRunId) {
  auto r = call("POST", "/hooks/slow", "{}", {}, false);
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(r.response.get("Location", ""), "/v1/runs/r-1");
  EXPECT_NE(r.body.find(R"("id":"r-1")"), std::string::npos);
}

TEST_F(Api, SignedWebhookNeedsTheRightSignature) {
  const std::string body = R"({"n":1})";
  const std::string sig = "sha256=" + hmac_sha256_hex("hook-secret", body);
  auto good = call("POST", "/hooks/signed", body, {{"X-Weft-Signature", sig}}, false);
  EXPECT_EQ(good.status, 200) << good.body;
  EXPECT_EQ(runs.triggered.size(), 1u);
  EXPECT_EQ(runs.triggered[0].second.find("sha256="), std::string::npos);  // the signature is not recorded
  auto bad = call("POST", "/hooks/signed", body + " ", {{"X-Weft-Signature", sig}}, false);
  EXPECT_EQ(bad.status, 401);
  EXPECT_EQ(error_code(bad), "unauthenticated");
  EXPECT_EQ(call("POST", "/hooks/signed", body, {}, false).status, 401);
  EXPECT_EQ(runs.triggered.size(), 1u);
}

TEST_F(Api, ConnectionsCreateDeleteAndAuthorize) {
  auto created = call("POST", "/v1/connections", R"({"name":"my-slack","connector":"slack"})");
  EXPECT_EQ(created.status, 201);
  EXPECT_EQ(call("POST", "/v1/connections", R"({"name":"../x"})").status, 400);
  EXPECT_EQ(call("DELETE", "/v1/connections/my-slack").status, 200);
  EXPECT_EQ(call("DELETE", "/v1/connections/other").status, 404);
  auto auth = call("POST", "/v1/connections/my-slack/authorize");
  EXPECT_EQ(auth.status, 200);
  EXPECT_NE(auth.body.find(R"("authorize_url":"https://provider.example/authorize?)"), std::string::npos);
  EXPECT_EQ(connections.last_redirect, "https://weft.example.com/oauth/callback");
}

TEST_F(Api, OAuthCallbackNeedsNoTokenAndTheServiceChecksState) {
  auto ok = call("GET", "/oauth/callback?code=c&state=abc", "", {}, false);
  EXPECT_EQ(ok.status, 200);
  EXPECT_NE(ok.body.find("'my-slack' is authorized"), std::string::npos);
  auto bad = call("GET", "/oauth/callback?code=c&state=forged", "", {}, false);
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("unknown or expired state"), std::string::npos);
}

TEST_F(Api, ReloadCallsTheCallback) {
  auto r = call("POST", "/v1/reload");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"workflows":1})");
  EXPECT_EQ(reloads, 1);
}

TEST_F(Api, MetricsAreExposedInPrometheusTextAndCountApiRequests) {
  call("GET", "/v1/workflows");
  auto r = call("GET", "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.response.getContentType(), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(r.body.find("# TYPE weft_runs_total counter"), std::string::npos);
  EXPECT_NE(r.body.find("weft_api_requests_total{route=\"/v1/workflows\",code=\"200\"} 1"), std::string::npos)
      << r.body;
}

TEST(ApiStart, BusyPortIsOneClearError) {
  Poco::Net::ServerSocket taken(Poco::Net::SocketAddress("127.0.0.1", 0));
  test::TempDir home;
  Config c;
  c.listen_port = taken.address().port();
  c.admin_token_file = home.path() + "/admin.token";
  Metrics m;
  Daemon d(c, Services{}, m);
  Status s = d.start();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_EQ(s.message(),
            "cannot listen on 127.0.0.1:" + std::to_string(c.listen_port) + ": address already in use");
}

TEST(ApiStart, TokenFileOthersCanReadStopsTheStart) {
  test::TempDir home;
  std::string path = home.write("admin.token", std::string(64, 'b'));
  ::chmod(path.c_str(), 0640);
  Config c;
  c.listen_port = 0;
  c.admin_token_file = path;
  Metrics m;
  Daemon d(c, Services{}, m);
  Status s = d.start();
  EXPECT_EQ(s.code(), Code::kPermissionDenied);
  EXPECT_EQ(d.port(), 0);
}

TEST(ApiStart, MissingServicesAnswer503) {
  test::TempDir home;
  Config c;
  c.listen_port = 0;
  c.admin_token_file = home.path() + "/admin.token";
  Metrics m;
  Daemon d(c, Services{}, m);
  ASSERT_TRUE(d.start().ok());
  Poco::Net::HTTPClientSession session("127.0.0.1", d.port());
  Poco::Net::HTTPRequest req("GET", "/v1/runs", Poco::Net::HTTPMessage::HTTP_1_1);
  req.set("Authorization", "Bearer " + d.admin_token());
  session.sendRequest(req);
  Poco::Net::HTTPResponse resp;
  std::string body;
  Poco::StreamCopier::copyToString(session.receiveResponse(resp), body);
  EXPECT_EQ(resp.getStatus(), 503);
  EXPECT_NE(body.find("runs is not available in this build"), std::string::npos);
}

}  // namespace
}  // namespace weft::daemon
