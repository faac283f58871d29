#include <gtest/gtest.h>

#include <vector>

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

// The text the host hands a connector is written straight from the response; it must be the very
// text of the object form, for escapes, repeats in any case, non-ASCII bytes and empty parts too.
TEST(HttpBridge, ResponseTextIsTheObjectsTextByteForByte) {
  std::vector<http::Response> cases(5);
  cases[0].status = 201;
  cases[0].headers = {{"Content-Type", "application/json"}, {"Set-Cookie", "a=1"}, {"set-cookie", "b=2"}};
  cases[0].body = "{}";
  cases[1].status = 200;  // nothing at all
  cases[2].status = 502;
  cases[2].headers = {{"X-Quote", "say \"hi\"\\"}, {"X-Ctl", std::string("a\tb\x01", 5)}, {"X-A", "1"},
                      {"x-a", "2"}, {"X-A", "3"}, {"X-Utf8", "caf\xc3\xa9"}};
  cases[2].body = "line 1\nline 2\r\n\"quoted\" \\ \x7f \xe2\x82\xac";
  cases[3].status = 204;
  cases[3].headers = {{"", ""}, {"Empty", ""}};
  cases[4].status = 200;
  cases[4].body = std::string(100000, 'x') + "\"";
  for (const auto& r : cases) {
    EXPECT_EQ(http_bridge::response_to_text(r), json::stringify(http_bridge::response_to_json(r))) << r.status;
    auto back = json::parse(http_bridge::response_to_text(r));
    ASSERT_TRUE(back.ok()) << back.status().to_string();
    EXPECT_EQ(json::get_string(*back, "body"), r.body);
  }
}

TEST(HttpBridge, AuthDefaultsToTrue) {
  EXPECT_TRUE(http_bridge::wants_auth(parse(R"({"url":"x"})")));
  EXPECT_FALSE(http_bridge::wants_auth(parse(R"({"url":"x","auth":false})")));
}

}  // namespace
}  // namespace weft
