// The built http connector (lib/weft/connectors/http.so) against a real loopback server.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/json.hpp"
#include "plugin/registry.hpp"
#include "poco_host_services.hpp"
#include "support/test_support.hpp"

namespace weft::plugin {
namespace {

class HttpConnector : public ::testing::Test {
 protected:
  void SetUp() override {
    Status st = registry.load_file(weft::test::connector_dir() + "/http.so");
    ASSERT_TRUE(st.ok()) << st.message();
    op = registry.find("http.request");
    ASSERT_NE(op, nullptr);
  }
  Result<Json> call_json(const Json& input) { return registry.invoke(*op, input, ctx); }
  Result<Json> call(const std::string& input) {
    auto doc = json::parse(input);
    EXPECT_TRUE(doc.ok());
    return call_json(*doc);
  }

  fakes::PocoHostServices services;
  Registry registry{&services};
  const ActionInfo* op = nullptr;
  InvokeContext ctx{"run", "step", "", "", std::nullopt};
};

// Records what reached the server and answers per path.
struct Seen {
  std::string method, uri, content_type, body, custom;
};

TEST_F(HttpConnector, ManifestDeclaresNoAuthAndNoConnection) {
  auto info = registry.connector("http");
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->auth_kind, "none");
  EXPECT_FALSE(op->requires_connection);
  EXPECT_FALSE(json::get_string(json::get(json::get(op->input_schema(), "properties"), "url"), "description").empty());
}

TEST_F(HttpConnector, PostsJsonAndParsesAJsonResponse) {
  Seen seen;
  weft::test::LocalServer server([&](auto& req, auto& resp) {
    seen = {req.getMethod(), req.getURI(), req.getContentType(), weft::test::read_body(req), req.get("X-Custom", "")};
    resp.setContentType("application/json; charset=utf-8");
    resp.send() << R"({"id":42,"tags":["a"]})";
  });
  Json input = json::object({{"method", std::string("POST")},
                             {"url", server.url("/items")},
                             {"headers", json::object({{"X-Custom", std::string("yes")}})},
                             {"query", json::object({{"page", 2}, {"q", std::string("a b")}})},
                             {"json", json::object({{"name", std::string("x")}})}});
  auto out = call_json(input);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.uri, "/items?page=2&q=a%20b");
  EXPECT_EQ(seen.content_type, "application/json");
  EXPECT_EQ(seen.body, R"({"name":"x"})");
  EXPECT_EQ(seen.custom, "yes");
  EXPECT_EQ(json::get(*out, "status").convert<int>(), 200);
  EXPECT_EQ(json::stringify(json::get(*out, "body")), R"({"id":42,"tags":["a"]})");
}

TEST_F(HttpConnector, TextResponseStaysAString) {
  weft::test::LocalServer server([](auto&, auto& resp) {
    resp.setContentType("text/plain");
    resp.send() << "{\"looks\":\"like json\"}";
  });
  auto out = call(R"({"method":"GET","url":")" + server.url("/t") + R"("})");
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  ASSERT_TRUE(json::get(*out, "body").isString());
  EXPECT_EQ(json::get_string(*out, "body"), "{\"looks\":\"like json\"}");
  EXPECT_EQ(json::get_string(json::get(*out, "headers"), "Content-Type"), "text/plain");
}

// A body labelled JSON is the document when it is one (pretty-printed, nested, with escapes), and
// the text itself when it is not a whole object or array: broken, a bare scalar, trailing bytes.
TEST_F(HttpConnector, JsonLabelledBodyIsTheDocumentOnlyWhenItIsOne) {
  struct Case {
    std::string body;
    std::string expected;  // the output's body as JSON text
  };
  const std::vector<Case> cases = {
      {"{\n  \"b\": [1, {\"c\": \"x\\u00e9\\n\"}],\n  \"a\": null\n}\n", "{\"a\":null,\"b\":[1,{\"c\":\"x\xC3\xA9\\n\"}]}"},
      {" [ ] ", "[]"},
      {R"({"a":1)", R"("{\"a\":1")"},
      {R"({"a":1} trailing)", R"("{\"a\":1} trailing")"},
      {"42", R"("42")"},
      {R"("just a string")", R"("\"just a string\"")"},
      {"", R"("")"},
  };
  std::size_t i = 0;
  weft::test::LocalServer server([&](auto&, auto& resp) {
    resp.setContentType("application/problem+json");
    resp.send() << cases[i].body;
  });
  for (i = 0; i < cases.size(); ++i) {
    auto out = call(R"({"method":"GET","url":")" + server.url("/j") + R"("})");
    ASSERT_TRUE(out.ok()) << i << ": " << out.status().to_string();
    EXPECT_EQ(json::stringify(json::get(*out, "body")), cases[i].expected) << i;
  }
}

TEST_F(HttpConnector, NonSuccessStatusFailsQuotingStatusAndBody) {
  weft::test::LocalServer server([](auto&, auto& resp) {
    resp.setStatus(Poco::Net::HTTPResponse::HTTP_NOT_FOUND);
    resp.setContentType("application/json");
    resp.send() << R"({"error":"no such item"})";
  });
  auto out = call(R"({"method":"GET","url":")" + server.url("/items/9?token=abc") + R"("})");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().message(), "http.request failed (http_status): HTTP 404 from GET " + server.url("/items/9") +
                                        R"(: {"error":"no such item"})");
}

TEST_F(HttpConnector, NonSuccessStatusIsOutputWhenFailOnStatusIsFalse) {
  weft::test::LocalServer server([](auto&, auto& resp) {
    resp.setStatus(Poco::Net::HTTPResponse::HTTP_SERVICE_UNAVAILABLE);
    resp.send() << "down";
  });
  auto out = call(R"({"method":"GET","url":")" + server.url("/") + R"(","fail_on_status":false})");
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(json::get(*out, "status").convert<int>(), 503);
  EXPECT_EQ(json::get_string(*out, "body"), "down");
}

TEST_F(HttpConnector, TextBodyIsSentAsIs) {
  Seen seen;
  weft::test::LocalServer server([&](auto& req, auto& resp) {
    seen.body = weft::test::read_body(req);
    seen.content_type = req.getContentType();
    resp.send() << "";
  });
  auto out = call(R"({"method":"PUT","url":")" + server.url("/") +
                  R"(","body":"a=1&b=2","headers":{"Content-Type":"application/x-www-form-urlencoded"}})");
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(seen.body, "a=1&b=2");
  EXPECT_EQ(seen.content_type, "application/x-www-form-urlencoded");
}

TEST_F(HttpConnector, BadInputIsRefusedBeforeAnyRequest) {
  weft::test::LocalServer server([](auto&, auto& resp) { resp.send() << "{}"; });
  auto no_url = call(std::string(R"({"method":"GET"})"));
  ASSERT_FALSE(no_url.ok());
  EXPECT_EQ(no_url.status().message(), "http.request input at (root): Missing required property 'url'.");
  auto bad_method = call(R"({"method":"FETCH","url":")" + server.url() + R"("})");
  ASSERT_FALSE(bad_method.ok());
  EXPECT_NE(bad_method.status().message().find("at /method: Failed to match against any enum values."),
            std::string::npos)
      << bad_method.status().message();
  auto both = call(R"({"method":"POST","url":")" + server.url() + R"(","json":{},"body":"x"})");
  ASSERT_FALSE(both.ok());
  EXPECT_EQ(both.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(both.status().message(), "http.request failed (invalid_argument): give either json or body, not both");
  EXPECT_EQ(server.requests(), 0);
}

TEST_F(HttpConnector, UnreachableServerIsAHostErrorQuoted) {
  std::string url;
  {
    weft::test::LocalServer gone([](auto&, auto& resp) { resp.send() << ""; });
    url = gone.url("/");
  }
  auto out = call(R"({"method":"GET","url":")" + url + R"(","timeout_ms":2000})");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), Code::kUnavailable);
  EXPECT_EQ(out.status().message().rfind("http.request failed (unavailable): ", 0), 0u) << out.status().message();
}

}  // namespace
}  // namespace weft::plugin
