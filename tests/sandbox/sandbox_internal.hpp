// sandbox_internal.hpp — the pieces the provider emulations share: a plain request/response pair
// (so each provider is a pure function of state + request), JSON helpers, the OAuth token store,
// and the per-provider state. Everything here runs under the sandbox's one state mutex.
#pragma once

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace weft::sandbox {

using Var = Poco::Dynamic::Var;
using ObjectPtr = Poco::JSON::Object::Ptr;
using ArrayPtr = Poco::JSON::Array::Ptr;

// One HTTP request as the emulations see it. Header names are lower-case; path segments are
// split on '/' first and percent-decoded after, so an encoded '/' stays inside its segment.
struct Request {
  std::string method;
  std::vector<std::string> segments;  // below the provider prefix ("/restream/v2/x" -> v2, x)
  std::map<std::string, std::string> query;
  std::map<std::string, std::string> headers;
  std::string body;

  std::string header(const std::string& lower_name) const;
  // The body parsed as application/x-www-form-urlencoded.
  std::map<std::string, std::string> form() const;
  // The body as a JSON object, or null when it is not one.
  ObjectPtr json_object() const;
};

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string content_type = "application/json";
  std::string body;
};

Response json_response(int status, const Var& body);
Response empty_response(int status);
Response redirect(const std::string& location);

// Emulation helpers.
std::string stringify(const Var& v);
ObjectPtr parse_object(const std::string& text);  // null on bad JSON or non-object
ObjectPtr clone_object(const ObjectPtr& o);
std::int64_t now_epoch_s();
std::string iso8601(std::int64_t epoch_s);
std::string http_date(std::int64_t epoch_s);
// "?" or "&" joined query parameters appended to url.
std::string append_query(const std::string& url,
                         const std::vector<std::pair<std::string, std::string>>& params);
std::string url_encode(const std::string& s);
std::string base64_decode(const std::string& s);
// "Authorization: Basic base64(user:pass)" split into user and pass; false when absent or bad.
bool basic_credentials(const Request& req, std::string& user, std::string& pass);
// The token of "Authorization: Bearer <token>", or empty.
std::string bearer_token(const Request& req);

// OAuth2 grants of one provider. A grant is one authorization; it holds the current access and
// refresh token. Rotation: every refresh replaces both; a refresh token that was already rotated
// away is remembered, and presenting it revokes the whole grant (refresh token reuse detection).
class TokenStore {
 public:
  struct Grant {
    std::string client_id;
    std::string scope;
    std::string access_token;
    std::string refresh_token;
    std::int64_t access_expires = 0;
    std::int64_t refresh_expires = 0;
    bool revoked = false;
  };
  enum class AccessCheck { kValid, kExpired, kInvalid };
  struct RefreshOutcome {
    const Grant* grant = nullptr;  // null on failure
    std::string error;             // "invalid_grant" ...
    std::string description;
  };

  TokenStore(std::string prefix, bool rotate) : prefix_(std::move(prefix)), rotate_(rotate) {}

  std::string issue_code(const std::string& client_id, const std::string& redirect_uri,
                         const std::string& scope);
  // Redeems a code once. Null (with description) when unknown, used, expired or bound elsewhere.
  const Grant* exchange_code(const std::string& code, const std::string& client_id,
                             const std::string& redirect_uri, int access_lifetime_s,
                             std::int64_t refresh_lifetime_s, std::string& description);
  RefreshOutcome refresh(const std::string& refresh_token, const std::string& client_id,
                         int access_lifetime_s, std::int64_t refresh_lifetime_s);
  AccessCheck check_access(const std::string& access_token) const;
  // Revokes the grant holding token (access or refresh). Unknown tokens are ignored (RFC 7009).
  void revoke(const std::string& token);
  void revoke_all();
  void expire_all_access();

  Var to_json() const;
  void from_json(const ObjectPtr& o);

 private:
  std::string random_token(const std::string& kind);
  struct Code {
    std::string client_id, redirect_uri, scope;
    std::int64_t expires = 0;
  };
  std::string prefix_;
  bool rotate_;
  std::mt19937_64 rng_{std::random_device{}()};
  std::map<std::string, Code> codes_;
  std::map<std::string, Grant> grants_;              // grant id -> grant
  std::map<std::string, std::string> rotated_away_;  // old refresh token -> grant id
  std::uint64_t next_grant_ = 1;
};

// Counters a test reads through GET /_control/counters.
using Counters = std::map<std::string, std::int64_t>;

// Everything the emulations know. Provider data is kept as JSON trees so the state file is the
// same JSON the API returns.
struct State {
  int token_lifetime_s = 3600;
  bool deny_next_authorize = false;
  TokenStore restream_tokens{"rs", true};
  TokenStore livepush_tokens{"lp", false};
  ObjectPtr restream;  // profile, channels, meta, events ...
  ObjectPtr livepush;  // account, streams, destinations, recordings
  ObjectPtr ome;       // vhosts -> apps -> streams/pushes/records
  Counters counters;
  std::uint64_t next_id = 1000;

  void seed();  // the documented starting data
  Var to_json() const;
  void from_json(const ObjectPtr& o);
};

inline constexpr const char* kClientId = "sandbox-client";
inline constexpr const char* kClientSecret = "sandbox-secret";
inline constexpr const char* kOmeAccessToken = "ome-access-token";
inline constexpr const char* kOvenStudioToken = "ovenstudio-token";
inline constexpr std::int64_t kRestreamRefreshLifetimeS = 31536000;

// Provider entry points: `segments` are below /restream, /livepush, /ome, /ovenstudio.
// `mutated` is set when the state changed (so it is saved).
Response handle_restream(State& st, const Request& req, bool& mutated);
Response handle_livepush(State& st, const Request& req, bool& mutated);
Response handle_ome(State& st, const Request& req, bool& mutated);
Response handle_ovenstudio(State& st, const Request& req, bool& mutated);
// Control endpoints for provider data, below /_control/<provider>.
Response control_restream(State& st, const Request& req);
Response control_livepush(State& st, const Request& req);
Response control_ome(State& st, const Request& req);
void seed_restream(State& st);
void seed_livepush(State& st);
void seed_ome(State& st);

// The error body each provider uses, for the middleware (429, injected failures).
enum class Provider { kRestream, kLivepush, kOme, kOvenStudio };
Response provider_error(Provider p, int status, const std::string& message, const std::string& name = "");

}  // namespace weft::sandbox
