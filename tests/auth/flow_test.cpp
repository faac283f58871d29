// Network-free pieces of the OAuth2 flow: spec resolution, authorize URL, PKCE, callback parsing,
// token request styles and the token response table (RELIABILITY rows 2 and 6).
#include "auth/flow.hpp"

#include <Poco/URI.h>
#include <gtest/gtest.h>

#include "auth/spec.hpp"

namespace weft::auth {
namespace {

constexpr std::int64_t kNow = 1'800'000'000;

Json parse(const std::string& text) { return *json::parse(text); }

std::map<std::string, std::string> query_of(const std::string& url) {
  std::map<std::string, std::string> q;
  for (auto& [k, v] : Poco::URI(url).getQueryParameters()) q[k] = v;
  return q;
}

TEST(AuthSpec, ManifestValuesAreReadAndConnectionSettingsOverrideUrls) {
  Json m = parse(R"({"kind":"oauth2","authorize_url":"https://api.restream.io/login",
    "token_url":"https://api.restream.io/oauth/token","revoke_url":"https://api.restream.io/oauth/revoke",
    "scopes":["profile.read","stream.read"],"client_auth":"basic","rotates_refresh_token":true,
    "refresh_token_lifetime_seconds":31536000})");
  auto s =
      resolve_spec(m, {{"token_url", "http://127.0.0.1:9/token"}, {"authorize_url", "http://127.0.0.1:9/a"}});
  ASSERT_TRUE(s) << s.status().to_string();
  EXPECT_EQ(s->kind, AuthKind::kOAuth2);
  EXPECT_EQ(s->token_url, "http://127.0.0.1:9/token");
  EXPECT_EQ(s->authorize_url, "http://127.0.0.1:9/a");
  EXPECT_EQ(s->revoke_url, "https://api.restream.io/oauth/revoke");
  EXPECT_EQ(s->scopes, (std::vector<std::string>{"profile.read", "stream.read"}));
  EXPECT_TRUE(s->rotates_refresh_token);
  EXPECT_EQ(s->refresh_token_lifetime_seconds, 31536000);
}

TEST(AuthSpec, GenericProviderIsDeclaredEntirelyThroughSettingsOnAnAuthNoneConnector) {
  Json none = parse(R"({"kind":"none"})");
  auto plain = resolve_spec(none, {});
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->kind, AuthKind::kNone);
  auto s = resolve_spec(none, {{"auth", "oauth2"},
                               {"authorize_url", "https://id.example/auth"},
                               {"token_url", "https://id.example/token"},
                               {"scopes", "a,b c"},
                               {"scope_separator", "comma"},
                               {"client_auth", "query"},
                               {"token_method", "GET"},
                               {"pkce", "true"},
                               {"authorize_param.prompt", "consent"}});
  ASSERT_TRUE(s) << s.status().to_string();
  EXPECT_EQ(s->kind, AuthKind::kOAuth2);
  EXPECT_EQ(s->scopes, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(s->scope_separator, ",");
  EXPECT_EQ(s->client_auth, ClientAuth::kQuery);
  EXPECT_EQ(s->token_method, TokenMethod::kGet);
  EXPECT_TRUE(s->pkce);
  EXPECT_EQ(s->authorize_params.at("prompt"), "consent");

  auto t = resolve_spec(none, {{"auth", "api_token"}, {"header", "X-Api-Key"}, {"scheme", ""}});
  ASSERT_TRUE(t);
  EXPECT_EQ(t->kind, AuthKind::kApiToken);
  EXPECT_EQ(t->header, "X-Api-Key");
  EXPECT_EQ(t->scheme, "");
}

TEST(AuthSpec, BadValuesAreOneClearErrorNamingTheField) {
  Json none = parse(R"({"kind":"none"})");
  auto missing = resolve_spec(none, {{"auth", "oauth2"}, {"authorize_url", "https://x/a"}});
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.status().message().find("token_url"), std::string::npos);
  auto relative =
      resolve_spec(none, {{"auth", "oauth2"}, {"authorize_url", "/a"}, {"token_url", "https://x/t"}});
  ASSERT_FALSE(relative);
  EXPECT_NE(relative.status().message().find("authorize_url"), std::string::npos);
  auto sep = resolve_spec(none, {{"auth", "oauth2"},
                                 {"authorize_url", "https://x/a"},
                                 {"token_url", "https://x/t"},
                                 {"scope_separator", ";"}});
  ASSERT_FALSE(sep);
  EXPECT_NE(sep.status().message().find("scope_separator"), std::string::npos);
  auto kind = resolve_spec(none, {{"auth", "saml"}});
  ASSERT_FALSE(kind);
  EXPECT_EQ(kind.status().code(), Code::kInvalidArgument);
}

TEST(AuthorizeUrl, CarriesCodeFlowParametersAndJoinsScopesWithTheDeclaredSeparator) {
  AuthSpec s;
  s.kind = AuthKind::kOAuth2;
  s.authorize_url = "https://id.livepush.io/oauth2/authorize";
  s.scopes = {"profile.read", "streams.read"};
  s.scope_separator = ",";
  auto q = query_of(authorize_url(s, "cid", "http://127.0.0.1:8788/oauth/callback", "st4te", ""));
  EXPECT_EQ(q["response_type"], "code");
  EXPECT_EQ(q["client_id"], "cid");
  EXPECT_EQ(q["redirect_uri"], "http://127.0.0.1:8788/oauth/callback");
  EXPECT_EQ(q["state"], "st4te");
  EXPECT_EQ(q["scope"], "profile.read,streams.read");
  EXPECT_EQ(q.count("code_challenge"), 0u);
  s.scope_separator = " ";
  EXPECT_EQ(query_of(authorize_url(s, "cid", "http://x/cb", "s", ""))["scope"], "profile.read streams.read");
}

TEST(Pkce, VerifierIsLongRandomAndChallengeIsS256) {
  std::string v1 = random_token(64), v2 = random_token(64);
  EXPECT_GE(v1.size(), 43u);
  EXPECT_LE(v1.size(), 128u);
  EXPECT_NE(v1, v2);
  EXPECT_EQ(v1.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            std::string::npos);
  // RFC 7636 Appendix B test vector.
  EXPECT_EQ(pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

TEST(Callback, ParsesParametersAndRefusesADuplicatedState) {
  auto p = parse_callback("/oauth/callback?code=a%2Fb&state=s1&scope=x");
  ASSERT_TRUE(p);
  EXPECT_EQ(*p->code, "a/b");
  EXPECT_EQ(*p->state, "s1");
  auto dup = parse_callback("state=a&state=b&code=c");
  ASSERT_FALSE(dup);
  EXPECT_NE(dup.status().message().find("twice"), std::string::npos);
  EXPECT_FALSE(parse_callback("state=%zz"));
  auto empty = parse_callback("");
  ASSERT_TRUE(empty);
  EXPECT_FALSE(empty->state);
  EXPECT_FALSE(parse_callback(std::string(10000, 'a')));
}

TEST(TokenRequest, ClientAuthenticatesWithBasicBodyOrQueryAndLivepushUsesGet) {
  AuthSpec s;
  s.kind = AuthKind::kOAuth2;
  s.token_url = "https://auth.example/token";
  ClientCredentials c{"id:1", "s&cret"};
  auto basic = token_request(s, c, {{"grant_type", "refresh_token"}, {"refresh_token", "r t"}});
  EXPECT_EQ(basic.method, "POST");
  EXPECT_EQ(basic.body, "grant_type=refresh_token&refresh_token=r%20t");
  bool has_basic = false;
  for (auto& [k, v] : basic.headers)
    has_basic |= k == "Authorization" && v == "Basic " + base64("id%3A1:s%26cret");
  EXPECT_TRUE(has_basic);

  s.client_auth = ClientAuth::kBody;
  auto body = token_request(s, c, {{"grant_type", "refresh_token"}});
  EXPECT_EQ(body.body, "grant_type=refresh_token&client_id=id%3A1&client_secret=s%26cret");

  s.client_auth = ClientAuth::kQuery;
  auto query = token_request(s, c, {{"grant_type", "refresh_token"}});
  EXPECT_EQ(query.url, "https://auth.example/token?client_id=id%3A1&client_secret=s%26cret");

  s.token_method = TokenMethod::kGet;
  auto get = token_request(s, c, {{"code", "abc"}, {"grant_type", "authorization_code"}});
  EXPECT_EQ(get.method, "GET");
  EXPECT_TRUE(get.body.empty());
  auto q = query_of(get.url);
  EXPECT_EQ(q["code"], "abc");
  EXPECT_EQ(q["client_id"], "id:1");
  EXPECT_EQ(q["client_secret"], "s&cret");
  EXPECT_EQ(q["grant_type"], "authorization_code");
}

struct TableRow {
  const char* name;
  int status;
  const char* body;
  Code code;  // kOk: parsed
};

class TokenResponseTable : public ::testing::TestWithParam<TableRow> {};

TEST_P(TokenResponseTable, IsParsedOrRefusedWithATypedError) {
  const TableRow& row = GetParam();
  auto t = parse_token_response(row.status, row.body, kNow);
  if (row.code == Code::kOk) {
    ASSERT_TRUE(t) << row.name << ": " << t.status().to_string();
  } else {
    ASSERT_FALSE(t) << row.name;
    EXPECT_EQ(t.status().code(), row.code) << row.name << ": " << t.status().to_string();
    EXPECT_FALSE(t.status().message().empty());
  }
}

INSTANTIATE_TEST_SUITE_P(
    Rows, TokenResponseTable,
    ::testing::Values(
        TableRow{"standard", 200, R"({"access_token":"a","token_type":"Bearer","expires_in":3600})",
                 Code::kOk},
        TableRow{"expires_in_string", 200, R"({"access_token":"a","expires_in":"3600"})", Code::kOk},
        TableRow{"expires_epoch", 200, R"({"access_token":"a","expires":1800003600})", Code::kOk},
        TableRow{"camel_case_only", 200, R"({"accessToken":"a","accessTokenExpiresIn":3600})", Code::kOk},
        TableRow{"missing_access_token", 200, R"({"token_type":"Bearer","expires_in":3600})",
                 Code::kInvalidArgument},
        TableRow{"empty_access_token", 200, R"({"access_token":""})", Code::kInvalidArgument},
        TableRow{"access_token_not_string", 200, R"({"access_token":5})", Code::kInvalidArgument},
        TableRow{"negative_expiry", 200, R"({"access_token":"a","expires_in":-5})", Code::kInvalidArgument},
        TableRow{"absurd_expiry", 200, R"({"access_token":"a","expires_in":1e12})", Code::kInvalidArgument},
        TableRow{"absurd_epoch", 200, R"({"access_token":"a","expires":99999999999999})",
                 Code::kInvalidArgument},
        TableRow{"garbage_expiry_string", 200, R"({"access_token":"a","expires_in":"soon"})",
                 Code::kInvalidArgument},
        TableRow{"html", 200, "<html><body>login</body></html>", Code::kInvalidArgument},
        TableRow{"truncated", 200, R"({"access_token":"a","expi)", Code::kInvalidArgument},
        TableRow{"not_an_object", 200, R"(["a"])", Code::kInvalidArgument},
        TableRow{"empty_body", 200, "", Code::kInvalidArgument},
        TableRow{"invalid_grant", 400, R"({"error":"invalid_grant"})", Code::kUnauthenticated},
        TableRow{"unauthorized_html", 401, "<html/>", Code::kUnauthenticated},
        TableRow{"error_with_200", 200, R"({"error":"invalid_grant"})", Code::kUnauthenticated},
        TableRow{"rate_limited", 429, "", Code::kRateLimited},
        TableRow{"server_error", 503, "oops", Code::kUnavailable}),
    [](const ::testing::TestParamInfo<TableRow>& i) { return std::string(i.param.name); });

TEST(TokenResponse, ReadsRestreamTwinsLivepushTypeAndScopes) {
  auto r =
      parse_token_response(200,
                           R"({"accessToken":"a1","refreshToken":"r1","accessTokenExpiresEpoch":1800003600,
          "refreshTokenExpiresIn":31536000,"scopeJson":["profile.read","stream.read"],"tokenType":"Bearer"})",
                           kNow);
  ASSERT_TRUE(r) << r.status().to_string();
  EXPECT_EQ(r->access_token, "a1");
  EXPECT_EQ(r->refresh_token, "r1");
  EXPECT_EQ(r->expires_at, kNow + 3600);
  EXPECT_EQ(r->refresh_expires_at, kNow + 31536000);
  EXPECT_EQ(*r->scopes, (std::vector<std::string>{"profile.read", "stream.read"}));

  auto lp = parse_token_response(
      200, R"({"access_token":"a","refresh_token":"r","token_type":"access_token","expires_in":3600})", kNow);
  ASSERT_TRUE(lp);
  EXPECT_EQ(lp->token_type, "access_token");
  EXPECT_EQ(lp->expires_at, kNow + 3600);

  auto comma = parse_token_response(200, R"({"access_token":"a","scope":"a,b"})", kNow);
  ASSERT_TRUE(comma);
  EXPECT_EQ(*comma->scopes, (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(comma->refresh_token);  // absent: the caller keeps the old one
  EXPECT_FALSE(comma->expires_at);
}

TEST(TokenResponse, ErrorMessagesNeverContainTheToken) {
  auto r = parse_token_response(200, R"({"access_token":"secret-token-value","expires_in":-1})", kNow);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().message().find("secret-token-value"), std::string::npos);
}

}  // namespace
}  // namespace weft::auth
