#include "auth/connection_manager.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "core/log.hpp"
#include "core/redact.hpp"

namespace weft::auth {
namespace {

constexpr auto kRecheckInterval = std::chrono::seconds(2);
constexpr std::size_t kStateBytes = 32;     // 43 base64url chars
constexpr std::size_t kVerifierBytes = 64;  // 86 chars: inside RFC 7636's 43–128

bool valid_name(const std::string& n) {
  if (n.empty() || n.size() > 64) return false;
  auto lower_digit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!lower_digit(n[0])) return false;
  for (char c : n) {
    if (!lower_digit(c) && c != '_' && c != '-') return false;
  }
  return true;
}

std::string get_or(const std::map<std::string, std::string>& m, const std::string& k) {
  auto it = m.find(k);
  return it == m.end() ? std::string() : it->second;
}

// The access token this thread last put on a request of each connection (keyed by its Conn).
// http::Client calls apply() and then on_unauthorized() for one call on one thread, and a 401 must
// be judged against the token that was actually sent, not whatever is cached by the time it comes
// back (another thread may have refreshed in between).
std::map<const void*, std::string>& sent_tokens() {
  thread_local std::map<const void*, std::string> sent;
  return sent;
}

std::string take_sent_token(const void* conn) {
  auto& sent = sent_tokens();
  auto it = sent.find(conn);
  if (it == sent.end()) return "";
  std::string token = std::move(it->second);
  sent.erase(it);
  return token;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string this_host() {
  char host[256] = {0};
  ::gethostname(host, sizeof(host) - 1);
  return host;
}

// True when a lease owner named like the default owner ("host:pid:random") is a process of this
// host that no longer exists. Unknown formats and other hosts: false (their lease expiry decides).
bool holder_is_dead(const std::string& owner) {
  const auto first = owner.find(':');
  if (first == std::string::npos) return false;
  const auto second = owner.find(':', first + 1);
  if (second == std::string::npos || owner.substr(0, first) != this_host()) return false;
  const std::string pid_text = owner.substr(first + 1, second - first - 1);
  if (pid_text.empty() || pid_text.size() > 9 ||
      pid_text.find_first_not_of("0123456789") != std::string::npos)
    return false;
  const pid_t pid = static_cast<pid_t>(std::stol(pid_text));
  if (pid <= 0) return false;
  return ::kill(pid, 0) != 0 && errno == ESRCH;
}

}  // namespace

const char* connection_state_name(vault::ConnectionState s) {
  switch (s) {
    case vault::ConnectionState::kPending:
      return "pending";
    case vault::ConnectionState::kActive:
      return "active";
    case vault::ConnectionState::kNeedsReauth:
      return "needs_reauth";
    case vault::ConnectionState::kRevoked:
      return "revoked";
  }
  return "pending";
}

std::string needs_reauth_message(const std::string& name) {
  return "connection '" + name + "' needs re-authorization: run `weft connections authorize " + name + "`";
}

class ConnectionHook final : public http::AuthHook {
 public:
  ConnectionHook(ConnectionManager& m, ConnectionManager::Conn& c) : m_(m), c_(c) {}
  Status apply(http::Request& req) override { return m_.apply(c_, req); }
  Result<bool> on_unauthorized(const http::Response&) override { return m_.on_unauthorized(c_); }

 private:
  ConnectionManager& m_;
  ConnectionManager::Conn& c_;
};

struct ConnectionManager::Conn {
  explicit Conn(std::string n) : name(std::move(n)) {}
  const std::string name;
  std::mutex m;
  std::condition_variable cv;
  // Everything below is guarded by m.
  bool loaded = false;
  bool removed = false;
  bool refreshing = false;
  std::uint64_t epoch = 0;  // completed refreshes
  Status last_refresh;
  AuthSpec spec;
  vault::ConnectionState state = vault::ConnectionState::kPending;
  std::chrono::steady_clock::time_point checked_at{};
  std::string access_token;
  std::string header_name;
  std::string header_value;
  std::optional<std::int64_t> expires_at;
  std::int64_t obtained_at = 0;
  bool warned_refresh_expiry = false;
  std::unique_ptr<ConnectionHook> hook;
};

// What a refresh read from (or wrote to) the vault, published into Conn under its lock.
struct Loaded {
  vault::ConnectionRecord rec;
  std::map<std::string, std::string> secrets;
};

ConnectionManager::ConnectionManager(vault::Vault& vault, ManifestLookup manifests, Transport transport,
                                     ManagerOptions options)
    : vault_(vault),
      manifests_(std::move(manifests)),
      transport_(std::move(transport)),
      options_(std::move(options)) {
  if (options_.owner.empty()) {
    options_.owner = this_host() + ":" + std::to_string(::getpid()) + ":" + random_token(6);
  }
}

ConnectionManager::~ConnectionManager() = default;

std::int64_t ConnectionManager::now() const {
  if (options_.now) return options_.now();
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t ConnectionManager::token_requests() const { return token_requests_.load(); }

ConnectionManager::Conn& ConnectionManager::conn(const std::string& name) {
  std::lock_guard<std::mutex> g(mu_);
  auto& slot = conns_[name];
  if (!slot) {
    slot = std::make_unique<Conn>(name);
    slot->hook = std::make_unique<ConnectionHook>(*this, *slot);
  }
  return *slot;
}

Result<AuthSpec> ConnectionManager::spec_for(const vault::ConnectionRecord& rec) {
  auto manifest = manifests_(rec.connector);
  if (!manifest) return manifest.status().with_context("connection '" + rec.name + "'");
  auto spec = resolve_spec(json::get(*manifest, "auth"), rec.settings);
  if (!spec) return spec.status().with_context("connection '" + rec.name + "'");
  return spec;
}

void ConnectionManager::publish(Conn& c, const vault::ConnectionRecord& rec,
                                const std::map<std::string, std::string>& secrets) {
  c.state = rec.state;
  c.checked_at = std::chrono::steady_clock::now();
  if (c.spec.kind == AuthKind::kApiToken) {
    const std::string token = get_or(secrets, vault::kApiToken);
    const std::string value = c.spec.base64 ? base64(token) : token;
    c.header_name = c.spec.header;
    c.header_value = c.spec.scheme.empty() ? value : c.spec.scheme + " " + value;
    c.access_token = token;
    c.expires_at.reset();
    return;
  }
  const std::string token = get_or(secrets, vault::kAccessToken);
  if (token != c.access_token) c.obtained_at = now();
  c.access_token = token;
  c.expires_at = rec.access_expires_at;
  c.header_name = "Authorization";
  // The scheme is Bearer whatever token_type said (Livepush says "access_token"), unless overridden.
  c.header_value =
      (c.spec.token_type_override.empty() ? std::string("Bearer") : c.spec.token_type_override) + " " + token;
  if (rec.refresh_expires_at && !c.warned_refresh_expiry &&
      *rec.refresh_expires_at - now() < options_.refresh_warning.count()) {
    c.warned_refresh_expiry = true;
    log::warn("auth", "refresh token expires soon: re-authorize before it does",
              {{"connection", c.name},
               {"refresh_expires_at", std::to_string(*rec.refresh_expires_at)},
               {"command", "weft connections authorize " + c.name}});
  }
}

Status ConnectionManager::load(Conn& c, std::unique_lock<std::mutex>&) {
  auto rec = vault_.get(c.name);
  if (!rec) return rec.status();
  auto spec = spec_for(*rec);
  if (!spec) return spec.status();
  auto secrets = vault_.secrets(c.name);
  if (!secrets) return secrets.status();
  c.spec = std::move(*spec);
  publish(c, *rec, *secrets);
  c.loaded = true;
  return Status::Ok();
}

namespace {
// The effective skew never exceeds half the token's lifetime, so a provider that issues short-lived
// tokens does not make every call refresh.
bool fresh(const ConnectionManager::Conn&, std::optional<std::int64_t> expires_at, std::int64_t obtained_at,
           std::int64_t skew, std::int64_t now) {
  if (!expires_at) return true;
  std::int64_t lifetime = *expires_at - obtained_at;
  std::int64_t eff = std::min(skew, std::max<std::int64_t>(lifetime / 2, 0));
  return now < *expires_at - eff;
}
}  // namespace

// Fails fast when the connection cannot be used; re-reads the vault now and then so a connection
// re-authorized by another process comes back without a restart.
static Status usable_state(const std::string& name, vault::ConnectionState s, bool removed) {
  if (removed) return {Code::kNotFound, "connection '" + name + "' was removed"};
  switch (s) {
    case vault::ConnectionState::kActive:
      return Status::Ok();
    case vault::ConnectionState::kPending:
      return {
          Code::kFailedPrecondition,
          "connection '" + name + "' is not authorized yet: run `weft connections authorize " + name + "`"};
    case vault::ConnectionState::kNeedsReauth:
    case vault::ConnectionState::kRevoked:
      break;
  }
  return {Code::kFailedPrecondition, needs_reauth_message(name)};
}

Status ConnectionManager::apply(Conn& c, http::Request& req) {
  std::unique_lock<std::mutex> lk(c.m);
  if (!c.loaded && !c.removed) WEFT_RETURN_IF_ERROR(load(c, lk));
  if (c.state != vault::ConnectionState::kActive && !c.removed &&
      std::chrono::steady_clock::now() - c.checked_at >= kRecheckInterval && !c.refreshing) {
    WEFT_RETURN_IF_ERROR(load(c, lk));
  }
  WEFT_RETURN_IF_ERROR(usable_state(c.name, c.state, c.removed));
  if (c.spec.kind == AuthKind::kOAuth2 &&
      !fresh(c, c.expires_at, c.obtained_at, options_.refresh_skew.count(), now())) {
    WEFT_RETURN_IF_ERROR(ensure_fresh(c, lk, false, ""));
  }
  req.headers.emplace_back(c.header_name, c.header_value);
  sent_tokens()[&c] = c.access_token;
  return Status::Ok();
}

// A 401 on token T: if the vault (re-read now) holds another token, another process or thread has
// already replaced T, so adopt it; otherwise T is dead server-side (rotated away, revoked, expired
// early) and only a refresh helps, single-flight with every other caller that saw T. Either way the
// caller resends once (http::Client never asks twice for one call), so this never loops.
Result<bool> ConnectionManager::on_unauthorized(Conn& c) {
  std::string sent = take_sent_token(&c);
  std::unique_lock<std::mutex> lk(c.m);
  if (!c.loaded) WEFT_RETURN_IF_ERROR(load(c, lk));
  if (c.spec.kind != AuthKind::kOAuth2) return false;  // a pasted token cannot be renewed here
  WEFT_RETURN_IF_ERROR(usable_state(c.name, c.state, c.removed));
  if (sent.empty()) sent = c.access_token;  // apply() ran on another thread: assume the cached one
  // While a refresh is in flight, ensure_fresh below waits for it instead of reading a vault that
  // is about to change.
  if (!c.refreshing) {
    auto rec = vault_.get(c.name);
    if (!rec) return rec.status();
    auto secrets = vault_.secrets(c.name);
    if (!secrets) return secrets.status();
    publish(c, *rec, *secrets);
    WEFT_RETURN_IF_ERROR(usable_state(c.name, c.state, c.removed));
  }
  if (!c.access_token.empty() && c.access_token != sent) return true;
  WEFT_RETURN_IF_ERROR(ensure_fresh(c, lk, false, sent));
  return true;
}

Status ConnectionManager::ensure_fresh(Conn& c, std::unique_lock<std::mutex>& lk, bool force,
                                       const std::string& stale) {
  const std::uint64_t start = c.epoch;
  for (;;) {
    if (c.epoch != start && !c.last_refresh.ok()) return c.last_refresh;  // joined a failed refresh
    WEFT_RETURN_IF_ERROR(usable_state(c.name, c.state, c.removed));
    bool satisfied = force ? c.epoch != start
                     : !stale.empty()
                         ? (!c.access_token.empty() && c.access_token != stale)
                         : fresh(c, c.expires_at, c.obtained_at, options_.refresh_skew.count(), now());
    if (satisfied) return Status::Ok();
    if (!c.refreshing) break;
    c.cv.wait(lk);
  }
  c.refreshing = true;
  const std::string seen = stale.empty() ? c.access_token : stale;
  lk.unlock();
  Status s = do_refresh(c, force, seen);
  lk.lock();
  c.refreshing = false;
  ++c.epoch;
  c.last_refresh = s;
  c.cv.notify_all();
  if (!s.ok()) return s;
  return usable_state(c.name, c.state, c.removed);
}

Status ConnectionManager::do_refresh(Conn& c, bool force, const std::string& stale) {
  AuthSpec spec;
  {
    std::lock_guard<std::mutex> g(c.m);
    spec = c.spec;
  }
  auto publish_locked = [&](const Loaded& l) {
    std::lock_guard<std::mutex> g(c.m);
    publish(c, l.rec, l.secrets);
  };
  auto read = [&]() -> Result<Loaded> {
    auto rec = vault_.get(c.name);
    if (!rec) return rec.status();
    auto sec = vault_.secrets(c.name);
    if (!sec) return sec.status();
    return Loaded{std::move(*rec), std::move(*sec)};
  };

  // Marks the connection needs_reauth (and drops any refresh intent: the user's re-authorization
  // is the way out, and it replaces the pair).
  Loaded cur;
  auto mark_needs_reauth = [&](const std::string& why, bool say_why = false) -> Status {
    for (int attempt = 0; attempt < 3; ++attempt) {
      auto rec = vault_.get(c.name);
      if (!rec) break;
      rec->state = vault::ConnectionState::kNeedsReauth;
      rec->last_error = why;
      rec->refresh_intent.reset();
      Status u = vault_.update(*rec, {}, rec->generation);
      if (u.code() == Code::kFailedPrecondition) continue;
      if (u.ok()) cur.rec = *rec;
      break;
    }
    cur.rec.state = vault::ConnectionState::kNeedsReauth;
    cur.rec.last_error = why;
    publish_locked(cur);
    log::warn("auth", "connection needs re-authorization", {{"connection", c.name}, {"reason", why}});
    if (options_.on_needs_reauth) options_.on_needs_reauth(c.name, why);
    if (say_why)
      return {Code::kFailedPrecondition, "connection '" + c.name + "' needs re-authorization: " + why};
    return {Code::kFailedPrecondition, needs_reauth_message(c.name)};
  };
  const std::string interrupted =
      "a token refresh was interrupted (process killed?) and the provider rotates refresh tokens, so the "
      "stored one may already be void; run `weft connections authorize " +
      c.name + "`";

  // Cross-process single flight: hold the lease, or wait for its holder's result.
  const auto deadline = std::chrono::steady_clock::now() + options_.lease_ttl;
  bool leased = false;
  for (;;) {
    auto got = vault_.try_lease(c.name, options_.owner, options_.lease_ttl.count());
    if (!got) return got.status().with_context("refresh lease of '" + c.name + "'");
    leased = *got;
    auto l = read();
    if (!l) {
      if (leased) (void)vault_.release_lease(c.name, options_.owner);
      return l.status();
    }
    cur = std::move(*l);
    const std::string stored = get_or(cur.secrets, vault::kAccessToken);
    const bool other_refreshed =
        !stored.empty() && stored != stale &&
        (force || fresh(c, cur.rec.access_expires_at, now(), options_.refresh_skew.count(), now()));
    if (cur.rec.state != vault::ConnectionState::kActive || other_refreshed) {
      if (leased) (void)vault_.release_lease(c.name, options_.owner);
      publish_locked(cur);
      return Status::Ok();
    }
    if (leased) break;
    // The lease holder's process is gone (killed mid-refresh) and left its intent: its lease has
    // not expired yet, but nobody will ever finish that refresh.
    if (cur.rec.refresh_intent && holder_is_dead(cur.rec.refresh_intent->owner)) {
      (void)vault_.release_lease(c.name, cur.rec.refresh_intent->owner);  // a dead process's lease
      return mark_needs_reauth(interrupted, true);
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return {Code::kUnavailable,
              "another process is refreshing connection '" + c.name + "' and did not finish in time"};
    }
    std::this_thread::sleep_for(options_.lease_poll);
  }
  struct Release {
    vault::Vault& v;
    const std::string& name;
    const std::string& owner;
    ~Release() { (void)v.release_lease(name, owner); }
  } release{vault_, c.name, options_.owner};

  // We hold the lease, so whoever wrote an intent lost theirs without finishing: never resend the
  // refresh token it was sending (RELIABILITY row 4).
  if (cur.rec.refresh_intent) return mark_needs_reauth(interrupted, true);

  // Always the refresh token in the vault: a rotated-out one is never sent again.
  const std::string refresh_token = get_or(cur.secrets, vault::kRefreshToken);
  if (refresh_token.empty()) return mark_needs_reauth("no refresh token is stored");

  // With a rotating provider the request consumes the stored refresh token: say so durably before
  // it leaves, so a process killed before the new pair is committed leaves a trace, not a replay.
  bool intent = false;
  auto clear_intent = [&]() {
    for (int attempt = 0; attempt < 3; ++attempt) {
      auto rec = vault_.get(c.name);
      if (!rec || !rec->refresh_intent || rec->refresh_intent->owner != options_.owner) return;
      rec->refresh_intent.reset();
      if (vault_.update(*rec, {}, rec->generation).code() != Code::kFailedPrecondition) return;
    }
  };
  if (spec.rotates_refresh_token) {
    vault::ConnectionRecord marked = cur.rec;
    marked.refresh_intent = vault::ConnectionRecord::RefreshIntent{options_.owner, now_ms()};
    Status s = vault_.update(marked, {}, cur.rec.generation);
    if (s.code() == Code::kFailedPrecondition) {
      return {Code::kUnavailable, "connection '" + c.name + "' changed while a refresh started; try again"};
    }
    WEFT_RETURN_IF_ERROR(s.with_context("refreshing connection '" + c.name + "'"));
    intent = true;
  }

  ClientCredentials client{get_or(cur.secrets, vault::kClientId), get_or(cur.secrets, vault::kClientSecret)};
  http::Request req =
      token_request(spec, client, {{"grant_type", "refresh_token"}, {"refresh_token", refresh_token}});
  ++token_requests_;
  auto resp = transport_(std::move(req));
  if (!resp) {
    if (intent) {
      if (!http::never_processed(resp.status())) {
        return mark_needs_reauth(
            "a token refresh got no answer (" + resp.status().message() +
                ") and the provider rotates refresh tokens, so the stored one may already be "
                "void; run `weft connections authorize " +
                c.name + "`",
            true);
      }
      clear_intent();
    }
    return resp.status().with_context("refreshing connection '" + c.name + "'");
  }
  auto tokens = parse_token_response(resp->status, resp->body, now());
  if (!tokens) {
    if (tokens.status().code() == Code::kUnauthenticated) return mark_needs_reauth(tokens.status().message());
    // An answer without a usable pair: refused (5xx, 429 ...) or unreadable (HTML from a wrong
    // token_url, a truncated body). RELIABILITY row 6 keeps the stored pair and the connection as
    // they were; a provider that did rotate answers the next refresh with invalid_grant, which
    // then moves the connection to needs_reauth.
    if (intent) clear_intent();
    return tokens.status().with_context("refreshing connection '" + c.name + "'");
  }
  Status stored = store_tokens(c.name, *tokens, spec);
  if (!stored.ok()) {
    // With a rotating provider the pair just received is the only valid one; it could not be kept.
    if (spec.rotates_refresh_token)
      return mark_needs_reauth("could not store the rotated token pair: " + stored.message());
    return stored.with_context("refreshing connection '" + c.name + "'");
  }
  auto after = read();
  if (!after) return after.status();
  publish_locked(*after);
  return Status::Ok();
}

Status ConnectionManager::store_tokens(const std::string& name, const TokenSet& t, const AuthSpec& spec) {
  // Masked from every output from now on, before anything can print or log them.
  redact::add_secret(t.access_token);
  if (t.refresh_token) redact::add_secret(*t.refresh_token);
  Status last;
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto rec = vault_.get(name);
    if (!rec) return rec.status();
    rec->state = vault::ConnectionState::kActive;
    rec->last_error.clear();
    rec->access_expires_at = t.expires_at;
    if (t.refresh_expires_at) {
      rec->refresh_expires_at = t.refresh_expires_at;
    } else if (t.refresh_token && spec.refresh_token_lifetime_seconds) {
      rec->refresh_expires_at = now() + *spec.refresh_token_lifetime_seconds;
    } else if (t.refresh_token) {
      rec->refresh_expires_at.reset();
    }
    if (t.scopes) rec->scopes = *t.scopes;
    rec->refresh_intent.reset();  // in the same transaction as the pair it was waiting for
    vault::SecretChanges changes{{vault::kAccessToken, t.access_token}};
    if (t.refresh_token) changes[vault::kRefreshToken] = *t.refresh_token;
    last = vault_.update(*rec, changes, rec->generation);
    if (last.code() != Code::kFailedPrecondition) return last;
  }
  return last;
}

Status ConnectionManager::add(const AddRequest& r) {
  if (!valid_name(r.name)) {
    return {Code::kInvalidArgument,
            "connection name '" + r.name +
                "' is invalid: use 1-64 of a-z 0-9 _ - starting with a letter or digit"};
  }
  auto manifest = manifests_(r.connector);
  if (!manifest) return manifest.status();
  auto spec = resolve_spec(json::get(*manifest, "auth"), r.settings);
  if (!spec) return spec.status();
  vault::ConnectionRecord rec;
  rec.name = r.name;
  rec.connector = r.connector;
  rec.created_at = rec.updated_at = now();
  std::map<std::string, std::string> secrets;
  // Settings the manifest marks secret are sealed like credentials ("setting:<name>").
  const Json declared = json::get(*manifest, "settings");
  for (const auto& [k, v] : r.settings) {
    const Json flag = json::get(json::get(declared, k), "secret");
    bool secret = false;
    try {
      secret = flag.isBoolean() && flag.extract<bool>();
    } catch (const Poco::Exception&) {
    }
    if (secret)
      secrets["setting:" + k] = v;
    else
      rec.settings[k] = v;
  }
  switch (spec->kind) {
    case AuthKind::kOAuth2:
      if (r.client_id.empty())
        return {Code::kInvalidArgument,
                "connector '" + r.connector + "' uses oauth2: give --client-id (and --client-secret)"};
      if (r.client_secret.empty() && !spec->pkce)
        return {Code::kInvalidArgument,
                "connector '" + r.connector + "' uses oauth2 without PKCE: give --client-secret"};
      if (!r.token.empty())
        return {Code::kInvalidArgument,
                "connector '" + r.connector +
                    "' uses oauth2: --token is not used (run `weft connections authorize " + r.name +
                    "` after adding)"};
      secrets[vault::kClientId] = r.client_id;
      if (!r.client_secret.empty()) secrets[vault::kClientSecret] = r.client_secret;
      rec.state = vault::ConnectionState::kPending;
      rec.scopes = spec->scopes;
      break;
    case AuthKind::kApiToken:
      if (r.token.empty())
        return {Code::kInvalidArgument, "connector '" + r.connector + "' uses an API token: give --token"};
      if (!r.client_id.empty() || !r.client_secret.empty())
        return {Code::kInvalidArgument, "connector '" + r.connector +
                                            "' uses an API token: --client-id/--client-secret are not used"};
      secrets[vault::kApiToken] = r.token;
      rec.state = vault::ConnectionState::kActive;
      break;
    case AuthKind::kNone:
      return {Code::kInvalidArgument, "connector '" + r.connector +
                                          "' needs no connection (auth: none); for a generic provider add "
                                          "--set auth=oauth2 (or api_token) with its URLs"};
  }
  for (const auto& [k, v] : secrets) {
    if (k != vault::kClientId) redact::add_secret(v);
  }
  WEFT_RETURN_IF_ERROR(vault_.create(rec, secrets));
  Conn& c = conn(r.name);
  std::lock_guard<std::mutex> g(c.m);
  c.removed = false;
  c.loaded = false;
  c.warned_refresh_expiry = false;
  return Status::Ok();
}

Result<std::vector<ConnectionSummary>> ConnectionManager::list() {
  auto recs = vault_.list();
  if (!recs) return recs.status();
  std::vector<ConnectionSummary> out;
  for (const auto& rec : *recs) {
    ConnectionSummary s{rec.name,
                        rec.connector,
                        "unknown",
                        connection_state_name(rec.state),
                        rec.scopes,
                        rec.access_expires_at,
                        rec.refresh_expires_at,
                        rec.last_error};
    if (auto spec = spec_for(rec)) s.auth_kind = kind_name(spec->kind);
    out.push_back(std::move(s));
  }
  return out;
}

Result<AuthorizeStart> ConnectionManager::authorize(const std::string& name,
                                                    const std::string& redirect_uri) {
  auto rec = vault_.get(name);
  if (!rec) return rec.status();
  auto spec = spec_for(*rec);
  if (!spec) return spec.status();
  if (spec->kind != AuthKind::kOAuth2) {
    return Status(Code::kInvalidArgument, "connection '" + name + "' uses " + kind_name(spec->kind) +
                                              ", not oauth2: nothing to authorize");
  }
  std::string redirect = redirect_uri.empty() ? get_or(rec->settings, "redirect_uri") : redirect_uri;
  if (redirect.empty()) {
    return Status(Code::kInvalidArgument,
                  "no redirect URI for '" + name + "': use --listen HOST:PORT or --set redirect_uri=...");
  }
  auto secrets = vault_.secrets(name);
  if (!secrets) return secrets.status();
  vault::AuthState st;
  st.state = random_token(kStateBytes);
  st.connection = name;
  st.code_verifier = spec->pkce ? random_token(kVerifierBytes) : "";
  st.redirect_uri = redirect;
  st.expires_at = now() + options_.state_ttl.count();
  if (st.state.empty() || (spec->pkce && st.code_verifier.empty()))
    return Status(Code::kInternal, "the system random source failed");
  WEFT_RETURN_IF_ERROR(vault_.put_auth_state(st));
  std::string url = authorize_url(*spec, get_or(*secrets, vault::kClientId), redirect, st.state,
                                  spec->pkce ? pkce_challenge(st.code_verifier) : "");
  return AuthorizeStart{std::move(url), st.state, st.expires_at};
}

Result<std::string> ConnectionManager::complete(const std::string& callback_query) {
  auto p = parse_callback(callback_query);
  if (!p) return p.status();
  // State first: nothing else in the callback is trusted before it is checked.
  if (!p->state || p->state->empty()) {
    return Status(
        Code::kPermissionDenied,
        "the redirect carries no state: the authorization was denied at the provider or the link is not from "
        "weft; nothing was stored (run `weft connections authorize <name>` again)");
  }
  auto st = vault_.take_auth_state(*p->state);
  if (!st) {
    return Status(Code::kPermissionDenied,
                  "the redirect's state is unknown, already used or expired; nothing was stored "
                  "(run `weft connections authorize <name>` again)");
  }
  const std::string name = st->connection;
  if (st->expires_at <= now()) {
    return Status(Code::kPermissionDenied,
                  "the authorization of '" + name +
                      "' took longer than 10 minutes and expired; run `weft connections authorize " + name +
                      "` again");
  }
  if (p->error) {
    return Status(Code::kPermissionDenied,
                  "the authorization of '" + name + "' was denied at the provider (" +
                      p->error->substr(0, 64) +
                      (p->error_description ? ": " + p->error_description->substr(0, 200) : "") +
                      "); nothing was stored");
  }
  if (!p->code || p->code->empty()) {
    return Status(Code::kInvalidArgument,
                  "the redirect for '" + name +
                      "' carries no code (a denied authorization returns without one); nothing was stored");
  }
  auto rec = vault_.get(name);
  if (!rec) return rec.status();
  auto spec = spec_for(*rec);
  if (!spec) return spec.status();
  auto secrets = vault_.secrets(name);
  if (!secrets) return secrets.status();
  ClientCredentials client{get_or(*secrets, vault::kClientId), get_or(*secrets, vault::kClientSecret)};
  std::vector<std::pair<std::string, std::string>> params = {
      {"grant_type", "authorization_code"}, {"code", *p->code}, {"redirect_uri", st->redirect_uri}};
  if (!st->code_verifier.empty()) params.emplace_back("code_verifier", st->code_verifier);
  ++token_requests_;
  auto resp = transport_(token_request(*spec, client, params));
  if (!resp) return resp.status().with_context("code exchange for '" + name + "'");
  auto tokens = parse_token_response(resp->status, resp->body, now());
  if (!tokens) return tokens.status().with_context("code exchange for '" + name + "'");
  WEFT_RETURN_IF_ERROR(store_tokens(name, *tokens, *spec));
  Conn& c = conn(name);
  std::lock_guard<std::mutex> g(c.m);
  c.loaded = false;  // the next call reads the new tokens
  c.removed = false;
  c.warned_refresh_expiry = false;
  return name;
}

Status ConnectionManager::refresh(const std::string& name) {
  Conn& c = conn(name);
  std::unique_lock<std::mutex> lk(c.m);
  WEFT_RETURN_IF_ERROR(load(c, lk));
  if (c.spec.kind != AuthKind::kOAuth2) {
    return {Code::kInvalidArgument,
            "connection '" + name +
                "' does not use oauth2: renew an API token by removing and adding the connection"};
  }
  return ensure_fresh(c, lk, true, c.access_token);
}

Status ConnectionManager::remove(const std::string& name) {
  auto rec = vault_.get(name);
  if (!rec) return rec.status();
  auto secrets = vault_.secrets(name);
  auto spec = spec_for(*rec);
  if (secrets && spec && spec->kind == AuthKind::kOAuth2 && !spec->revoke_url.empty()) {
    // Revoking the refresh token revokes the grant (RFC 7009 §2.1); best effort: the secrets are
    // purged whatever the provider answers.
    std::string token = get_or(*secrets, vault::kRefreshToken);
    std::string hint = "refresh_token";
    if (token.empty()) {
      token = get_or(*secrets, vault::kAccessToken);
      hint = "access_token";
    }
    if (!token.empty()) {
      ClientCredentials client{get_or(*secrets, vault::kClientId), get_or(*secrets, vault::kClientSecret)};
      auto resp = transport_(revoke_request(*spec, client, token, hint));
      if (!resp || resp->status != 200) {
        log::warn("auth", "token revocation failed; the connection is removed anyway",
                  {{"connection", name},
                   {"reason", resp ? "HTTP " + std::to_string(resp->status) : resp.status().message()}});
      }
    }
  }
  WEFT_RETURN_IF_ERROR(vault_.remove(name));
  Conn& c = conn(name);
  std::lock_guard<std::mutex> g(c.m);
  c.removed = true;
  c.loaded = false;
  c.access_token.clear();
  c.header_value.clear();
  c.cv.notify_all();
  return Status::Ok();
}

Result<http::AuthHook*> ConnectionManager::hook(const std::string& name) {
  auto rec = vault_.get(name);
  if (!rec) return rec.status();
  Conn& c = conn(name);
  {
    std::lock_guard<std::mutex> g(c.m);
    c.removed = false;
  }
  return static_cast<http::AuthHook*>(c.hook.get());
}

}  // namespace weft::auth
