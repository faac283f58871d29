// Tests of weft-sandbox over real HTTP on 127.0.0.1: the OAuth flows of Restream and Livepush
// (rotation, reuse revokes the grant), the 429 switch in both Retry-After formats, the OME and
// OvenStudio APIs and their error formats, the state file, and the executable's command line.
#include "sandbox.hpp"

#include <Poco/DateTimeParser.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Pipe.h>
#include <Poco/PipeStream.h>
#include <Poco/Process.h>
#include <Poco/StreamCopier.h>
#include <Poco/Timestamp.h>
#include <Poco/URI.h>
#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <string>

#include "support/test_support.hpp"

namespace weft::sandbox {
namespace {

using ObjectPtr = Poco::JSON::Object::Ptr;

struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers;
  std::string body;
  Poco::Dynamic::Var json() const { return Poco::JSON::Parser().parse(body); }
  ObjectPtr object() const { return json().extract<ObjectPtr>(); }
};

class SandboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    box_ = std::make_unique<Sandbox>(options_);
    std::string error;
    ASSERT_TRUE(box_->start(error)) << error;
  }

  Reply call(const std::string& method, const std::string& path, const std::string& body = "",
             const std::map<std::string, std::string>& headers = {},
             const std::string& content_type = "application/json") {
    Poco::Net::HTTPClientSession session("127.0.0.1", box_->port());
    session.setTimeout(Poco::Timespan(10, 0));
    Poco::Net::HTTPRequest req(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    for (const auto& [k, v] : headers) req.set(k, v);
    if (!body.empty()) {
      req.setContentType(content_type);
      req.setContentLength(static_cast<std::streamsize>(body.size()));
    }
    session.sendRequest(req) << body;
    Poco::Net::HTTPResponse resp;
    std::istream& in = session.receiveResponse(resp);
    Reply r;
    r.status = resp.getStatus();
    for (const auto& [k, v] : resp) r.headers[k] = v;
    Poco::StreamCopier::copyToString(in, r.body);
    return r;
  }
  Reply form_post(const std::string& path, const std::string& form,
                  const std::map<std::string, std::string>& headers = {}) {
    return call("POST", path, form, headers, "application/x-www-form-urlencoded");
  }
  std::map<std::string, std::string> basic() {
    return {{"Authorization", "Basic " + base64("sandbox-client:sandbox-secret")}};
  }
  std::map<std::string, std::string> bearer(const std::string& t) {
    return {{"Authorization", "Bearer " + t}};
  }
  std::map<std::string, std::string> ome_auth() {
    return {{"Authorization", "Basic " + base64("ome-access-token")}};
  }

  // Authorizes at Restream's /login and returns the code from the redirect.
  std::string restream_code(const std::string& state = "st1") {
    Reply r = call("GET", "/restream/login?response_type=code&client_id=sandbox-client&redirect_uri=" +
                              Poco::URI("http://127.0.0.1:9/cb").toString() + "&state=" + state);
    EXPECT_EQ(r.status, 302);
    Poco::URI loc(r.headers["Location"]);
    std::map<std::string, std::string> q;
    for (const auto& [k, v] : loc.getQueryParameters()) q[k] = v;
    EXPECT_EQ(q["state"], state);
    return q["code"];
  }
  ObjectPtr restream_tokens() {
    Reply r = form_post(
        "/restream/oauth/token",
        "grant_type=authorization_code&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&code=" + restream_code(),
        basic());
    EXPECT_EQ(r.status, 200) << r.body;
    return r.object();
  }
  Reply restream_refresh(const std::string& refresh_token) {
    return form_post("/restream/oauth/token", "grant_type=refresh_token&refresh_token=" + refresh_token,
                     basic());
  }

  Options options_;
  std::unique_ptr<Sandbox> box_;
};

TEST_F(SandboxTest, RestreamAuthorizeRedirectsWithCodeAndState) {
  EXPECT_FALSE(restream_code("xyz").empty());
}

TEST_F(SandboxTest, RestreamDeniedAuthorizeRedirectsWithoutParameters) {
  ASSERT_EQ(call("POST", "/_control/deny-next-authorize").status, 200);
  Reply r = call("GET",
                 "/restream/login?response_type=code&client_id=sandbox-client&redirect_uri=http://"
                 "127.0.0.1:9/cb&state=s");
  EXPECT_EQ(r.status, 302);
  EXPECT_EQ(r.headers["Location"], "http://127.0.0.1:9/cb");
}

TEST_F(SandboxTest, RestreamTokenResponseHasSnakeAndCamelCaseTwins) {
  ObjectPtr t = restream_tokens();
  EXPECT_EQ(t->getValue<std::string>("access_token"), t->getValue<std::string>("accessToken"));
  EXPECT_EQ(t->getValue<std::string>("refresh_token"), t->getValue<std::string>("refreshToken"));
  EXPECT_EQ(t->getValue<int>("expires_in"), 3600);
  EXPECT_EQ(t->getValue<int>("accessTokenExpiresIn"), 3600);
  EXPECT_EQ(t->getValue<int>("refreshTokenExpiresIn"), 31536000);
  EXPECT_EQ(t->getValue<std::int64_t>("expires"), t->getValue<std::int64_t>("accessTokenExpiresEpoch"));
  EXPECT_EQ(t->getValue<std::string>("token_type"), "Bearer");
  EXPECT_EQ(t->getArray("scopeJson")->size(), 4u);
  EXPECT_EQ(t->getValue<std::string>("accessTokenExpiresAt").back(), 'Z');
}

TEST_F(SandboxTest, RestreamAcceptsClientCredentialsInTheBody) {
  Reply r =
      form_post("/restream/oauth/token",
                "grant_type=authorization_code&client_id=sandbox-client&client_secret=sandbox-secret&code=" +
                    restream_code());
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(SandboxTest, RestreamWrongClientSecretIsInvalidClient) {
  Reply r = form_post("/restream/oauth/token", "grant_type=authorization_code&code=" + restream_code(),
                      {{"Authorization", "Basic " + base64("sandbox-client:wrong")}});
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.object()->getValue<std::string>("error"), "invalid_client");
}

TEST_F(SandboxTest, RestreamCodeIsSingleUse) {
  std::string code = restream_code();
  EXPECT_EQ(form_post("/restream/oauth/token", "grant_type=authorization_code&code=" + code, basic()).status,
            200);
  Reply again = form_post("/restream/oauth/token", "grant_type=authorization_code&code=" + code, basic());
  EXPECT_EQ(again.status, 400);
  EXPECT_EQ(again.object()->getValue<std::string>("error"), "invalid_grant");
}

TEST_F(SandboxTest, RestreamRefreshRotatesAndInvalidatesThePreviousPair) {
  ObjectPtr first = restream_tokens();
  Reply r = restream_refresh(first->getValue<std::string>("refresh_token"));
  ASSERT_EQ(r.status, 200) << r.body;
  ObjectPtr second = r.object();
  EXPECT_NE(second->getValue<std::string>("refresh_token"), first->getValue<std::string>("refresh_token"));
  EXPECT_NE(second->getValue<std::string>("access_token"), first->getValue<std::string>("access_token"));
  EXPECT_EQ(call("GET", "/restream/v2/user/profile", "", bearer(first->getValue<std::string>("access_token")))
                .status,
            401);
  Reply profile =
      call("GET", "/restream/v2/user/profile", "", bearer(second->getValue<std::string>("access_token")));
  EXPECT_EQ(profile.status, 200);
  EXPECT_EQ(profile.object()->getValue<std::string>("username"), "sandbox");
}

TEST_F(SandboxTest, RestreamReusedRefreshTokenRevokesTheGrant) {
  ObjectPtr first = restream_tokens();
  ObjectPtr second = restream_refresh(first->getValue<std::string>("refresh_token")).object();
  Reply reuse = restream_refresh(first->getValue<std::string>("refresh_token"));
  EXPECT_EQ(reuse.status, 400);
  EXPECT_EQ(reuse.object()->getValue<std::string>("error"), "invalid_grant");
  // The current pair died with the grant.
  Reply current = restream_refresh(second->getValue<std::string>("refresh_token"));
  EXPECT_EQ(current.status, 400);
  EXPECT_EQ(current.object()->getValue<std::string>("error"), "invalid_grant");
  EXPECT_EQ(
      call("GET", "/restream/v2/user/profile", "", bearer(second->getValue<std::string>("access_token")))
          .status,
      401);
}

TEST_F(SandboxTest, RestreamRevokingTheAccessTokenRevokesItsRefreshToken) {
  ObjectPtr t = restream_tokens();
  Reply r = form_post("/restream/oauth/revoke",
                      "token=" + t->getValue<std::string>("access_token") + "&token_type_hint=access_token");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(restream_refresh(t->getValue<std::string>("refresh_token")).status, 400);
  EXPECT_EQ(form_post("/restream/oauth/revoke", "token=unknown").status, 200);
}

TEST_F(SandboxTest, RestreamBadTokenGetsTheDocumentedErrorBody) {
  Reply r = call("GET", "/restream/v2/user/channel/all", "", bearer("nope"));
  EXPECT_EQ(r.status, 401);
  ObjectPtr e = r.object()->getObject("error");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->getValue<int>("statusCode"), 401);
  EXPECT_EQ(e->getValue<int>("status"), 401);
  EXPECT_EQ(e->getValue<int>("code"), 401);
  EXPECT_EQ(e->getValue<std::string>("name"), "invalid_token");
  EXPECT_EQ(e->getValue<std::string>("message").rfind("Invalid token: ", 0), 0u);
}

TEST_F(SandboxTest, RestreamExpiredAccessTokenIsRejectedAndRefreshHelps) {
  ObjectPtr t = restream_tokens();
  ASSERT_EQ(call("POST", "/_control/restream/expire-tokens").status, 200);
  Reply r = call("GET", "/restream/v2/user/profile", "", bearer(t->getValue<std::string>("access_token")));
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body.find("expired"), std::string::npos);
  ObjectPtr fresh = restream_refresh(t->getValue<std::string>("refresh_token")).object();
  EXPECT_EQ(call("GET", "/restream/v2/user/profile", "", bearer(fresh->getValue<std::string>("access_token")))
                .status,
            200);
}

TEST_F(SandboxTest, RestreamChannelUpdatesAreVisible) {
  std::string at = restream_tokens()->getValue<std::string>("access_token");
  EXPECT_EQ(call("PATCH", "/restream/v2/user/channel/103", R"({"active":true})", bearer(at)).status, 200);
  EXPECT_TRUE(
      call("GET", "/restream/v2/user/channel/103", "", bearer(at)).object()->getValue<bool>("active"));
  EXPECT_EQ(call("PATCH", "/restream/v2/user/channel-meta/101", R"({"title":"New"})", bearer(at)).status,
            200);
  EXPECT_EQ(call("GET", "/restream/v2/user/channel-meta/101", "", bearer(at))
                .object()
                ->getValue<std::string>("title"),
            "New");
  Reply missing = call("GET", "/restream/v2/user/channel/999", "", bearer(at));
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.object()->getObject("error")->getValue<std::string>("message"), "Channel not found");
  EXPECT_EQ(call("GET", "/restream/v2/platform/all").status, 200);  // public
}

TEST_F(SandboxTest, RestreamEventsMoveThroughControlEndpoints) {
  std::string at = restream_tokens()->getValue<std::string>("access_token");
  Reply created = call("POST", "/_control/restream/events", R"({"title":"Launch"})");
  ASSERT_EQ(created.status, 201);
  std::string id = created.object()->getValue<std::string>("id");
  EXPECT_EQ(call("GET", "/restream/v2/user/events/upcoming", "", bearer(at))
                .json()
                .extract<Poco::JSON::Array::Ptr>()
                ->size(),
            3u);
  ASSERT_EQ(call("POST", "/_control/restream/events/" + id + "/start").status, 200);
  auto live = call("GET", "/restream/v2/user/events/in-progress", "", bearer(at))
                  .json()
                  .extract<Poco::JSON::Array::Ptr>();
  ASSERT_EQ(live->size(), 1u);
  EXPECT_EQ(live->getObject(0)->getValue<std::string>("id"), id);
  ASSERT_EQ(call("POST", "/_control/restream/events/" + id + "/finish").status, 200);
  ObjectPtr history = call("GET", "/restream/v2/user/events/history?page=1&limit=3", "", bearer(at)).object();
  EXPECT_EQ(history->getArray("items")->getObject(0)->getValue<std::string>("id"), id);
  EXPECT_EQ(history->getObject("pagination")->getValue<int>("pages_total"), 3);  // 8 finished, 3 a page
  Reply key = call("GET", "/restream/v2/user/events/" + id + "/streamKey", "", bearer(at));
  EXPECT_EQ(key.status, 200);
  EXPECT_FALSE(key.object()->getValue<std::string>("streamKey").empty());
  EXPECT_EQ(call("GET", "/restream/v2/user/events/history?limit=0", "", bearer(at)).status, 400);
}

// Strict like the documented server, so a manifest that POSTs or space-separates scopes fails here.
TEST_F(SandboxTest, LivepushRefusesATokenPostAndSpaceSeparatedScopes) {
  Reply auth =
      call("GET",
           "/livepush/id/oauth2/authorize?client_id=sandbox-client&redirect_uri=http://127.0.0.1:9/cb"
           "&response_type=code&scope=streams.read%20streams.create&state=s9");
  EXPECT_EQ(auth.status, 400);
  EXPECT_NE(auth.body.find("comma-separated"), std::string::npos) << auth.body;
  Reply post =
      call("POST", "/livepush/tokens/oauth2/access_token",
           "grant_type=authorization_code&client_id=sandbox-client&client_secret=sandbox-secret&code=x", {},
           "application/x-www-form-urlencoded");
  EXPECT_EQ(post.status, 405);
  EXPECT_NE(post.body.find("takes GET"), std::string::npos) << post.body;
  EXPECT_EQ(post.headers["Allow"], "GET");
}

TEST_F(SandboxTest, LivepushTokenIsAGetWithQueryParameters) {
  Reply auth =
      call("GET",
           "/livepush/id/oauth2/authorize?client_id=sandbox-client&redirect_uri=http://127.0.0.1:9/cb"
           "&response_type=code&scope=streams.read,streams.create&state=s9");
  ASSERT_EQ(auth.status, 302);
  Poco::URI loc(auth.headers["Location"]);
  std::string code;
  for (const auto& [k, v] : loc.getQueryParameters())
    if (k == "code") code = v;
  Reply tok =
      call("GET",
           "/livepush/tokens/oauth2/access_token?grant_type=authorization_code&client_id=sandbox-client"
           "&client_secret=sandbox-secret&redirect_uri=http://127.0.0.1:9/cb&code=" +
               code);
  ASSERT_EQ(tok.status, 200) << tok.body;
  ObjectPtr t = tok.object();
  EXPECT_EQ(t->getValue<std::string>("token_type"), "access_token");
  EXPECT_EQ(t->getValue<int>("expires_in"), 3600);
  std::string at = t->getValue<std::string>("access_token");
  Reply refreshed =
      call("GET",
           "/livepush/tokens/oauth2/access_token?grant_type=refresh_token&client_id=sandbox-client"
           "&client_secret=sandbox-secret&refresh_token=" +
               t->getValue<std::string>("refresh_token"));
  ASSERT_EQ(refreshed.status, 200);
  std::string at2 = refreshed.object()->getValue<std::string>("access_token");
  EXPECT_EQ(call("GET", "/livepush/squid/account/this", "", bearer(at)).status, 401);
  EXPECT_EQ(
      call("GET", "/livepush/squid/account/this", "", bearer(at2)).object()->getValue<std::string>("id"),
      "us_sandbox");
  Reply created =
      call("POST", "/livepush/octopus/streams", R"({"category":"simulcast","name":"Show"})", bearer(at2));
  ASSERT_EQ(created.status, 201);
  std::string sid = created.object()->getValue<std::string>("id");
  auto mine =
      call("GET", "/livepush/octopus/streams/mine", "", bearer(at2)).json().extract<Poco::JSON::Array::Ptr>();
  EXPECT_EQ(mine->size(), 2u);
  EXPECT_EQ(call("GET", "/livepush/octopus/streams/" + sid, "", bearer(at2))
                .object()
                ->getObject("data")
                ->getValue<std::string>("id"),
            sid);
  Reply bad = call("POST", "/livepush/octopus/streams", R"({"category":"other","name":"x"})", bearer(at2));
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.object()->getValue<std::string>("message").find("category"), std::string::npos);
}

TEST_F(SandboxTest, RateLimitBurstAnswers429WithRetryAfterSeconds) {
  ASSERT_EQ(call("POST", "/_control/rate-limit", R"({"burst":2,"format":"seconds","seconds":7})").status,
            200);
  for (int i = 0; i < 2; ++i) {
    Reply r = call("GET", "/ome/v1/vhosts", "", ome_auth());
    EXPECT_EQ(r.status, 429);
    EXPECT_EQ(r.headers["Retry-After"], "7");
  }
  EXPECT_EQ(call("GET", "/ome/v1/vhosts", "", ome_auth()).status, 200);
  EXPECT_EQ(call("GET", "/_control/counters").object()->getValue<int>("rate_limited"), 2);
}

TEST_F(SandboxTest, RateLimitBurstAnswers429WithRetryAfterHttpDate) {
  ASSERT_EQ(call("POST", "/_control/rate-limit", R"({"burst":1,"format":"date","seconds":120})").status, 200);
  Reply r = call("GET", "/restream/v2/platform/all");
  ASSERT_EQ(r.status, 429);
  ASSERT_TRUE(r.object()->getObject("error"));
  int tz = 0;
  Poco::DateTime when = Poco::DateTimeParser::parse(r.headers["Retry-After"], tz);
  auto ahead = (when.timestamp() - Poco::Timestamp()) / Poco::Timestamp::resolution();
  EXPECT_GT(ahead, 60);
  EXPECT_LE(ahead, 121);
  EXPECT_EQ(call("GET", "/restream/v2/platform/all").status, 200);
}

TEST_F(SandboxTest, RetryAfterCanBeAPastDateOrGarbage) {
  ASSERT_EQ(call("POST", "/_control/rate-limit", R"({"burst":1,"format":"past-date"})").status, 200);
  Reply past = call("GET", "/restream/v2/platform/all");
  ASSERT_EQ(past.status, 429);
  int tz = 0;
  Poco::DateTime when = Poco::DateTimeParser::parse(past.headers["Retry-After"], tz);
  EXPECT_LT(when.timestamp(), Poco::Timestamp());
  ASSERT_EQ(call("POST", "/_control/rate-limit", R"({"burst":1,"format":"garbage"})").status, 200);
  Reply garbage = call("GET", "/restream/v2/platform/all");
  ASSERT_EQ(garbage.status, 429);
  EXPECT_EQ(garbage.headers["Retry-After"], "soon-ish");
  EXPECT_EQ(call("POST", "/_control/rate-limit", R"({"burst":1,"format":"weeks"})").status, 400);
}

// README: reset is "back to the seed data, no tokens, no faults" — every switch, not only some.
TEST_F(SandboxTest, ResetTurnsOffEveryFaultSwitch) {
  ASSERT_EQ(call("POST", "/_control/rate-limit", R"({"burst":5,"format":"date","seconds":120})").status, 200);
  ASSERT_EQ(call("POST", "/_control/token-fault", R"({"mode":"truncated","count":5})").status, 200);
  ASSERT_EQ(call("POST", "/_control/faults", R"({"fail_rate":1.0})").status, 200);
  ASSERT_EQ(call("POST", "/_control/deny-next-authorize").status, 200);
  ASSERT_EQ(call("GET", "/restream/v2/platform/all").status, 429);  // the switches are on
  ASSERT_EQ(call("GET", "/_control/counters").object()->getValue<int>("rate_limited"), 1);

  ASSERT_EQ(call("POST", "/_control/reset").status, 200);
  EXPECT_FALSE(call("GET", "/_control/counters").object()->has("rate_limited"));
  EXPECT_EQ(call("GET", "/restream/v2/platform/all").status, 200);  // no burst, no failures
  // No token fault and no denied authorize: a real token answer.
  ObjectPtr tokens = restream_tokens();
  ASSERT_TRUE(tokens);
  EXPECT_TRUE(tokens->has("access_token"));
  // The Retry-After seconds are back to the default 1 (a burst set without "seconds" uses it).
  ASSERT_EQ(call("POST", "/_control/rate-limit", R"({"burst":1})").status, 200);
  Reply limited = call("GET", "/restream/v2/platform/all");
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(limited.headers["Retry-After"], "1");
}

TEST_F(SandboxTest, TokenFaultBreaksTheNextTokenAnswerOnly) {
  ASSERT_EQ(call("POST", "/_control/token-fault", R"({"mode":"truncated"})").status, 200);
  std::string code = restream_code();
  std::string form =
      "grant_type=authorization_code&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&code=" + code;
  Reply broken = form_post("/restream/oauth/token", form, basic());
  EXPECT_EQ(broken.status, 200);
  EXPECT_THROW(Poco::JSON::Parser().parse(broken.body), Poco::Exception);
  Reply real = form_post("/restream/oauth/token", form, basic());  // the code was not consumed
  ASSERT_EQ(real.status, 200) << real.body;
  EXPECT_TRUE(real.object()->has("access_token"));
  ASSERT_EQ(call("POST", "/_control/token-fault", R"({"mode":"expires_in_string"})").status, 200);
  Reply text = form_post(
      "/restream/oauth/token",
      "grant_type=refresh_token&refresh_token=" + real.object()->getValue<std::string>("refresh_token"),
      basic());
  ASSERT_EQ(text.status, 200) << text.body;
  EXPECT_TRUE(text.object()->get("expires_in").isString());
  EXPECT_EQ(call("POST", "/_control/token-fault", R"({"mode":"nonsense"})").status, 400);
}

TEST_F(SandboxTest, TokenEndpointsAreNotRateLimited) {
  ASSERT_EQ(call("POST", "/_control/rate-limit", R"({"burst":1})").status, 200);
  restream_tokens();
  EXPECT_EQ(call("GET", "/restream/v2/server/all").status, 429);
}

TEST_F(SandboxTest, FailRateOneAnswers503InTheProviderFormat) {
  ASSERT_EQ(call("POST", "/_control/faults", R"({"fail_rate":1.0})").status, 200);
  Reply r = call("GET", "/ome/v1/vhosts", "", ome_auth());
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.object()->getValue<int>("statusCode"), 503);
}

TEST_F(SandboxTest, OmeWrongTokenIs401WithBasicRealm) {
  Reply r = call("GET", "/ome/v1/vhosts", "", {{"Authorization", "Basic " + base64("wrong")}});
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.headers["WWW-Authenticate"], "Basic realm=\"OvenMediaEngine\"");
  EXPECT_EQ(r.object()->getValue<int>("statusCode"), 401);
  EXPECT_EQ(r.object()->getValue<std::string>("message"), "Unauthorized");
}

TEST_F(SandboxTest, OmePullStreamAppearsInListAndCanBeDeleted) {
  const std::string base = "/ome/v1/vhosts/default/apps/app/streams";
  Reply c = call("POST", base,
                 R"({"name":"pulled","urls":["rtsp://192.0.2.1/cam"],"properties":{"persistent":true}})",
                 ome_auth());
  ASSERT_EQ(c.status, 201) << c.body;
  auto list = call("GET", base, "", ome_auth()).object()->getArray("response");
  EXPECT_EQ(list->size(), 2u);
  EXPECT_EQ(call("POST", base, R"({"name":"pulled","urls":["rtsp://x"]})", ome_auth()).status, 409);
  EXPECT_EQ(call("GET", base + "/pulled", "", ome_auth())
                .object()
                ->getObject("response")
                ->getValue<std::string>("name"),
            "pulled");
  EXPECT_EQ(call("DELETE", base + "/pulled", "", ome_auth()).status, 200);
  Reply gone = call("GET", base + "/pulled", "", ome_auth());
  EXPECT_EQ(gone.status, 404);
  EXPECT_NE(gone.object()->getValue<std::string>("message").find("pulled"), std::string::npos);
}

TEST_F(SandboxTest, OmePushAndRecordLifecycleWithDuplicateIds) {
  const std::string app = "/ome/v1/vhosts/default/apps/app";
  const std::string push =
      R"({"id":"p1","stream":{"name":"stream"},"protocol":"rtmp","url":"rtmp://192.0.2.2/live","streamKey":"k"})";
  EXPECT_EQ(call("POST", app + ":startPush", push, ome_auth()).status, 200);
  EXPECT_EQ(call("POST", app + ":startPush", push, ome_auth()).status, 409);
  EXPECT_EQ(call("POST", app + ":pushes", "{}", ome_auth()).object()->getArray("response")->size(), 1u);
  EXPECT_EQ(call("POST", app + ":stopPush", R"({"id":"p1"})", ome_auth()).status, 200);
  EXPECT_EQ(call("POST", app + ":stopPush", R"({"id":"p1"})", ome_auth()).status, 404);
  EXPECT_EQ(
      call("POST", app + ":startRecord", R"({"id":"r1","stream":{"name":"stream"}})", ome_auth()).status,
      200);
  EXPECT_EQ(
      call("POST", app + ":startRecord", R"({"id":"r1","stream":{"name":"stream"}})", ome_auth()).status,
      409);
  EXPECT_EQ(
      call("POST", app + ":records", R"({"id":"r1"})", ome_auth()).object()->getArray("response")->size(),
      1u);
  EXPECT_EQ(call("POST", app + ":stopRecord", R"({"id":"r1"})", ome_auth()).status, 200);
}

TEST_F(SandboxTest, OmePublishControlMakesAStreamAppear) {
  ASSERT_EQ(call("POST", "/_control/ome/vhosts/default/apps/live/streams/cam1/publish").status, 200);
  auto list =
      call("GET", "/ome/v1/vhosts/default/apps/live/streams", "", ome_auth()).object()->getArray("response");
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ(list->getElement<std::string>(0), "cam1");
  Reply stats = call("GET", "/ome/v1/stats/current/vhosts/default/apps/live/streams/cam1", "", ome_auth());
  EXPECT_EQ(stats.status, 200);
  EXPECT_TRUE(stats.object()->getObject("response")->has("totalBytesIn"));
}

TEST_F(SandboxTest, OvenStudioSignedUrlNeedsBearerAndValidatesStreamName) {
  const std::string path = "/ovenstudio/v1/apis/aws/cf/signedUrl";
  const std::string body =
      R"({"stream":{"stream_name":"stream"},"policy":{"date_less_than":"2030-01-01T00:00:00Z"}})";
  EXPECT_EQ(call("POST", path, body, bearer("wrong")).status, 401);
  Reply r = call("POST", path, body, bearer("ovenstudio-token"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.object()->getObject("response")->getValue<std::string>("url").rfind("https://", 0), 0u);
  Reply bad = call("POST", path,
                   R"({"stream":{"stream_name":""},"policy":{"date_less_than":"2030-01-01T00:00:00Z"}})",
                   bearer("ovenstudio-token"));
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.object()->getValue<std::string>("message"), "Invalid value: stream_name");
}

TEST(SandboxStateFile, TokensSurviveARestart) {
  test::TempDir dir;
  Options o;
  o.state_file = dir.path() + "/state.json";
  std::string refresh;
  {
    Sandbox box(o);
    std::string error;
    ASSERT_TRUE(box.start(error)) << error;
    Poco::Net::HTTPClientSession s("127.0.0.1", box.port());
    Poco::Net::HTTPRequest req(
        "GET", "/restream/login?response_type=code&client_id=sandbox-client&redirect_uri=http://h/cb");
    s.sendRequest(req);
    Poco::Net::HTTPResponse resp;
    s.receiveResponse(resp).ignore(1 << 20);
    std::string code;
    for (const auto& [k, v] : Poco::URI(resp.get("Location")).getQueryParameters())
      if (k == "code") code = v;
    std::string form =
        "grant_type=authorization_code&client_id=sandbox-client&client_secret=sandbox-secret&code=" + code;
    Poco::Net::HTTPRequest post("POST", "/restream/oauth/token");
    post.setContentType("application/x-www-form-urlencoded");
    post.setContentLength(static_cast<std::streamsize>(form.size()));
    s.sendRequest(post) << form;
    std::string body;
    Poco::StreamCopier::copyToString(s.receiveResponse(resp), body);
    refresh = Poco::JSON::Parser().parse(body).extract<ObjectPtr>()->getValue<std::string>("refresh_token");
  }
  Sandbox again(o);
  std::string error;
  ASSERT_TRUE(again.start(error)) << error;
  Poco::Net::HTTPClientSession s("127.0.0.1", again.port());
  std::string form =
      "grant_type=refresh_token&client_id=sandbox-client&client_secret=sandbox-secret&refresh_token=" +
      refresh;
  Poco::Net::HTTPRequest post("POST", "/restream/oauth/token");
  post.setContentType("application/x-www-form-urlencoded");
  post.setContentLength(static_cast<std::streamsize>(form.size()));
  s.sendRequest(post) << form;
  Poco::Net::HTTPResponse resp;
  s.receiveResponse(resp).ignore(1 << 20);
  EXPECT_EQ(resp.getStatus(), 200);
}

TEST(SandboxStateFile, CorruptStateFileIsRefusedWithItsPath) {
  test::TempDir dir;
  Options o;
  o.state_file = dir.write("state.json", "not json");
  Sandbox box(o);
  std::string error;
  EXPECT_FALSE(box.start(error));
  EXPECT_NE(error.find("state.json"), std::string::npos);
}

TEST(SandboxCommandLine, BadFlagsAreUsageErrors) {
  std::string error;
  EXPECT_FALSE(parse_options({"--fail-rate", "2"}, error));
  EXPECT_NE(error.find("--fail-rate"), std::string::npos);
  EXPECT_FALSE(parse_options({"--retry-after-format", "weeks"}, error));
  EXPECT_EQ(parse_options({"--retry-after-format", "garbage"}, error)->retry_after_format,
            RetryAfterFormat::kGarbage);
  EXPECT_FALSE(parse_options({"--port"}, error));
  auto ok = parse_options(
      {"--port", "0", "--rate-limit-burst", "3", "--retry-after-format", "date", "--slow-ms", "5"}, error);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->rate_limit_burst, 3);
  EXPECT_EQ(ok->retry_after_format, RetryAfterFormat::kDate);
  auto r = test::run_process(WEFT_SANDBOX_BIN, {"--bogus"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown flag '--bogus'"), std::string::npos);
}

TEST(SandboxCommandLine, PrintsListeningLineServesAndStopsOnSignal) {
  Poco::Pipe out;
  Poco::ProcessHandle ph = Poco::Process::launch(WEFT_SANDBOX_BIN, {"--port", "0", "--rate-limit-burst", "1"},
                                                 nullptr, &out, nullptr);
  Poco::PipeInputStream in(out);
  std::string line;
  std::getline(in, line);
  const std::string prefix = "weft-sandbox listening on http://127.0.0.1:";
  ASSERT_EQ(line.rfind(prefix, 0), 0u) << line;
  auto port = static_cast<Poco::UInt16>(std::stoi(line.substr(prefix.size())));
  Poco::Net::HTTPClientSession s("127.0.0.1", port);
  Poco::Net::HTTPRequest req("GET", "/restream/v2/platform/all");
  s.sendRequest(req);
  Poco::Net::HTTPResponse resp;
  s.receiveResponse(resp).ignore(1 << 20);
  EXPECT_EQ(resp.getStatus(), 429);            // the burst from the command line
  Poco::Process::requestTermination(ph.id());  // SIGINT
  EXPECT_EQ(ph.wait(), 0);
}

}  // namespace
}  // namespace weft::sandbox
