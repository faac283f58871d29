// sqlite_vault.hpp — the SQLite implementation of Vault, shared by its two source files:
// sqlite_vault.cpp (storage, records, leases, auth states) and sqlite_vault_keys.cpp (master
// keys: opening, checking, reloading after another process rotated, rotation).
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "vault/internal/crypto.hpp"
#include "vault/internal/sqlite_db.hpp"
#include "vault/vault.hpp"

namespace weft::vault::internal {

namespace in = ::weft::vault::internal;

inline constexpr int kKeyReloadAttempts = 3;
// Contexts for sealed values that are not connection secrets; none is a valid connection name.
inline constexpr std::string_view kKeyCheckContext = "\x01key-check";
inline constexpr std::string_view kKeyCheckText = "weft vault key check v1";
inline constexpr std::string_view kWrapContext = "\x01wrapped-key";
inline constexpr std::string_view kAuthContext = "\x01auth-state";

// Wall-clock time (shared across processes).
std::int64_t now_ms();
inline std::int64_t now_s() { return now_ms() / 1000; }

// Thread-safe: every method takes mu_ (one SQLite connection, used by one thread at a time).
class SqliteVault final : public Vault {
 public:
  explicit SqliteVault(std::string home)
      : home_(std::move(home)),
        key_path_(home_ + "/master.key"),
        next_path_(key_path_ + ".next"),
        lock_path_(key_path_ + ".lock") {}

  Status init();

  Status create(const ConnectionRecord& record, const std::map<std::string, std::string>& secrets) override;
  Result<ConnectionRecord> get(const std::string& name) override;
  Result<std::vector<ConnectionRecord>> list() override;
  Result<std::map<std::string, std::string>> secrets(const std::string& name) override;
  Status update(const ConnectionRecord& record, const SecretChanges& changes,
                std::optional<std::int64_t> expected_generation) override;
  Status remove(const std::string& name) override;
  Result<bool> try_lease(const std::string& name, const std::string& owner, std::int64_t ttl_ms) override;
  Status release_lease(const std::string& name, const std::string& owner) override;
  Status put_auth_state(const AuthState& s) override;
  Result<AuthState> take_auth_state(const std::string& state) override;
  Result<bool> has_auth_state(const std::string& state) override;
  Result<std::string> rotate_key() override;
  Result<KeyRotation> rotate_key_detailed() override;

 private:
  bool env_mode() const { return env_key_.has_value(); }
  Status open_db();
  Status init_keys_env();
  Status init_keys_file();
  // The key meta.current_key_id names, or "" for a new vault.
  Result<std::string> read_meta(const std::string& key);
  Status write_meta(const std::string& key, const std::string& value);
  // True when key's check record exists and opens with key.
  Result<bool> key_checks_out(const in::MasterKey& key);
  Status add_key_check(const in::MasterKey& key);
  // Reads the keys the process can reach now (env, or master.key.next then master.key) and adds
  // those whose check record opens to keys_. Then requires meta's current key to be among them.
  Status reload_keys();
  // Inside a write transaction: makes sure new seals use the key meta names.
  Status sync_current_key();
  // Inside a write transaction: re-seals every secret and auth verifier with `key`.
  Status reseal_all(const in::MasterKey& key);
  Result<std::string> seal_secret(const std::string& name, const std::string& field, const std::string& value);
  Status write_record(const ConnectionRecord& record, bool insert, std::int64_t generation, std::int64_t created_at);
  Status read_record(const std::string& name, ConnectionRecord& out, bool& found);
  Status wrong_key(const std::string& sealed_with, const std::string& have) const;
  Status promote_next_key(const std::string& current_id);
  // Commits a small write, so the state read afterwards is final (see the comment in the .cpp).
  Status settle_wal();

  std::mutex mu_;  // one connection, used by one thread at a time
  in::Db db_;
  std::string home_, key_path_, next_path_, lock_path_;
  std::optional<in::MasterKey> env_key_;
  in::Keyring keys_;
  std::string current_id_;
};

}  // namespace weft::vault::internal
