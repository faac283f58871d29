// connection_manager.hpp — connections and their credential lifecycle: add, list, authorize,
// complete (the OAuth callback), refresh, remove, and hook(name): the http::AuthHook that puts the
// connection's credentials on each request, refreshing single-flight.
//
//   auth::ConnectionManager mgr(vault, manifests, transport);
//   auto start = mgr.authorize("my-rs", "http://127.0.0.1:8788/oauth/callback");  // start->url
//   auto done = mgr.complete("code=...&state=...");
//   http::AuthHook* h = *mgr.hook("my-rs");   // owned by mgr
//
// Refresh: proactive (expiry within options.refresh_skew) and reactive (on_unauthorized). One
// refresh per connection at a time: in-process callers wait on a condition variable, other
// processes on vault::Vault::try_lease; after the lease the vault is re-read (another process may
// have refreshed) and the refresh token is always the one in the vault, never a cached one. A new
// pair is committed with Vault::update before any caller sees the new access token.
// On a 401 the vault is re-read: a token other than the one sent (another process refreshed) is
// adopted, else the token is refreshed; either way the call is resent once.
// A refused grant (invalid_grant, 400/401) moves the connection to needs_reauth; every later call
// fails fast without contacting the token endpoint.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "auth/flow.hpp"
#include "auth/spec.hpp"
#include "core/json.hpp"
#include "core/status.hpp"
#include "http/client.hpp"
#include "vault/vault.hpp"

namespace weft::auth {

// Sends one token/revoke request (the lead wires http::Client::send here). Thread-safe.
using Transport = std::function<Result<http::Response>(http::Request)>;
// A connector's manifest JSON, or kNotFound. Only its `auth` and `settings` are read, so a lookup
// may return an object with just those two.
using ManifestLookup = std::function<Result<Json>(const std::string& connector_id)>;

struct ManagerOptions {
  std::chrono::seconds refresh_skew{60};                 // refresh when the token expires within this
  std::chrono::seconds state_ttl{600};                   // an authorize state lives 10 minutes
  std::chrono::seconds refresh_warning{14 * 24 * 3600};  // warn this long before a refresh token expires
  std::chrono::milliseconds lease_ttl{30000};            // cross-process refresh lease
  std::chrono::milliseconds lease_poll{25};              // waiting for another process's refresh
  std::function<std::int64_t()> now;                     // epoch seconds; default system clock
  std::string owner;                                     // lease owner id; default host:pid:random
  // Called on the refreshing thread (no manager lock held) when a connection moves to
  // needs_reauth, so the daemon can report the event. May be empty.
  std::function<void(const std::string& name, const std::string& reason)> on_needs_reauth;
};

struct AddRequest {
  std::string name;
  std::string connector;
  std::string client_id;
  std::string client_secret;
  std::string token;  // api_token connections
  std::map<std::string, std::string> settings;
};

// What `connections list` shows: never a secret.
struct ConnectionSummary {
  std::string name;
  std::string connector;
  std::string auth_kind;
  std::string state;
  std::vector<std::string> scopes;
  std::optional<std::int64_t> access_expires_at;
  std::optional<std::int64_t> refresh_expires_at;
  std::string last_error;
};

struct AuthorizeStart {
  std::string url;
  std::string state;
  std::int64_t expires_at = 0;
};

// "pending", "active", "needs_reauth", "revoked" (local so the auth module does not depend on the
// vault implementation's definitions).
const char* connection_state_name(vault::ConnectionState s);

// The one message every call on a connection that needs re-authorization fails with.
std::string needs_reauth_message(const std::string& name);

class ConnectionManager {
 public:
  // vault must outlive the manager. Thread-safe: every method may be called from any thread.
  ConnectionManager(vault::Vault& vault, ManifestLookup manifests, Transport transport,
                    ManagerOptions options = {});
  ~ConnectionManager();
  ConnectionManager(const ConnectionManager&) = delete;
  ConnectionManager& operator=(const ConnectionManager&) = delete;

  // Validates the name, connector and auth kind and stores the credentials sealed. oauth2 →
  // state pending (authorize next); api_token → active. kInvalidArgument names what is wrong.
  Status add(const AddRequest& req);
  Result<std::vector<ConnectionSummary>> list();
  // Builds the authorize URL and stores a fresh single-use state (and PKCE verifier). An empty
  // redirect_uri uses the connection's `redirect_uri` setting; neither → kInvalidArgument.
  Result<AuthorizeStart> authorize(const std::string& name, const std::string& redirect_uri);
  // Handles the redirect: checks state first (missing/unknown/used/expired → kPermissionDenied,
  // nothing exchanged or stored), then error= (kPermissionDenied), then code (kInvalidArgument when
  // absent), exchanges the code and stores the tokens; the connection becomes active. Returns its name.
  Result<std::string> complete(const std::string& callback_query);
  // Forces a refresh now (single-flight with concurrent callers).
  Status refresh(const std::string& name);
  // Revokes (RFC 7009, best effort, where revoke_url is declared), then deletes every secret.
  Status remove(const std::string& name);
  // The connection's AuthHook, owned by the manager and valid for its lifetime (after remove() it
  // fails every call). kNotFound for an unknown connection.
  Result<http::AuthHook*> hook(const std::string& name);

  // Number of token endpoint requests sent by this manager (refresh + code exchange).
  std::int64_t token_requests() const;

  struct Conn;  // per-connection cache and single-flight state

 private:
  friend class ConnectionHook;
  Conn& conn(const std::string& name);
  Result<AuthSpec> spec_for(const vault::ConnectionRecord& rec);
  Status load(Conn& c, std::unique_lock<std::mutex>& lk);
  Status apply(Conn& c, http::Request& req);
  Result<bool> on_unauthorized(Conn& c);
  Status ensure_fresh(Conn& c, std::unique_lock<std::mutex>& lk, bool force, const std::string& stale);
  // The refresh itself, without Conn's mutex held. Returns the token to adopt.
  Status do_refresh(Conn& c, bool force, const std::string& stale);
  // Commits a token response durably (retrying a lost optimistic-concurrency race).
  Status store_tokens(const std::string& name, const TokenSet& t, const AuthSpec& spec);
  void publish(Conn& c, const vault::ConnectionRecord& rec,
               const std::map<std::string, std::string>& secrets);
  std::int64_t now() const;

  vault::Vault& vault_;
  ManifestLookup manifests_;
  Transport transport_;
  ManagerOptions options_;
  std::mutex mu_;  // guards conns_ (the map, not the entries)
  std::map<std::string, std::unique_ptr<Conn>> conns_;
  std::atomic<std::int64_t> token_requests_{0};
};

}  // namespace weft::auth
