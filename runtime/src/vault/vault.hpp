// vault.hpp — the one encrypted store of every connection: its record (connector, state, settings,
// token metadata) and its sealed secrets (client secret, tokens, API token, secret settings).
//
//   auto v = vault::open_sqlite(home);   // key from WEFT_MASTER_KEY or <home>/master.key
//   (*v)->create(record, {{"client_secret", "s3cr3t"}});
//   auto secrets = (*v)->secrets("my-rs");   // decrypted; registered with redact::add_secret
//
// Secrets are sealed with AES-256-GCM; each record carries its key id; the associated data binds a
// ciphertext to (connection name, field) so it cannot be moved to another row or field. Storage sits
// behind this interface so PostgreSQL can be added beside SQLite.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.hpp"

namespace weft::vault {

enum class ConnectionState { kPending, kActive, kNeedsReauth, kRevoked };
// "pending", "active", "needs_reauth", "revoked"
const char* state_name(ConnectionState s);
std::optional<ConnectionState> parse_state(const std::string& s);

// Well-known secret field names. Secret settings are stored as "setting:<name>".
inline constexpr const char* kClientId = "client_id";
inline constexpr const char* kClientSecret = "client_secret";
inline constexpr const char* kAccessToken = "access_token";
inline constexpr const char* kRefreshToken = "refresh_token";
inline constexpr const char* kApiToken = "api_token";

struct ConnectionRecord {
  std::string name;       // [a-z0-9][a-z0-9_-]{0,63}, unique
  std::string connector;  // connector id
  ConnectionState state = ConnectionState::kPending;
  std::map<std::string, std::string> settings;  // non-secret settings (api_base, token_url ...)
  std::vector<std::string> scopes;              // granted scopes
  std::optional<std::int64_t> access_expires_at;   // epoch seconds
  std::optional<std::int64_t> refresh_expires_at;  // epoch seconds
  std::string last_error;                          // why it needs re-auth, etc.; never a secret
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
  // Increases with every update(); update() with an expected generation fails with
  // kFailedPrecondition when someone else wrote first (optimistic concurrency across processes).
  std::int64_t generation = 0;
  // A refresh against a provider that rotates refresh tokens is in flight (RELIABILITY row 4). The
  // refresher writes it with update() (committed and synced) before the token request leaves, and
  // clears it in the same update() that stores the new pair, or once the request provably did not
  // reach the server. Whoever finds one whose writer is gone (its lease expired, its process dead)
  // must not send the stored refresh token again: the provider may already have rotated it.
  struct RefreshIntent {
    std::string owner;          // the lease owner that wrote it (ManagerOptions::owner)
    std::int64_t since_ms = 0;  // epoch milliseconds
  };
  std::optional<RefreshIntent> refresh_intent;  // stored and returned like every other field
};

// Secret changes: a value sets the field, nullopt deletes it.
using SecretChanges = std::map<std::string, std::optional<std::string>>;

// A pending authorization (the OAuth `state`): single-use, bound to one connection, expires.
struct AuthState {
  std::string state;
  std::string connection;
  std::string code_verifier;  // PKCE; empty when not used (sealed at rest)
  std::string redirect_uri;
  std::int64_t expires_at = 0;  // epoch seconds
};

class Vault {
 public:
  virtual ~Vault() = default;

  // Adds a connection. kAlreadyExists when the name is taken; kInvalidArgument for a bad name.
  virtual Status create(const ConnectionRecord& record, const std::map<std::string, std::string>& secrets) = 0;
  // kNotFound when absent.
  virtual Result<ConnectionRecord> get(const std::string& name) = 0;
  virtual Result<std::vector<ConnectionRecord>> list() = 0;
  // The connection's decrypted secrets. kDataLoss ("cannot decrypt: wrong master key" or a
  // tampered record) when a secret does not open. Each value is registered with redact.
  virtual Result<std::map<std::string, std::string>> secrets(const std::string& name) = 0;
  // Writes record fields and secret changes in one durable transaction (committed and synced
  // before it returns). expected_generation: see ConnectionRecord::generation.
  virtual Status update(const ConnectionRecord& record, const SecretChanges& changes,
                        std::optional<std::int64_t> expected_generation = std::nullopt) = 0;
  // Deletes the connection and its secrets. kNotFound when absent.
  virtual Status remove(const std::string& name) = 0;

  // Cross-process lease on a connection (for single-flight refresh across processes): true when
  // owner now holds it (or held it already), false when another owner holds an unexpired lease.
  virtual Result<bool> try_lease(const std::string& name, const std::string& owner, std::int64_t ttl_ms) = 0;
  virtual Status release_lease(const std::string& name, const std::string& owner) = 0;

  virtual Status put_auth_state(const AuthState& s) = 0;
  // Returns and deletes the state (single use). kNotFound when unknown, already used, or expired.
  virtual Result<AuthState> take_auth_state(const std::string& state) = 0;

  // Re-encrypts every secret under a new master key in one transaction, then replaces the key
  // (key file or tells the caller the new key for WEFT_MASTER_KEY). Returns the new key id.
  virtual Result<std::string> rotate_key() = 0;

  // --- Added after the first interface (additive; the defaults keep other implementations valid).

  // What rotate_key() did, for the CLI. new_master_key is non-empty only when the key comes from
  // WEFT_MASTER_KEY: the vault cannot change the environment, so the user must set the new key.
  struct KeyRotation {
    std::string new_key_id;
    std::string old_key_id;
    std::string new_master_key;  // base64; a secret: show it once to the user, never log it
    // True when records stay sealed with the old key until a process starts with the new one
    // (WEFT_MASTER_KEY case); false when the rotation is complete (key file case).
    bool pending = false;
  };
  virtual Result<KeyRotation> rotate_key_detailed() {
    auto id = rotate_key();
    if (!id) return id.status();
    KeyRotation r;
    r.new_key_id = *id;
    return r;
  }

  // Whether an authorization state is still pending (issued, not taken, not expired), without
  // consuming it: how `weft connections authorize` sees another process (the daemon) take it.
  virtual Result<bool> has_auth_state(const std::string& /*state*/) {
    return Status(Code::kFailedPrecondition, "this vault cannot look up authorization states");
  }
};

// Opens (creating when missing) <home>/vault.db. The master key comes from WEFT_MASTER_KEY (base64 of
// 32 bytes) or <home>/master.key (created on first use with mode 0600; refused when readable by
// group or others). Fails with one clear message (wrong key, bad permissions, unreadable file).
Result<std::unique_ptr<Vault>> open_sqlite(const std::string& home);

}  // namespace weft::vault
