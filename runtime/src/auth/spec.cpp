#include "auth/spec.hpp"

#include <Poco/URI.h>

#include <charconv>

namespace weft::auth {
namespace {

Status bad(const std::string& field, const std::string& why) {
  return {Code::kInvalidArgument, "auth setting '" + field + "': " + why};
}

// URLs must be absolute http(s): a relative or odd scheme here would send credentials somewhere
// unintended.
Status check_url(const std::string& field, const std::string& url) {
  try {
    Poco::URI uri(url);
    if ((uri.getScheme() != "http" && uri.getScheme() != "https") || uri.getHost().empty()) {
      return bad(field, "'" + url + "' is not an absolute http:// or https:// URL");
    }
  } catch (const Poco::Exception& e) {
    return bad(field, "'" + url + "' is not a valid URL (" + e.displayText() + ")");
  }
  return Status::Ok();
}

Result<bool> parse_bool(const std::string& field, const std::string& v) {
  if (v == "true" || v == "1" || v == "yes") return true;
  if (v == "false" || v == "0" || v == "no") return false;
  return bad(field, "expected true or false, got '" + v + "'");
}

Result<std::string> parse_separator(const std::string& v) {
  if (v == " " || v == "space") return std::string(" ");
  if (v == "," || v == "comma") return std::string(",");
  return bad("scope_separator", "expected \" \" (space) or \",\" (comma), got '" + v + "'");
}

Result<ClientAuth> parse_client_auth(const std::string& v) {
  if (v == "basic") return ClientAuth::kBasic;
  if (v == "body") return ClientAuth::kBody;
  if (v == "query") return ClientAuth::kQuery;
  return bad("client_auth", "expected basic, body or query, got '" + v + "'");
}

Result<TokenMethod> parse_method(const std::string& v) {
  if (v == "POST" || v == "post") return TokenMethod::kPost;
  if (v == "GET" || v == "get") return TokenMethod::kGet;
  return bad("token_method", "expected POST or GET, got '" + v + "'");
}

// Applies one string-valued field from either source (manifest JSON or settings).
Status apply_oauth_field(AuthSpec& s, const std::string& key, const std::string& v) {
  if (key == "authorize_url")
    s.authorize_url = v;
  else if (key == "token_url")
    s.token_url = v;
  else if (key == "revoke_url")
    s.revoke_url = v;
  else if (key == "scopes")
    s.scopes = split_scopes(v);
  else if (key == "scope_separator") {
    auto r = parse_separator(v);
    if (!r) return r.status();
    s.scope_separator = *r;
  } else if (key == "client_auth") {
    auto r = parse_client_auth(v);
    if (!r) return r.status();
    s.client_auth = *r;
  } else if (key == "token_method") {
    auto r = parse_method(v);
    if (!r) return r.status();
    s.token_method = *r;
  } else if (key == "pkce" || key == "rotates_refresh_token") {
    auto r = parse_bool(key, v);
    if (!r) return r.status();
    (key == "pkce" ? s.pkce : s.rotates_refresh_token) = *r;
  } else if (key == "token_type_override") {
    s.token_type_override = v;
  } else if (key == "refresh_token_lifetime_seconds") {
    std::int64_t n = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || p != v.data() + v.size() || n < 1)
      return bad(key, "expected a positive integer, got '" + v + "'");
    s.refresh_token_lifetime_seconds = n;
  }
  return Status::Ok();
}

// Every oauth2 key of a connection's settings over s: the same keys for a connector that declares
// oauth2 (overriding its manifest) and for the generic http connector (declaring it all). Other
// settings (api_base ...) are the connector's and are skipped.
Status apply_oauth_settings(AuthSpec& s, const std::map<std::string, std::string>& settings) {
  constexpr std::string_view kPrefix = "authorize_param.";
  for (const auto& [k, v] : settings) {
    WEFT_RETURN_IF_ERROR(apply_oauth_field(s, k, v));
    if (k.rfind(kPrefix, 0) != 0) continue;
    if (k.size() == kPrefix.size()) return bad(k, "name the parameter: authorize_param.<name>=<value>");
    s.authorize_params[k.substr(kPrefix.size())] = v;
  }
  return Status::Ok();
}

Status apply_api_token_field(AuthSpec& s, const std::string& key, const std::string& v) {
  if (key == "header") {
    if (v.empty() || v.find_first_of(":\r\n \t") != std::string::npos)
      return bad(key, "not a valid header name");
    s.header = v;
  } else if (key == "scheme") {
    s.scheme = v;
  } else if (key == "encoding") {
    if (v != "none" && v != "base64") return bad(key, "expected none or base64, got '" + v + "'");
    s.base64 = v == "base64";
  }
  return Status::Ok();
}

Result<AuthSpec> from_manifest(const Json& m) {
  AuthSpec s;
  const std::string kind = json::get_string(m, "kind");
  if (kind == "none" || kind.empty()) return s;
  auto obj = json::as_object(m);
  if (kind == "api_token") {
    s.kind = AuthKind::kApiToken;
    for (const char* k : {"header", "scheme", "encoding"}) {
      Json v = json::get(m, k);
      if (v.isEmpty()) continue;
      if (!json::is_string(v)) return bad(k, "must be a string");
      WEFT_RETURN_IF_ERROR(apply_api_token_field(s, k, v.toString()));
    }
    return s;
  }
  if (kind != "oauth2") return bad("kind", "expected oauth2, api_token or none, got '" + kind + "'");
  s.kind = AuthKind::kOAuth2;
  for (const char* k : {"authorize_url", "token_url", "revoke_url", "scope_separator", "client_auth",
                        "token_method", "token_type_override"}) {
    Json v = json::get(m, k);
    if (v.isEmpty()) continue;
    if (!json::is_string(v)) return bad(k, "must be a string");
    WEFT_RETURN_IF_ERROR(apply_oauth_field(s, k, v.toString()));
  }
  try {
    for (const char* k : {"pkce", "rotates_refresh_token"}) {
      Json v = json::get(m, k);
      if (v.isEmpty()) continue;
      if (!v.isBoolean()) return bad(k, "must be true or false");
      (std::string(k) == "pkce" ? s.pkce : s.rotates_refresh_token) = v.extract<bool>();
    }
    Json life = json::get(m, "refresh_token_lifetime_seconds");
    if (!life.isEmpty()) {
      if (!life.isInteger() || life.convert<std::int64_t>() < 1)
        return bad("refresh_token_lifetime_seconds", "must be a positive integer");
      s.refresh_token_lifetime_seconds = life.convert<std::int64_t>();
    }
    if (auto arr = json::as_array(json::get(m, "scopes"))) {
      for (std::size_t i = 0; i < arr->size(); ++i) {
        Json v = arr->get(static_cast<unsigned>(i));
        if (!json::is_string(v)) return bad("scopes", "every scope must be a string");
        s.scopes.push_back(v.toString());
      }
    }
    if (auto params = json::as_object(json::get(m, "authorize_params"))) {
      for (const auto& [k, v] : *params) {
        if (!json::is_string(v)) return bad("authorize_params." + k, "must be a string");
        s.authorize_params[k] = v.toString();
      }
    }
  } catch (const Poco::Exception& e) {
    return bad("auth", e.displayText());
  }
  return s;
}

}  // namespace

const char* kind_name(AuthKind k) {
  switch (k) {
    case AuthKind::kOAuth2:
      return "oauth2";
    case AuthKind::kApiToken:
      return "api_token";
    case AuthKind::kNone:
      break;
  }
  return "none";
}

std::vector<std::string> split_scopes(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : text) {
    if (c == ' ' || c == ',' || c == '\t') {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

Result<AuthSpec> resolve_spec(const Json& manifest_auth, const std::map<std::string, std::string>& settings) {
  auto base = from_manifest(manifest_auth);
  if (!base) return base.status();
  AuthSpec s = std::move(*base);

  auto setting = [&](const std::string& k) -> const std::string* {
    auto it = settings.find(k);
    return it == settings.end() ? nullptr : &it->second;
  };

  if (s.kind == AuthKind::kNone) {
    const std::string* declared = setting("auth");
    if (declared == nullptr || *declared == "none") return s;
    if (*declared == "oauth2") {
      s.kind = AuthKind::kOAuth2;
      WEFT_RETURN_IF_ERROR(apply_oauth_settings(s, settings));
    } else if (*declared == "api_token") {
      s.kind = AuthKind::kApiToken;
      for (const auto& [k, v] : settings) WEFT_RETURN_IF_ERROR(apply_api_token_field(s, k, v));
      return s;
    } else {
      return bad("auth", "expected oauth2, api_token or none, got '" + *declared + "'");
    }
  } else if (s.kind == AuthKind::kOAuth2) {
    // Every manifest value is a default: a connection corrects what a provider's docs got wrong
    // (PROVIDERS.md "unverified") or picks another documented option (Restream's body client auth).
    WEFT_RETURN_IF_ERROR(apply_oauth_settings(s, settings));
  }

  if (s.kind == AuthKind::kOAuth2) {
    if (s.authorize_url.empty())
      return bad("authorize_url", "required for oauth2 (set it with --set authorize_url=...)");
    if (s.token_url.empty()) return bad("token_url", "required for oauth2 (set it with --set token_url=...)");
    WEFT_RETURN_IF_ERROR(check_url("authorize_url", s.authorize_url));
    WEFT_RETURN_IF_ERROR(check_url("token_url", s.token_url));
    if (!s.revoke_url.empty()) WEFT_RETURN_IF_ERROR(check_url("revoke_url", s.revoke_url));
  }
  return s;
}

}  // namespace weft::auth
