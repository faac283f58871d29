// oauth_server.hpp — a small OAuth2 authorization server on 127.0.0.1 for tests and benchmarks,
// written from RFC 6749/7636/7009 and the provider notes (PROVIDERS.md). Header-only so benchmarks
// can use it without the test library.
//
//   test::OAuthServer srv({.style = test::OAuthStyle::kRestream});
//   std::string redirect = srv.approve(authorize_url);   // what the browser would be sent to
//   srv.fail_next(test::TokenFault::kHtml);               // next token request answers HTML
//   EXPECT_EQ(srv.token_requests(), 1);
//
// Styles: kGeneric (POST form, PKCE S256 verified when sent or required), kRestream (POST form,
// Basic or body client auth, camelCase twins, `expires` epoch), kLivepush (GET with query
// parameters, token_type "access_token"). With rotate, every refresh invalidates the previous pair;
// with reuse_revokes_grant, presenting a used refresh token revokes the whole grant (theft
// detection). Endpoints: GET /authorize, /token, POST /revoke, GET /api/me (Bearer-protected).
#pragma once

#include <Poco/Base64Decoder.h>
#include <Poco/Base64Encoder.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/Net/HTMLForm.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/SHA2Engine.h>
#include <Poco/Timestamp.h>
#include <Poco/URI.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

namespace weft::test {

enum class OAuthStyle { kGeneric, kRestream, kLivepush };

// How the next token request is answered instead of normally (RELIABILITY row 6, row 13).
enum class TokenFault {
  kMissingAccessToken,  // 200 without access_token
  kExpiresInString,     // a normal grant with "expires_in": "3600" (must be accepted)
  kNegativeExpiry,      // expires_in -5
  kHugeExpiry,          // expires_in 1e12
  kHtml,                // 200 text/html login page
  kTruncated,           // 200 with half a JSON object
  kRateLimitSeconds,    // 429 Retry-After: 1
  kRateLimitDate,       // 429 Retry-After: HTTP-date
  kServerError,         // 503
  kInvalidGrant,        // 400 {"error":"invalid_grant"}
  kRateLimitLong,       // 429 Retry-After: 300
};

struct OAuthServerOptions {
  OAuthStyle style = OAuthStyle::kGeneric;
  std::string client_id = "client-1";
  std::string client_secret = "secret-1";
  bool rotate = true;
  bool reuse_revokes_grant = true;
  bool require_pkce = false;
  long long access_ttl = 3600;
  long long refresh_ttl = 365LL * 24 * 3600;
  std::chrono::milliseconds token_delay{0};  // widens race windows in concurrency tests
  bool deny = false;                         // the user clicks "deny" at /authorize
};

// One token request as received, for assertions.
struct TokenRequestSeen {
  std::string method;
  std::string target;  // path and query
  std::string authorization;
  std::string body;
  std::map<std::string, std::string> params;  // query + form
  // How the client authenticated: "basic" (Authorization header), "body" (client_secret in the
  // form body), "query" (in the query string) or "none".
  std::string client_auth;
};

class OAuthServer {
 public:
  explicit OAuthServer(OAuthServerOptions o = {}) : o_(std::move(o)) {
    Poco::Net::ServerSocket sock(Poco::Net::SocketAddress("127.0.0.1", 0));
    auto* params = new Poco::Net::HTTPServerParams;  // owned by the server (Poco ref-counting)
    params->setMaxThreads(16);
    params->setKeepAlive(false);
    server_ =
        std::make_unique<Poco::Net::HTTPServer>(new Factory(*this), sock, params);  // Poco owns the factory
    server_->start();
    port_ = server_->socket().address().port();
  }
  ~OAuthServer() {
    hold_token_answers(false);
    server_->stopAll(true);
  }
  OAuthServer(const OAuthServer&) = delete;
  OAuthServer& operator=(const OAuthServer&) = delete;

  std::string url(const std::string& path = "") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  int token_requests() const { return token_requests_.load(); }
  int revoke_requests() const { return revoke_requests_.load(); }
  int api_requests() const { return api_requests_.load(); }

  // While on, every token request is processed (a refresh rotates the pair) but its answer is held
  // back until this is turned off: a process can be killed after the server acted and before it
  // heard. held() is the number of answers waiting.
  void hold_token_answers(bool on) {
    {
      std::lock_guard<std::mutex> g(hold_mu_);
      hold_ = on;
    }
    hold_cv_.notify_all();
  }
  int held() const { return held_.load(); }
  // Refresh requests that presented an already rotated-out refresh token (RELIABILITY row 4).
  int reused_refresh_tokens() const { return reused_.load(); }
  // True when t is a refresh token the server would still accept.
  bool refresh_token_live(const std::string& t) {
    std::lock_guard<std::mutex> g(mu_);
    auto it = refresh_.find(t);
    return it != refresh_.end() && !it->second.used && !grants_[it->second.grant];
  }

  void fail_next(TokenFault f, int times = 1) {
    std::lock_guard<std::mutex> g(mu_);
    for (int i = 0; i < times; ++i) faults_.push_back(f);
  }
  // Makes every access token issued so far answer 401 (a provider-side revocation or clock skew).
  void invalidate_access_tokens() {
    std::lock_guard<std::mutex> g(mu_);
    for (auto& [t, a] : access_) a.valid = false;
  }
  bool grant_revoked() {
    std::lock_guard<std::mutex> g(mu_);
    for (auto& [id, revoked] : grants_)
      if (revoked) return true;
    return false;
  }
  std::vector<std::string> revoked_tokens() {
    std::lock_guard<std::mutex> g(mu_);
    return revoked_tokens_;
  }
  TokenRequestSeen last_token_request() {
    std::lock_guard<std::mutex> g(mu_);
    return last_;
  }
  // The last authorize request's parameters (decoded).
  std::map<std::string, std::string> last_authorize() {
    std::lock_guard<std::mutex> g(mu_);
    return last_authorize_;
  }

  // Plays the browser: validates the authorize URL and returns where the provider redirects to
  // (redirect_uri with code and state, or a denial). Empty on a malformed authorize URL.
  std::string approve(const std::string& authorize_url) {
    std::map<std::string, std::string> q;
    try {
      for (auto& [k, v] : Poco::URI(authorize_url).getQueryParameters()) q[k] = v;
    } catch (const Poco::Exception&) {
      return "";
    }
    std::lock_guard<std::mutex> g(mu_);
    last_authorize_ = q;
    if (q["response_type"] != "code" || q["client_id"] != o_.client_id || q["redirect_uri"].empty())
      return "";
    if (o_.require_pkce && (q["code_challenge"].empty() || q["code_challenge_method"] != "S256")) return "";
    const std::string redirect = q["redirect_uri"];
    const std::string sep = redirect.find('?') == std::string::npos ? "?" : "&";
    if (o_.deny) {
      if (o_.style == OAuthStyle::kRestream) return redirect;  // Restream: back with no parameters
      return redirect + sep + "error=access_denied&state=" + enc(q["state"]);
    }
    std::string code = "code-" + std::to_string(++serial_);
    codes_[code] = Code{q["redirect_uri"], q["code_challenge"], false};
    return redirect + sep + "code=" + enc(code) + "&state=" + enc(q["state"]);
  }

  static std::string s256(const std::string& verifier) {
    Poco::SHA2Engine sha(Poco::SHA2Engine::SHA_256);
    sha.update(verifier);
    const auto& d = sha.digest();
    std::ostringstream out;
    Poco::Base64Encoder enc(out, Poco::BASE64_URL_ENCODING | Poco::BASE64_NO_PADDING);
    enc.write(reinterpret_cast<const char*>(d.data()), static_cast<std::streamsize>(d.size()));
    enc.close();
    return out.str();
  }

 private:
  struct Code {
    std::string redirect_uri;
    std::string challenge;
    bool used = false;
  };
  struct Access {
    int grant = 0;
    bool valid = true;
  };
  struct Refresh {
    int grant = 0;
    bool used = false;
  };
  struct Reply {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::string retry_after;
  };

  static std::string enc(const std::string& v) {
    std::string out;
    Poco::URI::encode(v, "!#$&'()*+,/:;=?@[]% ", out);
    return out;
  }
  static long long epoch() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  class Handler final : public Poco::Net::HTTPRequestHandler {
   public:
    explicit Handler(OAuthServer& s) : s_(s) {}
    void handleRequest(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) override {
      s_.handle(req, resp);
    }

   private:
    OAuthServer& s_;
  };
  class Factory final : public Poco::Net::HTTPRequestHandlerFactory {
   public:
    explicit Factory(OAuthServer& s) : s_(s) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
      return new Handler(s_);  // Poco deletes it after the request
    }

   private:
    OAuthServer& s_;
  };

  void handle(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) {
    Reply r;
    const std::string path = Poco::URI(req.getURI()).getPath();
    try {
      if (path == "/authorize") {
        std::string to = approve(url(req.getURI()));
        if (to.empty()) {
          r = {400, "text/plain", "bad authorize request", ""};
        } else {
          resp.set("Location", to);
          r = {302, "text/plain", "", ""};
        }
      } else if (path == "/token") {
        r = token(req);
        std::unique_lock<std::mutex> g(hold_mu_);
        if (hold_) {
          ++held_;
          hold_cv_.wait(g, [this] { return !hold_; });
          --held_;
        }
      } else if (path == "/revoke") {
        r = revoke(req);
      } else if (path == "/api/me") {
        r = api(req);
      } else {
        r = {404, "text/plain", "not found", ""};
      }
    } catch (const std::exception& e) {
      r = {500, "text/plain", e.what(), ""};
    }
    resp.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(r.status));
    resp.setContentType(r.content_type);
    if (!r.retry_after.empty()) resp.set("Retry-After", r.retry_after);
    resp.setContentLength(static_cast<std::streamsize>(r.body.size()));
    resp.send() << r.body;
  }

  static std::string json_error(const std::string& code) { return "{\"error\":\"" + code + "\"}"; }

  bool client_ok(Poco::Net::HTTPServerRequest& req, std::map<std::string, std::string>& p) {
    std::string id = p["client_id"], secret = p["client_secret"];
    if (req.has("Authorization")) {
      const std::string a = req.get("Authorization");
      if (a.rfind("Basic ", 0) != 0) return false;
      std::istringstream in(a.substr(6));
      Poco::Base64Decoder dec(in);
      std::string pair((std::istreambuf_iterator<char>(dec)), std::istreambuf_iterator<char>());
      auto colon = pair.find(':');
      if (colon == std::string::npos) return false;
      Poco::URI::decode(pair.substr(0, colon), id);
      secret.clear();
      Poco::URI::decode(pair.substr(colon + 1), secret);
      if (o_.style == OAuthStyle::kLivepush) return false;  // Livepush takes query credentials only
    }
    if (id != o_.client_id) return false;
    // A PKCE public client may omit the secret (generic style).
    return secret == o_.client_secret ||
           (o_.style == OAuthStyle::kGeneric && secret.empty() && !p["code_verifier"].empty());
  }

  std::string issue(int grant, bool expires_as_string) {
    std::string access = "at-" + std::to_string(++serial_);
    std::string refresh = "rt-" + std::to_string(++serial_);
    access_[access] = Access{grant, true};
    refresh_[refresh] = Refresh{grant, false};
    const long long now = epoch();
    const std::string exp_in =
        expires_as_string ? "\"" + std::to_string(o_.access_ttl) + "\"" : std::to_string(o_.access_ttl);
    std::ostringstream b;
    b << "{\"access_token\":\"" << access << "\",\"refresh_token\":\"" << refresh << "\",";
    switch (o_.style) {
      case OAuthStyle::kLivepush:
        b << "\"token_type\":\"access_token\",\"expires_in\":" << exp_in << "}";
        break;
      case OAuthStyle::kRestream:
        b << "\"token_type\":\"Bearer\",\"expires_in\":" << exp_in << ",\"expires\":" << now + o_.access_ttl
          << ",\"scope\":\"profile.read stream.read\",\"accessToken\":\"" << access
          << "\",\"refreshToken\":\"" << refresh << "\",\"accessTokenExpiresIn\":" << o_.access_ttl
          << ",\"accessTokenExpiresEpoch\":" << now + o_.access_ttl
          << ",\"refreshTokenExpiresIn\":" << o_.refresh_ttl
          << ",\"refreshTokenExpiresEpoch\":" << now + o_.refresh_ttl
          << ",\"scopeJson\":[\"profile.read\",\"stream.read\"],\"tokenType\":\"Bearer\"}";
        break;
      case OAuthStyle::kGeneric:
        b << "\"token_type\":\"Bearer\",\"expires_in\":" << exp_in << ",\"scope\":\"read write\"}";
        break;
    }
    return b.str();
  }

  Reply token(Poco::Net::HTTPServerRequest& req) {
    ++token_requests_;
    if (o_.token_delay.count() > 0) std::this_thread::sleep_for(o_.token_delay);
    Poco::Net::HTMLForm form(req, req.stream());
    std::map<std::string, std::string> p;
    for (const auto& [k, v] : form) p[k] = v;
    std::lock_guard<std::mutex> g(mu_);
    last_ = TokenRequestSeen{req.getMethod(), req.getURI(), req.get("Authorization", ""), "", p, "none"};
    if (last_.authorization.rfind("Basic ", 0) == 0)
      last_.client_auth = "basic";
    else if (Poco::URI(req.getURI()).getRawQuery().find("client_secret=") != std::string::npos)
      last_.client_auth = "query";
    else if (p.count("client_secret") != 0)
      last_.client_auth = "body";
    const bool want_get = o_.style == OAuthStyle::kLivepush;
    if ((req.getMethod() == "GET") != want_get)
      return {405, "application/json", json_error("invalid_request"), ""};
    if (!faults_.empty()) {
      TokenFault f = faults_.front();
      faults_.pop_front();
      switch (f) {
        case TokenFault::kMissingAccessToken:
          return {200, "application/json", "{\"token_type\":\"Bearer\",\"expires_in\":3600}", ""};
        case TokenFault::kNegativeExpiry:
          return {200, "application/json", "{\"access_token\":\"x-neg\",\"expires_in\":-5}", ""};
        case TokenFault::kHugeExpiry:
          return {200, "application/json", "{\"access_token\":\"x-huge\",\"expires_in\":1e12}", ""};
        case TokenFault::kHtml:
          return {200, "text/html", "<html><body>Please log in</body></html>", ""};
        case TokenFault::kTruncated:
          return {200, "application/json", "{\"access_token\":\"x-trunc\",\"expi", ""};
        case TokenFault::kRateLimitSeconds:
          return {429, "application/json", json_error("rate_limited"), "1"};
        case TokenFault::kRateLimitDate:
          return {429, "application/json", json_error("rate_limited"),
                  Poco::DateTimeFormatter::format(Poco::Timestamp() + 2 * Poco::Timespan::SECONDS,
                                                  Poco::DateTimeFormat::HTTP_FORMAT)};
        case TokenFault::kServerError:
          return {503, "application/json", json_error("temporarily_unavailable"), ""};
        case TokenFault::kRateLimitLong:
          return {429, "application/json", json_error("rate_limited"), "300"};
        case TokenFault::kInvalidGrant:
          return {400, "application/json", json_error("invalid_grant"), ""};
        case TokenFault::kExpiresInString:
          pending_string_expiry_ = true;
          break;
      }
    }
    if (!client_ok(req, p)) return {401, "application/json", json_error("invalid_client"), ""};
    const bool as_string = pending_string_expiry_;
    pending_string_expiry_ = false;
    if (p["grant_type"] == "authorization_code") {
      auto it = codes_.find(p["code"]);
      if (it == codes_.end() || it->second.used || it->second.redirect_uri != p["redirect_uri"]) {
        return {400, "application/json", json_error("invalid_grant"), ""};
      }
      it->second.used = true;
      if (!it->second.challenge.empty() || o_.require_pkce) {
        const std::string v = p["code_verifier"];
        if (v.size() < 43 || v.size() > 128 || s256(v) != it->second.challenge)
          return {400, "application/json", json_error("invalid_grant"), ""};
      }
      int grant = ++grant_serial_;
      grants_[grant] = false;
      return {200, "application/json", issue(grant, as_string), ""};
    }
    if (p["grant_type"] == "refresh_token") {
      auto it = refresh_.find(p["refresh_token"]);
      if (it == refresh_.end() || grants_[it->second.grant])
        return {400, "application/json", json_error("invalid_grant"), ""};
      if (it->second.used) {
        ++reused_;
        if (o_.reuse_revokes_grant) grants_[it->second.grant] = true;  // theft detection
        return {400, "application/json", json_error("invalid_grant"), ""};
      }
      const int grant = it->second.grant;
      if (o_.rotate) {
        it->second.used = true;
        for (auto& [t, a] : access_)
          if (a.grant == grant) a.valid = false;
        return {200, "application/json", issue(grant, as_string), ""};
      }
      std::string body = issue(grant, as_string);
      return {200, "application/json", body, ""};
    }
    return {400, "application/json", json_error("unsupported_grant_type"), ""};
  }

  Reply revoke(Poco::Net::HTTPServerRequest& req) {
    ++revoke_requests_;
    Poco::Net::HTMLForm form(req, req.stream());
    std::lock_guard<std::mutex> g(mu_);
    const std::string t = form.get("token", "");
    revoked_tokens_.push_back(t);
    int grant = 0;
    if (auto it = refresh_.find(t); it != refresh_.end()) grant = it->second.grant;
    if (auto it = access_.find(t); it != access_.end()) grant = it->second.grant;
    if (grant != 0) grants_[grant] = true;
    return {200, "application/json", "{}", ""};  // RFC 7009: 200 whatever the token was
  }

  Reply api(Poco::Net::HTTPServerRequest& req) {
    ++api_requests_;
    const std::string a = req.get("Authorization", "");
    std::lock_guard<std::mutex> g(mu_);
    if (a.rfind("Bearer ", 0) == 0) {
      auto it = access_.find(a.substr(7));
      if (it != access_.end() && it->second.valid && !grants_[it->second.grant])
        return {200, "application/json", "{\"ok\":true}", ""};
    }
    return {401, "application/json", "{\"error\":{\"statusCode\":401,\"name\":\"invalid_token\"}}", ""};
  }

  OAuthServerOptions o_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
  unsigned short port_ = 0;
  std::atomic<int> token_requests_{0};
  std::atomic<int> revoke_requests_{0};
  std::atomic<int> api_requests_{0};
  std::atomic<int> reused_{0};
  std::atomic<int> held_{0};
  std::mutex hold_mu_;  // guards hold_
  std::condition_variable hold_cv_;
  bool hold_ = false;
  std::mutex mu_;  // guards everything below
  long long serial_ = 0;
  int grant_serial_ = 0;
  std::deque<TokenFault> faults_;
  bool pending_string_expiry_ = false;
  std::map<std::string, Code> codes_;
  std::map<std::string, Access> access_;
  std::map<std::string, Refresh> refresh_;
  std::map<int, bool> grants_;  // id → revoked
  std::vector<std::string> revoked_tokens_;
  TokenRequestSeen last_;
  std::map<std::string, std::string> last_authorize_;
};

}  // namespace weft::test
