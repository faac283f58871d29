// spec.hpp — how one connection authenticates: the manifest's `auth` section with the connection's
// settings applied on top.
//
//   Result<auth::AuthSpec> s = auth::resolve_spec(manifest_auth_json, record.settings);
//   if (!s) return s.status();
//   if (s->kind == auth::AuthKind::kOAuth2) use(s->token_url);
//
// Overrides (documented in the README's "Connections" section):
// - Any connector: the settings `authorize_url`, `token_url`, `revoke_url` and `scopes` replace the
//   manifest's (self-hosted servers, staging accounts, test sandboxes).
// - A connector whose manifest says `auth: none` (the generic `http` connector): the setting
//   `auth=oauth2|api_token` declares a generic RFC 6749/7636 provider entirely through settings:
//   authorize_url, token_url (required), revoke_url, scopes ("a b" or "a,b"), scope_separator
//   (" " | "," | space | comma), client_auth (basic|body|query), token_method (POST|GET),
//   pkce (true|false), rotates_refresh_token, token_type_override, refresh_token_lifetime_seconds,
//   authorize_param.<name>=<value>; for api_token: header, scheme, encoding (none|base64).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/json.hpp"
#include "core/status.hpp"

namespace weft::auth {

enum class AuthKind { kNone, kOAuth2, kApiToken };
enum class ClientAuth { kBasic, kBody, kQuery };
enum class TokenMethod { kPost, kGet };

const char* kind_name(AuthKind k);  // "none", "oauth2", "api_token"

struct AuthSpec {
  AuthKind kind = AuthKind::kNone;
  // oauth2
  std::string authorize_url;
  std::string token_url;
  std::string revoke_url;  // empty: no RFC 7009 endpoint
  std::vector<std::string> scopes;
  std::string scope_separator = " ";
  ClientAuth client_auth = ClientAuth::kBasic;
  TokenMethod token_method = TokenMethod::kPost;
  bool pkce = false;
  bool rotates_refresh_token = false;
  std::string token_type_override;  // e.g. "Bearer"; empty: Bearer unless the response says otherwise
  std::map<std::string, std::string> authorize_params;
  std::optional<std::int64_t> refresh_token_lifetime_seconds;
  // api_token
  std::string header = "Authorization";
  std::string scheme = "Bearer";
  bool base64 = false;
};

// Resolves the effective spec. manifest_auth is the manifest's `auth` object (already validated
// against the manifest schema, but re-checked here: a bad value is one kInvalidArgument naming the
// field). settings are the connection's non-secret settings. Never throws.
Result<AuthSpec> resolve_spec(const Json& manifest_auth, const std::map<std::string, std::string>& settings);

// Splits a scope string on spaces and commas, dropping empty parts.
std::vector<std::string> split_scopes(const std::string& text);

}  // namespace weft::auth
