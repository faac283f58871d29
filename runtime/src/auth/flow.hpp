// flow.hpp — the pure, network-free pieces of the OAuth2 flow (RFC 6749, RFC 7636): random state and
// PKCE values, the authorize URL, callback query parsing, token request building, token response
// parsing. The connection manager (connection_manager.hpp) strings them together with the vault.
//
//   std::string verifier = auth::random_token(64);            // 86 chars, CSPRNG
//   std::string url = auth::authorize_url(spec, client_id, redirect, state, pkce_challenge(verifier));
//   Result<auth::TokenSet> t = auth::parse_token_response(resp.status, resp.body, now);
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/spec.hpp"
#include "core/status.hpp"
#include "http/client.hpp"

namespace weft::auth {

// base64url (no padding) of `bytes` bytes from the kernel CSPRNG (getrandom). Aborts nothing:
// an unavailable CSPRNG is reported by returning an empty string.
std::string random_token(std::size_t bytes);
// RFC 7636 S256: base64url(SHA-256(verifier)) without padding.
std::string pkce_challenge(const std::string& verifier);
std::string base64(std::string_view data);

// The authorize URL: spec.authorize_url plus response_type=code, client_id, redirect_uri, state,
// scope (joined with spec.scope_separator; omitted when no scopes), code_challenge(+_method=S256)
// when code_challenge is non-empty, then spec.authorize_params.
std::string authorize_url(const AuthSpec& spec, const std::string& client_id, const std::string& redirect_uri,
                          const std::string& state, const std::string& code_challenge);

// The parameters of a redirect back to us. Accepts a raw query ("code=..&state=.."), "?query", or a
// path/URL with a query. Refuses (kInvalidArgument) oversized input, bad percent-encoding and a
// parameter given twice (a second `state` must not smuggle past the check).
struct CallbackParams {
  std::optional<std::string> state;
  std::optional<std::string> code;
  std::optional<std::string> error;
  std::optional<std::string> error_description;
};
Result<CallbackParams> parse_callback(std::string_view query_or_url);

struct ClientCredentials {
  std::string client_id;
  std::string client_secret;  // empty for a public client
};

// A token endpoint request in the spec's style: POST form-encoded or GET with query parameters;
// client authentication as HTTP Basic, form body or query string. params are the grant's own
// parameters (grant_type, code, ...). Form values are percent-encoded.
http::Request token_request(const AuthSpec& spec, const ClientCredentials& client,
                            const std::vector<std::pair<std::string, std::string>>& params);
// An RFC 7009 revocation request (always POST form, client auth as for the token endpoint).
http::Request revoke_request(const AuthSpec& spec, const ClientCredentials& client, const std::string& token,
                             const std::string& token_type_hint);

// What a token endpoint granted.
struct TokenSet {
  std::string access_token;
  std::optional<std::string> refresh_token;  // nullopt: the response had none (keep the old one)
  std::string token_type;                    // as received ("Bearer", "access_token" ...)
  std::optional<std::int64_t> expires_at;    // epoch seconds; nullopt: not said
  std::optional<std::int64_t> refresh_expires_at;
  std::optional<std::vector<std::string>> scopes;  // nullopt: not said
};

// Largest lifetime believed (10 years): anything beyond is a broken response, not a token.
inline constexpr std::int64_t kMaxLifetimeSeconds = 10LL * 365 * 24 * 3600;
inline constexpr std::size_t kMaxTokenResponseBytes = 1u << 20;

// Parses a token endpoint answer. Error codes (the "typed error"):
//   kUnauthenticated — the grant was refused (invalid_grant, or any 400/401): needs re-authorization
//   kRateLimited     — 429
//   kUnavailable     — 5xx or other transient status
//   kInvalidArgument — a 2xx whose body is unusable (not JSON, truncated, no access_token, negative
//                      or absurd expiry ...); the message says which field and why.
// Accepts expires_in as a number or a numeric string, `expires` (epoch s) and Restream's camelCase
// twins. Never throws; the message never contains a token.
Result<TokenSet> parse_token_response(int status, std::string_view body, std::int64_t now_epoch_s);

}  // namespace weft::auth
