#include "auth/flow.hpp"

#include <Poco/Base64Encoder.h>
#include <Poco/SHA2Engine.h>
#include <Poco/URI.h>
#include <sys/random.h>

#include <charconv>
#include <cmath>
#include <sstream>

#include "core/json.hpp"

namespace weft::auth {
namespace {

constexpr std::size_t kMaxCallbackBytes = 8192;
constexpr const char* kFormReserved = "!#$&'()*+,/:;=?@[]% ";

std::string encode(const std::string& v) {
  std::string out;
  Poco::URI::encode(v, kFormReserved, out);
  return out;
}

std::string join_query(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out;
  for (const auto& [k, v] : params) {
    if (!out.empty()) out += '&';
    out += encode(k) + "=" + encode(v);
  }
  return out;
}

std::string append_query(const std::string& url, const std::string& query) {
  if (query.empty()) return url;
  return url + (url.find('?') == std::string::npos ? "?" : "&") + query;
}

std::string base64_impl(std::string_view data, int options) {
  std::ostringstream out;
  Poco::Base64Encoder enc(out, options);
  enc.rdbuf()->setLineLength(0);
  enc.write(data.data(), static_cast<std::streamsize>(data.size()));
  enc.close();
  return out.str();
}

// RFC 6749 §2.3.1: client id and secret are form-encoded before they go into the Basic header.
std::string basic_header(const ClientCredentials& c) {
  return "Basic " + base64(encode(c.client_id) + ":" + encode(c.client_secret));
}

void add_client_auth(const AuthSpec& spec, const ClientCredentials& client, http::Request& req,
                     std::vector<std::pair<std::string, std::string>>& body,
                     std::vector<std::pair<std::string, std::string>>& query) {
  ClientAuth how = spec.client_auth;
  // A public client (no secret) cannot use Basic meaningfully: it identifies itself in the body.
  if (how == ClientAuth::kBasic && client.client_secret.empty()) how = ClientAuth::kBody;
  // A GET request has no body: body credentials travel in the query (Livepush).
  if (how == ClientAuth::kBody && spec.token_method == TokenMethod::kGet) how = ClientAuth::kQuery;
  switch (how) {
    case ClientAuth::kBasic:
      req.headers.emplace_back("Authorization", basic_header(client));
      break;
    case ClientAuth::kBody:
    case ClientAuth::kQuery: {
      auto& dst = how == ClientAuth::kBody ? body : query;
      dst.emplace_back("client_id", client.client_id);
      if (!client.client_secret.empty()) dst.emplace_back("client_secret", client.client_secret);
      break;
    }
  }
}

// An integer seconds value from a JSON number or numeric string; nullopt when absent.
Result<std::optional<std::int64_t>> seconds_field(const Json& doc, const char* key) {
  Json v = json::get(doc, key);
  if (v.isEmpty() || json::is_null(v)) return std::optional<std::int64_t>{};
  const std::string where = std::string("token response field '") + key + "'";
  try {
    if (v.isString()) {
      const std::string s = v.toString();
      std::int64_t n = 0;
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
      if (ec != std::errc() || p != s.data() + s.size()) {
        return Status(Code::kInvalidArgument, where + " is not a number ('" + s.substr(0, 32) + "')");
      }
      return std::optional<std::int64_t>(n);
    }
    if (v.isInteger()) {
      if (v.isSigned()) return std::optional<std::int64_t>(v.convert<std::int64_t>());
      auto u = v.convert<std::uint64_t>();
      if (u > static_cast<std::uint64_t>(INT64_MAX))
        return Status(Code::kInvalidArgument, where + " is out of range");
      return std::optional<std::int64_t>(static_cast<std::int64_t>(u));
    }
    if (v.isNumeric()) {
      double d = v.convert<double>();
      if (!std::isfinite(d) || std::fabs(d) > 9.0e15)
        return Status(Code::kInvalidArgument, where + " is out of range");
      return std::optional<std::int64_t>(static_cast<std::int64_t>(d));
    }
  } catch (const Poco::Exception&) {
  }
  return Status(Code::kInvalidArgument, where + " must be a number of seconds");
}

// Resolves an expiry from a relative (expires_in-like) and an absolute (epoch) field.
Result<std::optional<std::int64_t>> expiry(const Json& doc, const char* rel_key, const char* abs_key,
                                           std::int64_t now) {
  auto rel = seconds_field(doc, rel_key);
  if (!rel) return rel.status();
  if (*rel) {
    std::int64_t n = **rel;
    if (n < 0)
      return Status(Code::kInvalidArgument, std::string("token response field '") + rel_key +
                                                "' is negative (" + std::to_string(n) + ")");
    if (n > kMaxLifetimeSeconds)
      return Status(Code::kInvalidArgument, std::string("token response field '") + rel_key +
                                                "' is absurdly large (" + std::to_string(n) + " s)");
    // 0 is read as "lifetime not stated" (several providers send it for non-expiring tokens).
    if (n > 0) return std::optional<std::int64_t>(now + n);
  }
  auto abs = seconds_field(doc, abs_key);
  if (!abs) return abs.status();
  if (*abs) {
    std::int64_t t = **abs;
    if (t <= 0 || t > now + kMaxLifetimeSeconds) {
      return Status(Code::kInvalidArgument, std::string("token response field '") + abs_key +
                                                "' is not a plausible epoch time (" + std::to_string(t) +
                                                ")");
    }
    return std::optional<std::int64_t>(t);
  }
  return std::optional<std::int64_t>{};
}

// First present string member among keys; a present non-string member is an error.
Result<std::optional<std::string>> string_field(const Json& doc, std::initializer_list<const char*> keys) {
  for (const char* k : keys) {
    Json v = json::get(doc, k);
    if (v.isEmpty() || json::is_null(v)) continue;
    if (!json::is_string(v))
      return Status(Code::kInvalidArgument, std::string("token response field '") + k + "' must be a string");
    return std::optional<std::string>(v.toString());
  }
  return std::optional<std::string>{};
}

std::string oauth_error_text(const Json& doc) {
  Json e = json::get(doc, "error");
  std::string code;
  std::string desc = json::get_string(doc, "error_description");
  if (json::is_string(e)) {
    code = e.toString();
  } else if (json::is_object(e)) {  // Restream: {"error":{"name":"invalid_token","message":...}}
    code = json::get_string(e, "name");
    if (desc.empty()) desc = json::get_string(e, "message");
  }
  if (code.empty()) return "";
  return desc.empty() ? code : code + " (" + desc.substr(0, 200) + ")";
}

}  // namespace

std::string base64(std::string_view data) { return base64_impl(data, 0); }

std::string random_token(std::size_t bytes) {
  std::string raw(bytes, '\0');
  std::size_t got = 0;
  while (got < bytes) {
    ssize_t n = ::getrandom(raw.data() + got, bytes - got, 0);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      return "";
    }
    got += static_cast<std::size_t>(n);
  }
  return base64_impl(raw, Poco::BASE64_URL_ENCODING | Poco::BASE64_NO_PADDING);
}

std::string pkce_challenge(const std::string& verifier) {
  Poco::SHA2Engine sha(Poco::SHA2Engine::SHA_256);
  sha.update(verifier);
  const auto& d = sha.digest();
  return base64_impl(std::string_view(reinterpret_cast<const char*>(d.data()), d.size()),
                     Poco::BASE64_URL_ENCODING | Poco::BASE64_NO_PADDING);
}

std::string authorize_url(const AuthSpec& spec, const std::string& client_id, const std::string& redirect_uri,
                          const std::string& state, const std::string& code_challenge) {
  std::vector<std::pair<std::string, std::string>> q = {
      {"response_type", "code"}, {"client_id", client_id}, {"redirect_uri", redirect_uri}, {"state", state}};
  if (!spec.scopes.empty()) {
    std::string joined;
    for (const auto& s : spec.scopes) joined += (joined.empty() ? "" : spec.scope_separator) + s;
    q.emplace_back("scope", joined);
  }
  if (!code_challenge.empty()) {
    q.emplace_back("code_challenge", code_challenge);
    q.emplace_back("code_challenge_method", "S256");
  }
  for (const auto& [k, v] : spec.authorize_params) q.emplace_back(k, v);
  return append_query(spec.authorize_url, join_query(q));
}

Result<CallbackParams> parse_callback(std::string_view input) {
  if (input.size() > kMaxCallbackBytes) return Status(Code::kInvalidArgument, "callback query is too long");
  std::string_view q = input;
  if (auto pos = q.find('?'); pos != std::string_view::npos) q = q.substr(pos + 1);
  if (auto pos = q.find('#'); pos != std::string_view::npos) q = q.substr(0, pos);
  CallbackParams out;
  while (!q.empty()) {
    auto amp = q.find('&');
    std::string_view part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
    if (part.empty()) continue;
    auto eq = part.find('=');
    std::string key(part.substr(0, eq));
    std::string raw(eq == std::string_view::npos ? std::string_view{} : part.substr(eq + 1));
    for (char& c : raw)
      if (c == '+') c = ' ';
    std::string value;
    try {
      Poco::URI::decode(raw, value);
    } catch (const Poco::Exception&) {
      return Status(Code::kInvalidArgument,
                    "callback parameter '" + key.substr(0, 32) + "' is not valid percent-encoding");
    }
    std::optional<std::string>* slot = nullptr;
    if (key == "state")
      slot = &out.state;
    else if (key == "code")
      slot = &out.code;
    else if (key == "error")
      slot = &out.error;
    else if (key == "error_description")
      slot = &out.error_description;
    if (slot == nullptr) continue;
    if (slot->has_value())
      return Status(Code::kInvalidArgument, "callback parameter '" + key + "' is given twice");
    *slot = std::move(value);
  }
  return out;
}

http::Request token_request(const AuthSpec& spec, const ClientCredentials& client,
                            const std::vector<std::pair<std::string, std::string>>& params) {
  http::Request req;
  std::vector<std::pair<std::string, std::string>> body = params;
  std::vector<std::pair<std::string, std::string>> query;
  add_client_auth(spec, client, req, body, query);
  req.headers.emplace_back("Accept", "application/json");
  if (spec.token_method == TokenMethod::kGet) {
    req.method = "GET";
    body.insert(body.end(), query.begin(), query.end());
    req.url = append_query(spec.token_url, join_query(body));
    return req;
  }
  req.method = "POST";
  req.url = append_query(spec.token_url, join_query(query));
  req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  req.body = join_query(body);
  return req;
}

http::Request revoke_request(const AuthSpec& spec, const ClientCredentials& client, const std::string& token,
                             const std::string& token_type_hint) {
  AuthSpec post = spec;
  post.token_method = TokenMethod::kPost;
  post.token_url = spec.revoke_url;
  return token_request(post, client, {{"token", token}, {"token_type_hint", token_type_hint}});
}

Result<TokenSet> parse_token_response(int status, std::string_view body, std::int64_t now) {
  if (body.size() > kMaxTokenResponseBytes)
    return Status(Code::kInvalidArgument, "token response is larger than 1 MiB");
  auto doc = json::parse(body, 32);
  std::string err = doc ? oauth_error_text(*doc) : "";
  if (status == 429) return Status(Code::kRateLimited, "token endpoint is rate limiting (429)");
  if (status == 400 || status == 401) {
    return Status(Code::kUnauthenticated, "token endpoint refused the grant (HTTP " + std::to_string(status) +
                                              (err.empty() ? "" : ": " + err) + ")");
  }
  if (status < 200 || status >= 300) {
    return Status(status >= 500 ? Code::kUnavailable : Code::kUnauthenticated,
                  "token endpoint answered HTTP " + std::to_string(status) + (err.empty() ? "" : ": " + err));
  }
  if (!doc) {
    auto first = body.find_first_not_of(" \t\r\n");
    bool html = first != std::string_view::npos && body[first] == '<';
    return Status(Code::kInvalidArgument,
                  html ? "token response is HTML, not JSON (wrong token_url?)"
                       : "token response is not valid JSON: " + doc.status().message());
  }
  if (!json::is_object(*doc)) return Status(Code::kInvalidArgument, "token response is not a JSON object");
  if (!err.empty()) {
    // Some providers answer errors with 200.
    return Status(err.rfind("invalid_grant", 0) == 0 ? Code::kUnauthenticated : Code::kInvalidArgument,
                  "token endpoint returned an error: " + err);
  }
  TokenSet t;
  auto access = string_field(*doc, {"access_token", "accessToken"});
  if (!access) return access.status();
  if (!*access || (*access)->empty())
    return Status(Code::kInvalidArgument, "token response has no access_token");
  t.access_token = std::move(**access);
  auto refresh = string_field(*doc, {"refresh_token", "refreshToken"});
  if (!refresh) return refresh.status();
  if (*refresh && !(*refresh)->empty()) t.refresh_token = std::move(**refresh);
  auto type = string_field(*doc, {"token_type", "tokenType"});
  if (!type) return type.status();
  t.token_type = type->value_or("Bearer");

  auto exp = expiry(*doc, "expires_in", "expires", now);
  if (!exp) return exp.status();
  if (!*exp) {
    exp = expiry(*doc, "accessTokenExpiresIn", "accessTokenExpiresEpoch", now);
    if (!exp) return exp.status();
  }
  t.expires_at = *exp;
  auto rexp = expiry(*doc, "refresh_token_expires_in", "refresh_token_expires", now);
  if (!rexp) return rexp.status();
  if (!*rexp) {
    rexp = expiry(*doc, "refreshTokenExpiresIn", "refreshTokenExpiresEpoch", now);
    if (!rexp) return rexp.status();
  }
  t.refresh_expires_at = *rexp;

  Json scope = json::get(*doc, "scope");
  if (json::is_string(scope)) {
    t.scopes = split_scopes(scope.toString());
  } else if (auto arr = json::as_array(json::get(*doc, "scopeJson"))) {
    std::vector<std::string> s;
    for (std::size_t i = 0; i < arr->size(); ++i) {
      Json v = arr->get(static_cast<unsigned>(i));
      if (json::is_string(v)) s.push_back(v.toString());
    }
    t.scopes = std::move(s);
  }
  return t;
}

}  // namespace weft::auth
