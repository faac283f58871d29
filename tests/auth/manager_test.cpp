// The connection lifecycle against a real OAuth2 server on 127.0.0.1 (tests/support/oauth_server.hpp)
// and an in-memory vault: RELIABILITY rows 1, 2, 3, 5, 6, 7, plus 401 → refresh → retry, Livepush,
// OvenMediaEngine API tokens.
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <thread>

#include "auth/connection_manager.hpp"
#include "core/log.hpp"
#include "http/client.hpp"
#include "memory_vault.hpp"
#include "poco_transport.hpp"
#include "support/oauth_server.hpp"

namespace weft::auth {
namespace {

constexpr const char* kRedirect = "http://127.0.0.1:9/oauth/callback";

std::int64_t system_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const std::map<std::string, std::string>& manifests() {
  static const std::map<std::string, std::string> m = {
      {"restream",
       R"({"id":"restream","auth":{"kind":"oauth2","authorize_url":"https://api.restream.io/login",
        "token_url":"https://api.restream.io/oauth/token","revoke_url":"https://api.restream.io/oauth/revoke",
        "scopes":["profile.read","stream.read"],"client_auth":"basic","rotates_refresh_token":true,
        "refresh_token_lifetime_seconds":31536000}})"},
      {"livepush",
       R"({"id":"livepush","auth":{"kind":"oauth2","authorize_url":"https://id.livepush.io/oauth2/authorize",
        "token_url":"https://tokens.livepush.io/oauth2/access_token","scopes":["profile.read","streams.read"],
        "scope_separator":",","client_auth":"query","token_method":"GET","token_type_override":"Bearer"}})"},
      {"http",
       R"({"id":"http","auth":{"kind":"none"},"settings":{"api_key":{"type":"string","secret":true}}})"},
      {"ovenmediaengine", R"({"id":"ovenmediaengine","auth":{"kind":"api_token","header":"Authorization",
        "scheme":"Basic","encoding":"base64"}})"},
  };
  return m;
}

Result<Json> lookup(const std::string& id) {
  auto it = manifests().find(id);
  if (it == manifests().end()) return Status(Code::kNotFound, "unknown connector '" + id + "'");
  return json::parse(it->second);
}

http::Request get(const std::string& url) {
  http::Request r;
  r.url = url;
  return r;
}

std::string header(const http::Request& r, const std::string& name) {
  for (auto& [k, v] : r.headers)
    if (k == name) return v;
  return "";
}

http::Response unauthorized() {
  http::Response r;
  r.status = 401;
  return r;
}

class Lifecycle : public ::testing::Test {
 protected:
  void start(test::OAuthServerOptions o) {
    server = std::make_unique<test::OAuthServer>(std::move(o));
    vault.now = [this] { return system_now() + offset.load(); };
    mgr = make_manager("proc-a");
  }
  std::unique_ptr<ConnectionManager> make_manager(const std::string& owner) {
    ManagerOptions mo;
    mo.now = [this] { return system_now() + offset.load(); };
    mo.owner = owner;
    mo.on_needs_reauth = [this](const std::string& name, const std::string&) {
      std::lock_guard<std::mutex> g(events_mu);
      reauth_events.push_back(name);
    };
    return std::make_unique<ConnectionManager>(vault, lookup, test::poco_transport(), mo);
  }
  std::map<std::string, std::string> urls(bool revoke = true) {
    std::map<std::string, std::string> s = {{"authorize_url", server->url("/authorize")},
                                            {"token_url", server->url("/token")}};
    if (revoke) s["revoke_url"] = server->url("/revoke");
    return s;
  }
  void add(const std::string& name, const std::string& connector,
           std::map<std::string, std::string> settings) {
    Status s = mgr->add({name, connector, "client-1", "secret-1", "", std::move(settings)});
    ASSERT_TRUE(s.ok()) << s.to_string();
  }
  // Authorize in the "browser" and complete with the redirect.
  void authorize(const std::string& name) {
    auto start = mgr->authorize(name, kRedirect);
    ASSERT_TRUE(start) << start.status().to_string();
    std::string redirect = server->approve(start->url);
    ASSERT_FALSE(redirect.empty());
    auto done = mgr->complete(redirect);
    ASSERT_TRUE(done) << done.status().to_string();
  }
  Result<std::string> bearer(const std::string& name) {
    auto h = mgr->hook(name);
    if (!h) return h.status();
    http::Request req = get(server->url("/api/me"));
    Status s = (*h)->apply(req);
    if (!s.ok()) return s;
    return header(req, "Authorization");
  }

  std::atomic<std::int64_t> offset{0};
  std::mutex events_mu;
  std::vector<std::string> reauth_events;
  test::MemoryVault vault;
  std::unique_ptr<test::OAuthServer> server;
  std::unique_ptr<ConnectionManager> mgr;
};

// Row 1.
TEST_F(Lifecycle, CallbackWithMissingWrongReplayedOrExpiredStateIsRefusedWithoutExchange) {
  start({.style = test::OAuthStyle::kRestream});
  add("rs", "restream", urls());
  auto start1 = mgr->authorize("rs", kRedirect);
  ASSERT_TRUE(start1);
  std::string redirect = server->approve(start1->url);

  auto missing = mgr->complete("code=abc");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.status().code(), Code::kPermissionDenied);
  EXPECT_NE(missing.status().message().find("no state"), std::string::npos);
  auto wrong = mgr->complete("code=abc&state=forged");
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.status().code(), Code::kPermissionDenied);
  EXPECT_EQ(server->token_requests(), 0);

  auto ok = mgr->complete(redirect);
  ASSERT_TRUE(ok) << ok.status().to_string();
  EXPECT_EQ(server->token_requests(), 1);
  auto replay = mgr->complete(redirect);
  ASSERT_FALSE(replay);
  EXPECT_EQ(replay.status().code(), Code::kPermissionDenied);
  EXPECT_EQ(server->token_requests(), 1);

  auto start2 = mgr->authorize("rs", kRedirect);
  ASSERT_TRUE(start2);
  std::string late = server->approve(start2->url);
  offset = 601;
  auto expired = mgr->complete(late);
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.status().code(), Code::kPermissionDenied);
  EXPECT_EQ(server->token_requests(), 1);
}

TEST_F(Lifecycle, DeniedAuthorizationGivesAClearMessageAndStoresNothing) {
  start({.style = test::OAuthStyle::kRestream, .deny = true});
  add("rs", "restream", urls());
  auto s = mgr->authorize("rs", kRedirect);
  ASSERT_TRUE(s);
  auto restream_denial = mgr->complete(server->approve(s->url));  // back with no parameters
  ASSERT_FALSE(restream_denial);
  EXPECT_NE(restream_denial.status().message().find("denied"), std::string::npos);

  auto s2 = mgr->authorize("rs", kRedirect);
  ASSERT_TRUE(s2);
  auto denied = mgr->complete(std::string(kRedirect) + "?error=access_denied&state=" + s2->state);
  ASSERT_FALSE(denied);
  EXPECT_NE(denied.status().message().find("access_denied"), std::string::npos);
  auto s3 = mgr->authorize("rs", kRedirect);
  ASSERT_TRUE(s3);
  auto no_code = mgr->complete("state=" + s3->state);
  ASSERT_FALSE(no_code);
  EXPECT_NE(no_code.status().message().find("no code"), std::string::npos);

  EXPECT_EQ(server->token_requests(), 0);
  EXPECT_EQ(vault.raw_secrets("rs").count(vault::kAccessToken), 0u);
  EXPECT_EQ(vault.get("rs")->state, vault::ConnectionState::kPending);
}

// Row 2.
TEST_F(Lifecycle, PkceUsesS256WithANewVerifierPerFlowAndTheServerVerifiesIt) {
  start({.style = test::OAuthStyle::kGeneric, .require_pkce = true});
  auto settings = urls();
  settings["auth"] = "oauth2";
  settings["pkce"] = "true";
  add("gen", "http", settings);
  auto a = mgr->authorize("gen", kRedirect);
  auto b = mgr->authorize("gen", kRedirect);
  ASSERT_TRUE(a && b);
  std::map<std::string, std::string> qa, qb;
  for (auto& [k, v] : Poco::URI(a->url).getQueryParameters()) qa[k] = v;
  for (auto& [k, v] : Poco::URI(b->url).getQueryParameters()) qb[k] = v;
  EXPECT_EQ(qa["code_challenge_method"], "S256");
  EXPECT_EQ(qa["code_challenge"].size(), 43u);  // base64url of a SHA-256 digest
  EXPECT_NE(qa["code_challenge"], qb["code_challenge"]);
  EXPECT_NE(a->state, b->state);
  auto done = mgr->complete(server->approve(b->url));
  ASSERT_TRUE(done) << done.status().to_string();
  const std::string verifier = server->last_token_request().params.at("code_verifier");
  EXPECT_GE(verifier.size(), 43u);
  EXPECT_LE(verifier.size(), 128u);
  EXPECT_EQ(test::OAuthServer::s256(verifier), qb["code_challenge"]);
}

// Row 3 (one process; two managers on one vault stand in for two processes below).
TEST_F(Lifecycle, RefreshIsSingleFlightUnderConcurrency) {
  start({.style = test::OAuthStyle::kRestream, .token_delay = std::chrono::milliseconds(50)});
  add("rs", "restream", urls());
  authorize("rs");
  auto before = bearer("rs");
  ASSERT_TRUE(before);
  offset = 3600;  // the access token has expired
  constexpr int kThreads = 200;
  std::vector<std::string> seen(kThreads);
  std::vector<Status> status(kThreads);
  std::barrier sync(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      sync.arrive_and_wait();
      auto b = bearer("rs");
      if (b) seen[i] = *b;
      status[i] = b.status();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(server->token_requests(), 2);  // the code exchange and exactly one refresh
  for (int i = 0; i < kThreads; ++i) {
    ASSERT_TRUE(status[i].ok()) << status[i].to_string();
    EXPECT_EQ(seen[i], seen[0]);
  }
  EXPECT_NE(seen[0], *before);
  EXPECT_EQ("Bearer " + vault.raw_secrets("rs").at(vault::kAccessToken), seen[0]);
}

TEST_F(Lifecycle, TwoManagersSharingOneVaultRefreshOnceThroughTheLeaseAndReRead) {
  start({.style = test::OAuthStyle::kRestream, .token_delay = std::chrono::milliseconds(50)});
  add("rs", "restream", urls());
  authorize("rs");
  auto other = make_manager("proc-b");
  offset = 3600;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < 40; ++i) {
    ConnectionManager* m = i % 2 == 0 ? mgr.get() : other.get();
    threads.emplace_back([&, m] {
      auto h = m->hook("rs");
      http::Request req = get(server->url("/api/me"));
      if (!h || !(*h)->apply(req).ok()) ++failures;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(server->token_requests(), 2);
  EXPECT_FALSE(server->grant_revoked());
}

// Row 5.
TEST_F(Lifecycle, ReusedRefreshTokenRevokesTheGrantAndTheConnectionNeedsReauthWithoutRetries) {
  start({.style = test::OAuthStyle::kRestream});
  add("rs", "restream", urls());
  authorize("rs");
  const std::string old_refresh = vault.raw_secrets("rs").at(vault::kRefreshToken);
  ASSERT_TRUE(mgr->refresh("rs").ok());
  EXPECT_NE(vault.raw_secrets("rs").at(vault::kRefreshToken), old_refresh);
  // A stale copy comes back (e.g. another store restored from backup): the provider sees reuse.
  auto rec = vault.get("rs");
  ASSERT_TRUE(vault.update(*rec, {{vault::kRefreshToken, old_refresh}}, std::nullopt).ok());
  Status s = mgr->refresh("rs");
  EXPECT_EQ(s.code(), Code::kFailedPrecondition);
  EXPECT_TRUE(server->grant_revoked());
  const int requests = server->token_requests();
  offset = 7200;
  for (int i = 0; i < 50; ++i) {
    auto b = bearer("rs");
    ASSERT_FALSE(b);
    EXPECT_EQ(b.status().message(),
              "connection 'rs' needs re-authorization: run `weft connections authorize rs`");
  }
  EXPECT_EQ(server->token_requests(), requests);
  EXPECT_EQ(vault.get("rs")->state, vault::ConnectionState::kNeedsReauth);
  EXPECT_NE(vault.get("rs")->last_error.find("invalid_grant"), std::string::npos);
  EXPECT_EQ(reauth_events, std::vector<std::string>{"rs"});  // one event for the daemon to report

  authorize("rs");  // re-authorizing brings it back
  EXPECT_TRUE(bearer("rs"));
}

// Row 6 through the manager: every bad answer leaves the stored tokens as they were.
TEST_F(Lifecycle, BadTokenResponsesAreTypedErrorsAndLeaveStoredTokensUnchanged) {
  start({.style = test::OAuthStyle::kGeneric});
  auto settings = urls();
  settings["auth"] = "oauth2";
  add("gen", "http", settings);
  authorize("gen");
  const auto stored = vault.raw_secrets("gen");
  struct Case {
    test::TokenFault fault;
    Code code;
  };
  for (Case c : {Case{test::TokenFault::kMissingAccessToken, Code::kInvalidArgument},
                 Case{test::TokenFault::kNegativeExpiry, Code::kInvalidArgument},
                 Case{test::TokenFault::kHugeExpiry, Code::kInvalidArgument},
                 Case{test::TokenFault::kHtml, Code::kInvalidArgument},
                 Case{test::TokenFault::kTruncated, Code::kInvalidArgument},
                 Case{test::TokenFault::kServerError, Code::kUnavailable},
                 Case{test::TokenFault::kRateLimitSeconds, Code::kRateLimited},
                 Case{test::TokenFault::kRateLimitDate, Code::kRateLimited}}) {
    server->fail_next(c.fault);
    Status s = mgr->refresh("gen");
    EXPECT_EQ(s.code(), c.code) << s.to_string();
    EXPECT_EQ(vault.raw_secrets("gen"), stored);
    EXPECT_EQ(vault.get("gen")->state, vault::ConnectionState::kActive);
  }
  server->fail_next(test::TokenFault::kExpiresInString);
  ASSERT_TRUE(mgr->refresh("gen").ok());
  auto rec = vault.get("gen");
  ASSERT_TRUE(rec->access_expires_at);
  EXPECT_NEAR(static_cast<double>(*rec->access_expires_at - system_now()), 3600.0, 5.0);
  EXPECT_NE(vault.raw_secrets("gen").at(vault::kAccessToken), stored.at(vault::kAccessToken));
}

TEST_F(Lifecycle, ARotatedPairThatCannotBeStoredIsNeverUsed) {
  start({.style = test::OAuthStyle::kRestream});
  add("rs", "restream", urls());
  authorize("rs");
  auto before = bearer("rs");
  ASSERT_TRUE(before);
  // A disk that is full before the refresh: the intent cannot be recorded, so nothing is sent and
  // the stored pair stays valid.
  const int requests = server->token_requests();
  vault.fail_updates = true;
  EXPECT_EQ(mgr->refresh("rs").code(), Code::kUnavailable);
  EXPECT_EQ(server->token_requests(), requests);
  vault.fail_updates = false;
  EXPECT_TRUE(bearer("rs"));
  vault.fail_updates_after = 1;  // the intent is recorded, then the disk is full when the new pair arrives
  Status s = mgr->refresh("rs");
  EXPECT_EQ(s.code(), Code::kFailedPrecondition) << s.to_string();
  auto after = bearer("rs");
  ASSERT_FALSE(after);  // fails fast rather than using a pair the vault does not hold
  EXPECT_EQ(after.status().message(), needs_reauth_message("rs"));
  EXPECT_EQ(mgr->hook("nope").status().code(), Code::kNotFound);
}

TEST_F(Lifecycle, AResponseWithoutRefreshTokenKeepsTheOldOne) {
  test::MemoryVault v;
  std::atomic<int> calls{0};
  Transport t = [&](http::Request) -> Result<http::Response> {
    ++calls;
    http::Response r;
    r.status = 200;
    r.body = R"({"access_token":"fresh-access","expires_in":3600})";
    return r;
  };
  ConnectionManager m(v, lookup, t);
  ASSERT_TRUE(m.add({"g",
                     "http",
                     "id",
                     "sec",
                     "",
                     {{"auth", "oauth2"},
                      {"authorize_url", "http://127.0.0.1:9/a"},
                      {"token_url", "http://127.0.0.1:9/t"}}})
                  .ok());
  auto rec = v.get("g");
  rec->state = vault::ConnectionState::kActive;
  ASSERT_TRUE(v.update(*rec, {{vault::kAccessToken, "old-access"}, {vault::kRefreshToken, "keep-me-refresh"}},
                       std::nullopt)
                  .ok());
  ASSERT_TRUE(m.refresh("g").ok());
  EXPECT_EQ(v.raw_secrets("g").at(vault::kRefreshToken), "keep-me-refresh");
  EXPECT_EQ(v.raw_secrets("g").at(vault::kAccessToken), "fresh-access");
  EXPECT_EQ(calls.load(), 1);
}

TEST_F(Lifecycle, UnauthorizedResponseCausesOneRefreshAndTheRetrySucceeds) {
  start({.style = test::OAuthStyle::kRestream});
  add("rs", "restream", urls());
  authorize("rs");
  auto hook = *mgr->hook("rs");
  http::Request first = get(server->url("/api/me"));
  ASSERT_TRUE(hook->apply(first).ok());
  server->invalidate_access_tokens();
  auto r1 = test::poco_send(first);
  ASSERT_TRUE(r1);
  ASSERT_EQ(r1->status, 401);
  auto renewed = hook->on_unauthorized(*r1);
  ASSERT_TRUE(renewed);
  EXPECT_TRUE(*renewed);
  http::Request retry = get(server->url("/api/me"));
  ASSERT_TRUE(hook->apply(retry).ok());
  auto r2 = test::poco_send(retry);
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->status, 200);
  EXPECT_EQ(server->token_requests(), 2);
}

// A 401 right after this manager refreshed: another process rotated the pair since, so the token
// sent is dead and the vault holds the live one. The call adopts it and succeeds on its one retry,
// without a refresh of its own (which would present a rotated-out refresh token).
TEST_F(Lifecycle, UnauthorizedAfterAnotherProcessRotatedTheTokenAdoptsTheVaultsTokenAndRetriesOnce) {
  start({.style = test::OAuthStyle::kRestream});
  add("rs", "restream", urls());
  authorize("rs");
  ASSERT_TRUE(mgr->refresh("rs").ok());  // this manager refreshed a moment ago
  auto other = make_manager("proc-b");
  ASSERT_TRUE(other->refresh("rs").ok());  // and another process rotates the pair under it
  const int token_requests = server->token_requests();
  const int api_requests = server->api_requests();
  http::Client client;
  auto r = client.send(get(server->url("/api/me")), {.auth = *mgr->hook("rs")});
  ASSERT_TRUE(r) << r.status().to_string();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(server->api_requests(), api_requests + 2);  // the 401 and one retry
  EXPECT_EQ(server->token_requests(), token_requests);  // adopted from the vault, not refreshed
  EXPECT_FALSE(server->grant_revoked());
}

// A 401 right after a refresh with the very token the vault holds (the provider invalidated it):
// only a real refresh helps, and resending the same token would fail again.
TEST_F(Lifecycle, UnauthorizedRightAfterARefreshRefreshesAgainInsteadOfResendingTheSameToken) {
  start({.style = test::OAuthStyle::kRestream});
  add("rs", "restream", urls());
  authorize("rs");
  ASSERT_TRUE(mgr->refresh("rs").ok());
  const std::string refreshed = vault.raw_secrets("rs").at(vault::kAccessToken);
  server->invalidate_access_tokens();
  const int token_requests = server->token_requests();
  const int api_requests = server->api_requests();
  http::Client client;
  auto r = client.send(get(server->url("/api/me")), {.auth = *mgr->hook("rs")});
  ASSERT_TRUE(r) << r.status().to_string();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(server->api_requests(), api_requests + 2);
  EXPECT_EQ(server->token_requests(), token_requests + 1);
  EXPECT_NE(vault.raw_secrets("rs").at(vault::kAccessToken), refreshed);
  EXPECT_EQ(vault.get("rs")->state, vault::ConnectionState::kActive);
}

// The vault's token is dead too: the call adopts it, gets a second 401 and returns it (one retry,
// no refresh, no loop); the next call sends that token, and its 401 now causes the refresh.
TEST_F(Lifecycle, AdoptedTokenThatIsAlsoRejectedIsRetriedOnlyOnceAndTheNextCallRefreshes) {
  start({.style = test::OAuthStyle::kRestream});
  add("rs", "restream", urls());
  authorize("rs");
  ASSERT_TRUE(mgr->refresh("rs").ok());
  auto other = make_manager("proc-b");
  ASSERT_TRUE(other->refresh("rs").ok());
  server->invalidate_access_tokens();
  const int token_requests = server->token_requests();
  const int api_requests = server->api_requests();
  http::Client client;
  auto first = client.send(get(server->url("/api/me")), {.auth = *mgr->hook("rs")});
  ASSERT_TRUE(first) << first.status().to_string();
  EXPECT_EQ(first->status, 401);
  EXPECT_EQ(server->api_requests(), api_requests + 2);
  EXPECT_EQ(server->token_requests(), token_requests);
  auto second = client.send(get(server->url("/api/me")), {.auth = *mgr->hook("rs")});
  ASSERT_TRUE(second) << second.status().to_string();
  EXPECT_EQ(second->status, 200);
  EXPECT_EQ(server->api_requests(), api_requests + 4);
  EXPECT_EQ(server->token_requests(), token_requests + 1);
}

// Many calls rejected with the same token: exactly one refresh; each call resends once and succeeds.
TEST_F(Lifecycle, ConcurrentUnauthorizedCallsOnOneTokenShareOneRefresh) {
  start({.style = test::OAuthStyle::kRestream, .token_delay = std::chrono::milliseconds(50)});
  add("rs", "restream", urls());
  authorize("rs");
  auto hook = *mgr->hook("rs");
  ASSERT_TRUE(bearer("rs"));  // loaded: every thread below sends the same token
  server->invalidate_access_tokens();
  const int token_requests = server->token_requests();
  http::Client client;
  constexpr int kThreads = 12;
  std::vector<int> status(kThreads, 0);
  std::barrier sync(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      sync.arrive_and_wait();
      auto r = client.send(get(server->url("/api/me")), {.auth = hook});
      status[i] = r ? r->status : -1;
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kThreads; ++i) EXPECT_EQ(status[i], 200) << "call " << i;
  EXPECT_EQ(server->token_requests(), token_requests + 1);
  EXPECT_FALSE(server->grant_revoked());
}

TEST_F(Lifecycle, LivepushExchangesWithGetQueryParametersAndSendsBearerDespiteTokenType) {
  start({.style = test::OAuthStyle::kLivepush});
  add("lp", "livepush", urls(false));
  auto s = mgr->authorize("lp", kRedirect);
  ASSERT_TRUE(s);
  auto done = mgr->complete(server->approve(s->url));
  ASSERT_TRUE(done) << done.status().to_string();
  EXPECT_EQ(server->last_authorize().at("scope"), "profile.read,streams.read");
  auto seen = server->last_token_request();
  EXPECT_EQ(seen.method, "GET");
  EXPECT_EQ(seen.params.at("client_id"), "client-1");
  EXPECT_EQ(seen.params.at("client_secret"), "secret-1");
  EXPECT_EQ(seen.params.at("grant_type"), "authorization_code");
  EXPECT_EQ(seen.params.at("redirect_uri"), kRedirect);
  EXPECT_TRUE(seen.authorization.empty());
  auto b = bearer("lp");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->rfind("Bearer at-", 0), 0u) << *b;
  ASSERT_TRUE(mgr->refresh("lp").ok());
  EXPECT_EQ(server->last_token_request().params.at("grant_type"), "refresh_token");
}

TEST_F(Lifecycle, ApiTokenIsSentAsBasicBase64ForOvenMediaEngine) {
  start({});
  ASSERT_TRUE(mgr->add({"ome", "ovenmediaengine", "", "", "ome-access-token", {}}).ok());
  EXPECT_EQ(vault.get("ome")->state, vault::ConnectionState::kActive);
  auto b = bearer("ome");
  ASSERT_TRUE(b) << b.status().to_string();
  EXPECT_EQ(*b, "Basic " + base64("ome-access-token"));
  auto h = *mgr->hook("ome");
  auto renewed = h->on_unauthorized(unauthorized());
  ASSERT_TRUE(renewed);
  EXPECT_FALSE(*renewed);
  EXPECT_FALSE(mgr->authorize("ome", kRedirect));
}

// Row 7.
TEST_F(Lifecycle, RemoveRevokesTheGrantAndPurgesSecrets) {
  start({.style = test::OAuthStyle::kRestream});
  add("rs", "restream", urls());
  authorize("rs");
  const std::string refresh = vault.raw_secrets("rs").at(vault::kRefreshToken);
  auto hook = *mgr->hook("rs");
  ASSERT_TRUE(mgr->remove("rs").ok());
  EXPECT_EQ(server->revoke_requests(), 1);
  EXPECT_EQ(server->revoked_tokens(), std::vector<std::string>{refresh});
  EXPECT_TRUE(server->grant_revoked());
  EXPECT_FALSE(vault.has("rs"));
  http::Request req = get(server->url("/api/me"));
  EXPECT_EQ(hook->apply(req).code(), Code::kNotFound);
  EXPECT_EQ(mgr->remove("rs").code(), Code::kNotFound);
}

TEST_F(Lifecycle, RemoveSucceedsWhenTheRevocationEndpointIsDown) {
  start({.style = test::OAuthStyle::kRestream});
  auto settings = urls(false);
  settings["revoke_url"] = "http://127.0.0.1:1/revoke";
  add("rs", "restream", settings);
  authorize("rs");
  ASSERT_TRUE(mgr->remove("rs").ok());
  EXPECT_FALSE(vault.has("rs"));
}

TEST_F(Lifecycle, AddValidatesNameConnectorAndCredentials) {
  start({});
  EXPECT_EQ(mgr->add({"Bad Name", "restream", "id", "s", "", {}}).code(), Code::kInvalidArgument);
  EXPECT_EQ(mgr->add({"x", "nope", "id", "s", "", {}}).code(), Code::kNotFound);
  EXPECT_EQ(mgr->add({"x", "restream", "", "", "", {}}).code(), Code::kInvalidArgument);
  EXPECT_EQ(mgr->add({"x", "restream", "id", "s", "tok", {}}).code(), Code::kInvalidArgument);
  EXPECT_EQ(mgr->add({"x", "ovenmediaengine", "", "", "", {}}).code(), Code::kInvalidArgument);
  EXPECT_EQ(mgr->add({"x", "http", "", "", "", {}}).code(), Code::kInvalidArgument);
  ASSERT_TRUE(mgr->add({"x", "restream", "id", "s", "", {}}).ok());
  EXPECT_EQ(mgr->add({"x", "restream", "id", "s", "", {}}).code(), Code::kAlreadyExists);
  EXPECT_EQ(vault.get("x")->state, vault::ConnectionState::kPending);
  auto b = bearer("x");
  ASSERT_FALSE(b);
  EXPECT_NE(b.status().message().find("not authorized yet"), std::string::npos);
}

TEST_F(Lifecycle, SecretSettingsAreSealedAndListShowsNoSecret) {
  start({.style = test::OAuthStyle::kRestream});
  auto settings = urls();
  settings["auth"] = "api_token";
  settings["api_key"] = "very-secret-setting";
  ASSERT_TRUE(mgr->add({"h", "http", "", "", "pasted-token-value", settings}).ok());
  EXPECT_EQ(vault.raw_secrets("h").at("setting:api_key"), "very-secret-setting");
  EXPECT_EQ(vault.get("h")->settings.count("api_key"), 0u);
  add("rs", "restream", urls());
  authorize("rs");
  auto l = mgr->list();
  ASSERT_TRUE(l);
  ASSERT_EQ(l->size(), 2u);
  const ConnectionSummary& rs = (*l)[1];
  EXPECT_EQ(rs.name, "rs");
  EXPECT_EQ(rs.state, "active");
  EXPECT_EQ(rs.auth_kind, "oauth2");
  EXPECT_EQ(rs.scopes, (std::vector<std::string>{"profile.read", "stream.read"}));
  ASSERT_TRUE(rs.refresh_expires_at);
  EXPECT_GT(*rs.refresh_expires_at, system_now() + 364LL * 24 * 3600);
}

// Proactive refresh: a token expiring within the 60 s skew is refreshed before it is used; one
// expiring later is sent as is.
TEST_F(Lifecycle, ATokenExpiringWithinTheSkewIsRefreshedBeforeUseAndOneExpiringLaterIsNot) {
  start({.style = test::OAuthStyle::kRestream});  // access tokens live 3600 s
  add("rs", "restream", urls());
  authorize("rs");
  const int before = server->token_requests();
  auto first = bearer("rs");
  ASSERT_TRUE(first);

  offset = 3600 - 90;  // expires in ~90 s: outside the skew
  auto later = bearer("rs");
  ASSERT_TRUE(later);
  EXPECT_EQ(*later, *first);
  EXPECT_EQ(server->token_requests(), before);

  offset = 3600 - 30;  // expires in ~30 s: inside the skew
  auto soon = bearer("rs");
  ASSERT_TRUE(soon) << soon.status().to_string();
  EXPECT_NE(*soon, *first);
  EXPECT_EQ(server->token_requests(), before + 1);
  EXPECT_NE(vault.raw_secrets("rs").at(vault::kAccessToken), first->substr(7));  // committed first
}

// DESIGN: every manifest value is a default a connection may override. Restream documents Basic
// (preferred) and body client credentials.
TEST_F(Lifecycle, RestreamClientAuthIsBasicByDefaultAndBodyWhenTheConnectionSetsIt) {
  start({.style = test::OAuthStyle::kRestream});
  add("rs", "restream", urls());
  authorize("rs");
  EXPECT_EQ(server->last_token_request().client_auth, "basic");
  ASSERT_TRUE(mgr->refresh("rs").ok());
  EXPECT_EQ(server->last_token_request().client_auth, "basic");

  auto settings = urls();
  settings["client_auth"] = "body";
  add("rs-body", "restream", settings);
  authorize("rs-body");
  EXPECT_EQ(server->last_token_request().client_auth, "body");
  EXPECT_EQ(server->last_token_request().authorization, "");
  ASSERT_TRUE(mgr->refresh("rs-body").ok());
  EXPECT_EQ(server->last_token_request().client_auth, "body");
  EXPECT_EQ(server->last_token_request().params.at("client_id"), "client-1");
}

TEST_F(Lifecycle, ManifestAuthOverridesAreValidatedWithClearErrors) {
  start({.style = test::OAuthStyle::kRestream});
  struct Case {
    std::string key, value, says;
  };
  for (const Case& c : {Case{"client_auth", "header", "expected basic, body or query, got 'header'"},
                        Case{"token_method", "PUT", "expected POST or GET, got 'PUT'"},
                        Case{"scope_separator", ";", "expected \" \" (space) or \",\" (comma)"},
                        Case{"pkce", "maybe", "expected true or false, got 'maybe'"},
                        Case{"rotates_refresh_token", "2", "expected true or false"},
                        Case{"refresh_token_lifetime_seconds", "-1", "expected a positive integer"},
                        Case{"authorize_param.", "x", "name the parameter"}}) {
    auto settings = urls();
    settings[c.key] = c.value;
    Status s = mgr->add({"bad", "restream", "client-1", "secret-1", "", settings});
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << c.key;
    EXPECT_NE(s.message().find("auth setting '" + c.key + "'"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find(c.says), std::string::npos) << s.message();
    EXPECT_FALSE(vault.has("bad"));
  }
}

// PROVIDERS.md marks Livepush's refresh grant style and rotation unverified: a connection corrects
// them. Here the provider turns out to rotate and to take POST.
TEST_F(Lifecycle, LivepushUnverifiedFactsAreCorrectableBySettings) {
  start({.style = test::OAuthStyle::kGeneric});
  auto settings = urls(false);
  settings["token_method"] = "POST";
  settings["client_auth"] = "basic";
  settings["rotates_refresh_token"] = "true";
  settings["authorize_param.prompt"] = "consent";
  add("lp", "livepush", settings);
  auto start = mgr->authorize("lp", kRedirect);
  ASSERT_TRUE(start);
  EXPECT_NE(start->url.find("prompt=consent"), std::string::npos) << start->url;
  auto done = mgr->complete(server->approve(start->url));
  ASSERT_TRUE(done) << done.status().to_string();
  EXPECT_EQ(server->last_token_request().method, "POST");
  EXPECT_EQ(server->last_token_request().client_auth, "basic");
  ASSERT_TRUE(mgr->refresh("lp").ok());
  EXPECT_EQ(server->last_token_request().method, "POST");
}

TEST_F(Lifecycle, ARefreshTokenCloseToExpiryIsReportedOnce) {
  start({.style = test::OAuthStyle::kRestream, .refresh_ttl = 3LL * 24 * 3600});
  add("rs", "restream", urls());
  authorize("rs");
  std::vector<std::string> lines;
  std::mutex mu;
  log::set_sink([&](const std::string& line) {
    std::lock_guard<std::mutex> g(mu);
    lines.push_back(line);
  });
  ASSERT_TRUE(bearer("rs"));
  ASSERT_TRUE(bearer("rs"));
  log::reset_sink();
  int warnings = 0;
  for (auto& l : lines) warnings += l.find("refresh token expires soon") != std::string::npos;
  EXPECT_EQ(warnings, 1);
}

TEST_F(Lifecycle, ATransientRefreshFailureIsSharedByWaitersNotRetriedByEach) {
  start({.style = test::OAuthStyle::kGeneric});
  auto settings = urls();
  settings["auth"] = "oauth2";
  add("gen", "http", settings);
  authorize("gen");
  offset = 7200;
  server->fail_next(test::TokenFault::kServerError);
  server->hold_token_answers(true);  // the failing refresh stays in flight until every caller waits on it
  const int before = server->token_requests();
  constexpr int kCallers = 20;
  std::vector<std::thread> threads;
  std::atomic<int> failed{0}, entered{0};
  for (int i = 0; i < kCallers; ++i) {
    threads.emplace_back([&] {
      ++entered;
      if (!bearer("gen")) ++failed;
    });
  }
  while (server->held() == 0 || entered.load() < kCallers)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the other callers reach the wait
  server->hold_token_answers(false);
  for (auto& t : threads) t.join();
  EXPECT_EQ(server->token_requests(), before + 1);  // one refresh, its failure shared
  EXPECT_EQ(failed.load(), kCallers);               // every waiter got that failure
  EXPECT_EQ(vault.get("gen")->state, vault::ConnectionState::kActive);
  EXPECT_TRUE(bearer("gen"));  // the next call refreshes fine
  EXPECT_EQ(server->token_requests(), before + 2);
}

}  // namespace
}  // namespace weft::auth
