#include <gtest/gtest.h>

#include "engine/http_bridge.hpp"

namespace weft {
namespace {

Json parse(const std::string& s) {
  auto r = json::parse(s);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return *r;
}

TEST(HttpBridge, BuildsRequestWithQueryHeadersAndJsonBody) {
  auto req = http_bridge::request_from_json(parse(
      R"({"method":"post","url":"http://127.0.0.1:1/x?a=1","query":{"b":"two words","n":3,"t":true},
          "headers":{"X-Id":"7"},"json":{"k":[1,2]},"timeout_ms":1500})"));
  ASSERT_TRUE(req.ok()) << req.status().to_string();
  EXPECT_EQ(req->method, "POST");
  EXPECT_EQ(req->url, "http://127.0.0.1:1/x?a=1&b=two%20words&n=3&t=true");
  EXPECT_EQ(req->body, R"({"k":[1,2]})");
  ASSERT_EQ(req->headers.size(), 2u);
  EXPECT_EQ(req->headers[1].first, "Content-Type");
  EXPECT_EQ(req->timeout->count(), 1500);
}

TEST(HttpBridge, RefusesBadShapesWithTheMemberNamed) {
  struct Case {
    const char* json;
    const char* needle;
  } cases[] = {
      {R"([1])", "must be a JSON object"},
      {R"({"method":"GET"})", "'url'"},
      {R"({"url":"http://x","method":"G ET"})", "not an HTTP method"},
      {R"({"url":"http://x","headers":[1]})", "'headers' must be an object"},
      {R"({"url":"http://x","headers":{"a":{"b":1}}})", "header 'a'"},
      {R"({"url":"http://x","body":"a","json":{}})", "both 'body' and 'json'"},
      {R"({"url":"http://x","timeout_ms":0})", "timeout_ms"},
      {R"({"url":"http://x","query":"a=b"})", "'query' must be an object"},
  };
  for (const auto& c : cases) {
    auto req = http_bridge::request_from_json(parse(c.json));
    ASSERT_FALSE(req.ok()) << c.json;
    EXPECT_EQ(req.status().code(), Code::kInvalidArgument);
    EXPECT_NE(req.status().message().find(c.needle), std::string::npos) << req.status().message();
  }
}

TEST(HttpBridge, ResponseHeadersAreLowerCasedAndRepeatsJoined) {
  http::Response r;
  r.status = 201;
  r.headers = {{"Content-Type", "application/json"}, {"Set-Cookie", "a=1"}, {"set-cookie", "b=2"}};
  r.body = "{}";
  EXPECT_EQ(json::stringify(http_bridge::response_to_json(r)),
            R"({"status":201,"headers":{"content-type":"application/json","set-cookie":"a=1, b=2"},"body":"{}"})");
}

TEST(HttpBridge, AuthDefaultsToTrue) {
  EXPECT_TRUE(http_bridge::wants_auth(parse(R"({"url":"x"})")));
  EXPECT_FALSE(http_bridge::wants_auth(parse(R"({"url":"x","auth":false})")));
}

}  // namespace
}  // namespace weft
