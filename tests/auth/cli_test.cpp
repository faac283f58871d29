// `weft connections ...` logic in-process (auth/connections_cli.hpp): what a user sees, including the
// --listen redirect server driven by a real HTTP "browser".
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <gtest/gtest.h>

#include <sstream>

#include "auth/connections_cli.hpp"
#include "memory_vault.hpp"
#include "poco_transport.hpp"
#include "support/oauth_server.hpp"

namespace weft::auth {
namespace {

Result<Json> lookup(const std::string& id) {
  if (id != "restream") return Status(Code::kNotFound, "unknown connector '" + id + "'");
  return json::parse(
      R"({"id":"restream","auth":{"kind":"oauth2","authorize_url":"https://api.restream.io/login",
    "token_url":"https://api.restream.io/oauth/token","scopes":["profile.read"],"rotates_refresh_token":true}})");
}

// GET url; returns status, Location and body.
struct Got {
  int status = 0;
  std::string location;
  std::string body;
};
Got browse(const std::string& url) {
  Poco::URI uri(url);
  Poco::Net::HTTPClientSession s(uri.getHost(), uri.getPort());
  Poco::Net::HTTPRequest req("GET", uri.getPathAndQuery(), Poco::Net::HTTPMessage::HTTP_1_1);
  s.sendRequest(req);
  Poco::Net::HTTPResponse resp;
  std::istream& in = s.receiveResponse(resp);
  Got g;
  g.status = static_cast<int>(resp.getStatus());
  g.location = resp.get("Location", "");
  std::ostringstream b;
  Poco::StreamCopier::copyStream(in, b);
  g.body = b.str();
  return g;
}

class ConnectionsCli : public ::testing::Test {
 protected:
  ConnectionsCli() : mgr(vault, lookup, test::poco_transport()) {}
  void SetUp() override {
    std::ostringstream out, err;
    ASSERT_EQ(cli_add(mgr,
                      {"rs",
                       "restream",
                       "client-1",
                       "secret-1",
                       "",
                       {{"authorize_url", server.url("/authorize")}, {"token_url", server.url("/token")}}},
                      out, err),
              0)
        << err.str();
    EXPECT_NE(out.str().find("weft connections authorize rs"), std::string::npos);
  }
  test::MemoryVault vault;
  test::OAuthServer server{{.style = test::OAuthStyle::kRestream}};
  ConnectionManager mgr;
};

TEST_F(ConnectionsCli, AuthorizeWithListenCompletesTheRedirectAndActivatesTheConnection) {
  std::ostringstream out, err;
  AuthorizeCliOptions opts;
  opts.listen = "127.0.0.1:0";
  Got page;
  opts.on_url = [&](const std::string& url) {
    // The browser: the provider's consent page redirects to our listener.
    std::string authorize = server.url("/authorize") + url.substr(url.find('?'));
    Got consent = browse(authorize);
    ASSERT_EQ(consent.status, 302);
    page = browse(consent.location);
  };
  EXPECT_EQ(cli_authorize(mgr, "rs", opts, out, err), 0) << err.str();
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("is authorized"), std::string::npos);
  EXPECT_NE(out.str().find("connection 'rs' is active"), std::string::npos);
  EXPECT_EQ(vault.get("rs")->state, vault::ConnectionState::kActive);
  EXPECT_EQ(server.last_authorize().at("redirect_uri").rfind("http://127.0.0.1:", 0), 0u);
}

TEST_F(ConnectionsCli, AuthorizeWithListenRefusesAForgedRedirectAndStoresNoTokens) {
  std::ostringstream out, err;
  AuthorizeCliOptions opts;
  opts.listen = "127.0.0.1:0";
  Got page;
  opts.on_url = [&](const std::string& url) {
    Poco::URI u(url);
    std::string redirect;
    for (auto& [k, v] : u.getQueryParameters())
      if (k == "redirect_uri") redirect = v;
    page = browse(redirect + "?code=stolen&state=forged");
  };
  EXPECT_EQ(cli_authorize(mgr, "rs", opts, out, err), 1);
  EXPECT_EQ(page.status, 403);
  EXPECT_NE(err.str().find("state is unknown"), std::string::npos) << err.str();
  EXPECT_EQ(server.token_requests(), 0);
  EXPECT_EQ(vault.raw_secrets("rs").count(vault::kAccessToken), 0u);
}

TEST_F(ConnectionsCli, AuthorizeWithoutListenPrintsTheUrlAndAnUnreachableListenIsAClearError) {
  std::ostringstream out, err;
  AuthorizeCliOptions none;
  EXPECT_EQ(cli_authorize(mgr, "rs", none, out, err), 1);  // no redirect_uri setting, no --listen
  EXPECT_NE(err.str().find("--listen"), std::string::npos);
  AuthorizeCliOptions bad;
  bad.listen = "nonsense";
  EXPECT_EQ(cli_authorize(mgr, "rs", bad, out, err), 2);
  AuthorizeCliOptions timeout;
  timeout.listen = "127.0.0.1:0";
  timeout.wait = std::chrono::seconds(1);
  std::ostringstream err2;
  EXPECT_EQ(cli_authorize(mgr, "rs", timeout, out, err2), 1);
  EXPECT_NE(err2.str().find("no redirect arrived"), std::string::npos);
}

TEST_F(ConnectionsCli, ListJsonShowsStateScopesAndExpiryButNoSecret) {
  std::ostringstream out, err;
  AuthorizeCliOptions opts;
  opts.listen = "127.0.0.1:0";
  opts.on_url = [&](const std::string& url) {
    browse(browse(server.url("/authorize") + url.substr(url.find('?'))).location);
  };
  ASSERT_EQ(cli_authorize(mgr, "rs", opts, out, err), 0) << err.str();
  std::ostringstream list;
  ASSERT_EQ(cli_list(mgr, true, list, err), 0);
  auto doc = json::parse(list.str());
  ASSERT_TRUE(doc) << list.str();
  auto arr = json::as_array(*doc);
  ASSERT_EQ(arr->size(), 1u);
  Json c = arr->get(0);
  EXPECT_EQ(json::get_string(c, "name"), "rs");
  EXPECT_EQ(json::get_string(c, "state"), "active");
  EXPECT_EQ(json::get_string(c, "auth"), "oauth2");
  EXPECT_FALSE(json::get(c, "access_expires_at").isEmpty());
  for (const auto& [k, v] : vault.raw_secrets("rs")) {
    EXPECT_EQ(list.str().find(v), std::string::npos) << "secret " << k << " printed";
  }
  std::ostringstream text;
  ASSERT_EQ(cli_list(mgr, false, text, err), 0);
  EXPECT_NE(text.str().find("rs"), std::string::npos);
  EXPECT_EQ(text.str().find("secret-1"), std::string::npos);

  std::ostringstream r;
  EXPECT_EQ(cli_refresh(mgr, "rs", r, err), 0) << err.str();
  EXPECT_EQ(cli_remove(mgr, "rs", r, err), 0);
  std::ostringstream e2;
  EXPECT_EQ(cli_remove(mgr, "rs", r, e2), 1);
  EXPECT_NE(e2.str().find("weft: "), std::string::npos);
}

TEST(ConnectionsCliArgs, SetArgumentsMustBeKeyValue) {
  auto ok = parse_settings({"token_url=http://x/t?a=b", "pkce=true"});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->at("token_url"), "http://x/t?a=b");
  EXPECT_FALSE(parse_settings({"novalue"}));
  EXPECT_FALSE(parse_settings({"=v"}));
}

}  // namespace
}  // namespace weft::auth
