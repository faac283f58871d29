// common.cpp — request/response helpers, the OAuth token store and state (de)serialization.
#include <Poco/Base64Decoder.h>
#include <Poco/Base64Encoder.h>
#include <Poco/DateTime.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/Timestamp.h>
#include <Poco/URI.h>

#include <cctype>
#include <sstream>

#include "sandbox.hpp"
#include "sandbox_internal.hpp"

namespace weft::sandbox {

namespace {
std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
constexpr std::int64_t kCodeLifetimeS = 600;
}  // namespace

std::string Request::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

std::map<std::string, std::string> Request::form() const {
  std::map<std::string, std::string> out;
  std::istringstream in(body);
  std::string pair;
  while (std::getline(in, pair, '&')) {
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    std::string k = pair.substr(0, eq);
    std::string v = eq == std::string::npos ? "" : pair.substr(eq + 1);
    for (auto* s : {&k, &v})
      for (auto& c : *s)
        if (c == '+') c = ' ';
    std::string dk, dv;
    Poco::URI::decode(k, dk);
    Poco::URI::decode(v, dv);
    out[dk] = dv;
  }
  return out;
}

ObjectPtr Request::json_object() const { return parse_object(body); }

Response json_response(int status, const Var& body) {
  Response r;
  r.status = status;
  r.body = stringify(body);
  return r;
}

Response empty_response(int status) {
  Response r;
  r.status = status;
  r.content_type.clear();
  return r;
}

Response redirect(const std::string& location) {
  Response r;
  r.status = 302;
  r.content_type = "text/plain";
  r.headers.emplace_back("Location", location);
  r.body = "Redirecting to " + location;
  return r;
}

std::string stringify(const Var& v) {
  if (v.isEmpty()) return "null";
  std::ostringstream out;
  Poco::JSON::Stringifier::condense(v, out);
  return out.str();
}

ObjectPtr parse_object(const std::string& text) {
  try {
    Poco::JSON::Parser parser;
    Var v = parser.parse(text);
    if (v.type() == typeid(ObjectPtr)) return v.extract<ObjectPtr>();
  } catch (const Poco::Exception&) {
  } catch (const std::exception&) {
  }
  return {};
}

ObjectPtr clone_object(const ObjectPtr& o) { return parse_object(stringify(o)); }

std::int64_t now_epoch_s() { return Poco::Timestamp().epochTime(); }

std::string iso8601(std::int64_t epoch_s) {
  return Poco::DateTimeFormatter::format(Poco::Timestamp::fromEpochTime(static_cast<std::time_t>(epoch_s)),
                                         "%Y-%m-%dT%H:%M:%S.000Z");
}

std::string http_date(std::int64_t epoch_s) {
  return Poco::DateTimeFormatter::format(Poco::Timestamp::fromEpochTime(static_cast<std::time_t>(epoch_s)),
                                         Poco::DateTimeFormat::HTTP_FORMAT);
}

std::string url_encode(const std::string& s) {
  std::string out;
  Poco::URI::encode(s, "!#$&'()*+,/:;=?@[]", out);
  return out;
}

std::string append_query(const std::string& url,
                         const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out = url;
  char sep = url.find('?') == std::string::npos ? '?' : '&';
  for (const auto& [k, v] : params) {
    out += sep + url_encode(k) + "=" + url_encode(v);
    sep = '&';
  }
  return out;
}

std::string base64(const std::string& s) {
  std::ostringstream out;
  Poco::Base64Encoder enc(out);
  enc.rdbuf()->setLineLength(0);
  enc << s;
  enc.close();
  return out.str();
}

std::string base64_decode(const std::string& s) {
  try {
    std::istringstream in(s);
    Poco::Base64Decoder dec(in);
    std::string out((std::istreambuf_iterator<char>(dec)), std::istreambuf_iterator<char>());
    return out;
  } catch (const Poco::Exception&) {
    return {};
  }
}

bool basic_credentials(const Request& req, std::string& user, std::string& pass) {
  std::string h = req.header("authorization");
  if (lower(h.substr(0, 6)) != "basic ") return false;
  std::string decoded = base64_decode(h.substr(6));
  auto colon = decoded.find(':');
  if (colon == std::string::npos) return false;
  user = decoded.substr(0, colon);
  pass = decoded.substr(colon + 1);
  return true;
}

std::string bearer_token(const Request& req) {
  std::string h = req.header("authorization");
  if (lower(h.substr(0, 7)) != "bearer ") return {};
  return h.substr(7);
}

// ---- TokenStore ----

std::string TokenStore::random_token(const std::string& kind) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = prefix_ + "_" + kind + "_";
  for (int i = 0; i < 32; ++i) out.push_back(kHex[rng_() % 16]);
  return out;
}

std::string TokenStore::issue_code(const std::string& client_id, const std::string& redirect_uri,
                                   const std::string& scope) {
  std::string code = random_token("code");
  codes_[code] = Code{client_id, redirect_uri, scope, now_epoch_s() + kCodeLifetimeS};
  return code;
}

const TokenStore::Grant* TokenStore::exchange_code(const std::string& code, const std::string& client_id,
                                                   const std::string& redirect_uri, int access_lifetime_s,
                                                   std::int64_t refresh_lifetime_s,
                                                   std::string& description) {
  auto it = codes_.find(code);
  if (it == codes_.end()) {
    description = "authorization code is unknown or was already used";
    return nullptr;
  }
  Code c = it->second;
  codes_.erase(it);  // single use, even when the rest fails
  if (c.expires < now_epoch_s()) {
    description = "authorization code expired";
    return nullptr;
  }
  if (c.client_id != client_id) {
    description = "authorization code was issued to another client";
    return nullptr;
  }
  if (!redirect_uri.empty() && redirect_uri != c.redirect_uri) {
    description = "redirect_uri does not match the authorization request";
    return nullptr;
  }
  std::string id = "g" + std::to_string(next_grant_++);
  Grant g;
  g.client_id = client_id;
  g.scope = c.scope;
  g.access_token = random_token("at");
  g.refresh_token = random_token("rt");
  g.access_expires = now_epoch_s() + access_lifetime_s;
  g.refresh_expires = now_epoch_s() + refresh_lifetime_s;
  return &(grants_[id] = g);
}

TokenStore::RefreshOutcome TokenStore::refresh(const std::string& refresh_token, const std::string& client_id,
                                               int access_lifetime_s, std::int64_t refresh_lifetime_s) {
  RefreshOutcome out;
  out.error = "invalid_grant";
  if (auto old = rotated_away_.find(refresh_token); old != rotated_away_.end()) {
    if (auto g = grants_.find(old->second); g != grants_.end()) g->second.revoked = true;
    out.description = "refresh token was already used; the grant is revoked";
    return out;
  }
  for (auto& [id, g] : grants_) {
    if (g.refresh_token != refresh_token) continue;
    if (g.revoked) {
      out.description = "refresh token is revoked";
      return out;
    }
    if (g.client_id != client_id) {
      out.description = "refresh token was issued to another client";
      return out;
    }
    if (g.refresh_expires < now_epoch_s()) {
      out.description = "refresh token expired";
      return out;
    }
    g.access_token = random_token("at");
    g.access_expires = now_epoch_s() + access_lifetime_s;
    if (rotate_) {
      rotated_away_[g.refresh_token] = id;
      g.refresh_token = random_token("rt");
      g.refresh_expires = now_epoch_s() + refresh_lifetime_s;
    }
    out.grant = &g;
    out.error.clear();
    return out;
  }
  out.description = "refresh token is unknown";
  return out;
}

TokenStore::AccessCheck TokenStore::check_access(const std::string& access_token) const {
  for (const auto& [id, g] : grants_) {
    if (g.access_token != access_token) continue;
    if (g.revoked) return AccessCheck::kInvalid;
    return g.access_expires < now_epoch_s() ? AccessCheck::kExpired : AccessCheck::kValid;
  }
  return AccessCheck::kInvalid;
}

void TokenStore::revoke(const std::string& token) {
  for (auto& [id, g] : grants_)
    if (g.access_token == token || g.refresh_token == token) g.revoked = true;
}

void TokenStore::revoke_all() {
  for (auto& [id, g] : grants_) g.revoked = true;
}

void TokenStore::expire_all_access() {
  for (auto& [id, g] : grants_) g.access_expires = now_epoch_s() - 1;
}

Var TokenStore::to_json() const {
  ObjectPtr o = new Poco::JSON::Object;
  ObjectPtr grants = new Poco::JSON::Object;
  for (const auto& [id, g] : grants_) {
    ObjectPtr j = new Poco::JSON::Object;
    j->set("client_id", g.client_id);
    j->set("scope", g.scope);
    j->set("access_token", g.access_token);
    j->set("refresh_token", g.refresh_token);
    j->set("access_expires", g.access_expires);
    j->set("refresh_expires", g.refresh_expires);
    j->set("revoked", g.revoked);
    grants->set(id, j);
  }
  ObjectPtr rotated = new Poco::JSON::Object;
  for (const auto& [t, id] : rotated_away_) rotated->set(t, id);
  o->set("grants", grants);
  o->set("rotated_away", rotated);
  o->set("next_grant", next_grant_);
  return o;
}

void TokenStore::from_json(const ObjectPtr& o) {
  if (!o) return;
  grants_.clear();
  rotated_away_.clear();
  if (auto grants = o->getObject("grants")) {
    for (const auto& [id, v] : *grants) {
      auto j = v.extract<ObjectPtr>();
      Grant g;
      g.client_id = j->optValue<std::string>("client_id", "");
      g.scope = j->optValue<std::string>("scope", "");
      g.access_token = j->optValue<std::string>("access_token", "");
      g.refresh_token = j->optValue<std::string>("refresh_token", "");
      g.access_expires = j->optValue<std::int64_t>("access_expires", 0);
      g.refresh_expires = j->optValue<std::int64_t>("refresh_expires", 0);
      g.revoked = j->optValue<bool>("revoked", false);
      grants_[id] = g;
    }
  }
  if (auto rotated = o->getObject("rotated_away"))
    for (const auto& [t, v] : *rotated) rotated_away_[t] = v.convert<std::string>();
  next_grant_ = o->optValue<std::uint64_t>("next_grant", grants_.size() + 1);
}

// ---- State ----

void State::seed() {
  seed_restream(*this);
  seed_livepush(*this);
  seed_ome(*this);
}

Var State::to_json() const {
  ObjectPtr o = new Poco::JSON::Object;
  o->set("restream_tokens", restream_tokens.to_json());
  o->set("livepush_tokens", livepush_tokens.to_json());
  o->set("restream", restream);
  o->set("livepush", livepush);
  o->set("ome", ome);
  o->set("next_id", next_id);
  return o;
}

void State::from_json(const ObjectPtr& o) {
  restream_tokens.from_json(o->getObject("restream_tokens"));
  livepush_tokens.from_json(o->getObject("livepush_tokens"));
  if (auto r = o->getObject("restream")) restream = r;
  if (auto l = o->getObject("livepush")) livepush = l;
  if (auto m = o->getObject("ome")) ome = m;
  next_id = o->optValue<std::uint64_t>("next_id", next_id);
}

Response provider_error(Provider p, int status, const std::string& message, const std::string& name) {
  ObjectPtr body = new Poco::JSON::Object;
  switch (p) {
    case Provider::kRestream: {
      ObjectPtr e = new Poco::JSON::Object;
      e->set("statusCode", status);
      e->set("status", status);
      e->set("code", status);
      e->set("message", message);
      e->set("name", name.empty() ? std::string(status == 429 ? "too_many_requests" : "error") : name);
      body->set("error", e);
      break;
    }
    case Provider::kLivepush:
      body->set("statusCode", status);
      body->set("error", name.empty() ? std::string("Error") : name);
      body->set("message", message);
      break;
    case Provider::kOme:
    case Provider::kOvenStudio:
      body->set("statusCode", status);
      body->set("message", message);
      break;
  }
  Response r = json_response(status, body);
  if (status == 401 && p == Provider::kOme)
    r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"OvenMediaEngine\"");
  return r;
}

}  // namespace weft::sandbox
