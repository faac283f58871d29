// sqlite_vault.cpp — the Vault on one SQLite file (WAL, synchronous=FULL) under the weft home:
// storage, connection records and secrets, leases, auth states. Master keys and rotation live in
// sqlite_vault_keys.cpp (its header comment says why rotation survives kill -9 at any point).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <regex>

#include "core/paths.hpp"
#include "core/redact.hpp"
#include "vault/internal/sqlite_vault.hpp"

namespace weft::vault {

const char* state_name(ConnectionState s) {
  switch (s) {
    case ConnectionState::kPending: return "pending";
    case ConnectionState::kActive: return "active";
    case ConnectionState::kNeedsReauth: return "needs_reauth";
    case ConnectionState::kRevoked: return "revoked";
  }
  return "pending";
}

std::optional<ConnectionState> parse_state(const std::string& s) {
  if (s == "pending") return ConnectionState::kPending;
  if (s == "active") return ConnectionState::kActive;
  if (s == "needs_reauth") return ConnectionState::kNeedsReauth;
  if (s == "revoked") return ConnectionState::kRevoked;
  return std::nullopt;
}

namespace internal {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {

constexpr std::int64_t kSchemaVersion = 1;
constexpr int kBusyTimeoutMs = 30000;
constexpr std::size_t kMaxFieldLength = 128;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS key_checks (key_id TEXT PRIMARY KEY, sealed BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS wrapped_keys (key_id TEXT PRIMARY KEY, wrapping_key_id TEXT NOT NULL,
                                         sealed BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS connections (
  name TEXT PRIMARY KEY, connector TEXT NOT NULL, state TEXT NOT NULL, scopes TEXT NOT NULL,
  access_expires_at INTEGER, refresh_expires_at INTEGER, last_error TEXT NOT NULL,
  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, generation INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS settings (connection TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
                                     PRIMARY KEY (connection, key));
CREATE TABLE IF NOT EXISTS secrets (connection TEXT NOT NULL, field TEXT NOT NULL, sealed BLOB NOT NULL,
                                    PRIMARY KEY (connection, field));
CREATE TABLE IF NOT EXISTS leases (name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS auth_states (state_hash TEXT PRIMARY KEY, connection TEXT NOT NULL,
                                        verifier BLOB NOT NULL, redirect_uri TEXT NOT NULL,
                                        expires_at INTEGER NOT NULL);
)sql";

Status check_name(const std::string& name) {
  static const std::regex kName("[a-z0-9][a-z0-9_-]{0,63}");
  if (std::regex_match(name, kName)) return Status::Ok();
  return {Code::kInvalidArgument, "invalid connection name '" + name +
                                      "': use 1-64 characters from a-z, 0-9, '_' and '-', starting with a letter "
                                      "or digit (no '/', '..' or paths)"};
}

Status check_field(const std::string& name, const std::string& field) {
  if (field.empty() || field.size() > kMaxFieldLength || field.find('\0') != std::string::npos) {
    return {Code::kInvalidArgument, "invalid secret field name for connection '" + name +
                                        "': it must be 1-128 bytes without NUL"};
  }
  return Status::Ok();
}

std::string join_scopes(const std::vector<std::string>& scopes) {
  std::string out;
  for (const auto& s : scopes) {
    if (!out.empty()) out.push_back(' ');
    out += s;
  }
  return out;
}

std::vector<std::string> split_scopes(const std::string& s) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < s.size()) {
    auto end = s.find(' ', pos);
    if (end == std::string::npos) end = s.size();
    if (end > pos) out.push_back(s.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

// A read transaction (deferred BEGIN) for a consistent snapshot across statements.
class ReadTxn {
 public:
  explicit ReadTxn(in::Db& db) : db_(db) { status_ = db_.exec("BEGIN"); }
  ~ReadTxn() {
    if (status_.ok()) (void)db_.exec("COMMIT");
  }
  ReadTxn(const ReadTxn&) = delete;
  ReadTxn& operator=(const ReadTxn&) = delete;
  Status status() const { return status_; }

 private:
  in::Db& db_;
  Status status_;
};

// Leases need no durability of their own: after a power loss their holders are gone too. Their
// commits skip the fsync (WAL + synchronous=NORMAL stays consistent; the next FULL commit syncs
// them), so taking and releasing a lease around a refresh costs no extra disk flush.
class RelaxedSync {
 public:
  explicit RelaxedSync(in::Db& db) : db_(db) { (void)db_.exec("PRAGMA synchronous=NORMAL"); }
  ~RelaxedSync() { (void)db_.exec("PRAGMA synchronous=FULL"); }
  RelaxedSync(const RelaxedSync&) = delete;
  RelaxedSync& operator=(const RelaxedSync&) = delete;

 private:
  in::Db& db_;
};


}  // namespace

Status SqliteVault::open_db() {
  std::string err;
  if (!paths::ensure_private_dir(home_, err)) return {Code::kUnavailable, "cannot create weft home " + home_ + ": " + err};
  const std::string db_path = home_ + "/vault.db";
  // Create the file 0600 before SQLite does (it would use 0644 & ~umask); -wal and -shm inherit it.
  // Only a file that did not exist is opened and closed here: close() on a file another SQLite
  // connection of this process has open would drop that connection's POSIX locks.
  struct stat st {};
  if (::stat(db_path.c_str(), &st) != 0) {
    const int fd = ::open(db_path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 && errno != EEXIST) return {Code::kUnavailable, "cannot create " + db_path + ": " + std::strerror(errno)};
    if (fd >= 0) ::close(fd);
  }
  WEFT_RETURN_IF_ERROR(db_.open(db_path, kBusyTimeoutMs));
  // WAL lets readers run beside the one writer; FULL syncs the WAL at each commit, so a token pair
  // is on disk before update() returns; secure_delete overwrites removed secrets in the file.
  WEFT_RETURN_IF_ERROR(db_.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA secure_delete=ON;"));
  in::WriteTxn txn(db_);
  WEFT_RETURN_IF_ERROR(txn.status());
  WEFT_RETURN_IF_ERROR(db_.exec(kSchema));
  in::Stmt q(db_, "SELECT max(version) FROM schema_version");
  std::int64_t version = 0;
  if (q.step() && !q.is_null(0)) version = q.int64(0);
  WEFT_RETURN_IF_ERROR(q.status());
  if (version > kSchemaVersion) {
    return {Code::kFailedPrecondition, db_path + " has schema version " + std::to_string(version) +
                                           ", newer than this weft understands (" + std::to_string(kSchemaVersion) +
                                           "); upgrade weft"};
  }
  if (version == 0) {
    WEFT_RETURN_IF_ERROR(in::Stmt(db_, "INSERT INTO schema_version (version) VALUES (?)").bind(1, kSchemaVersion).run());
  }
  // Added after schema version 1 (additive: an older weft ignores the columns).
  bool has_intent = false;
  {
    in::Stmt cols(db_, "SELECT 1 FROM pragma_table_info('connections') WHERE name = 'refresh_intent_owner'");
    has_intent = cols.step();
    WEFT_RETURN_IF_ERROR(cols.status());
  }
  if (!has_intent) {
    WEFT_RETURN_IF_ERROR(
        db_.exec("ALTER TABLE connections ADD COLUMN refresh_intent_owner TEXT;"
                 "ALTER TABLE connections ADD COLUMN refresh_intent_since_ms INTEGER;"));
  }
  return txn.commit();
}

Result<std::string> SqliteVault::read_meta(const std::string& key) {
  in::Stmt q(db_, "SELECT value FROM meta WHERE key = ?");
  q.bind(1, key);
  std::string v;
  if (q.step()) v = q.text(0);
  if (!q.status().ok()) return q.status();
  return v;
}

Status SqliteVault::write_meta(const std::string& key, const std::string& value) {
  if (value.empty()) return in::Stmt(db_, "DELETE FROM meta WHERE key = ?").bind(1, key).run();
  return in::Stmt(db_, "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)").bind(1, key).bind(2, value).run();
}

Result<std::string> SqliteVault::seal_secret(const std::string& name, const std::string& field,
                                             const std::string& value) {
  return in::seal(keys_.at(current_id_), name, field, value);
}

Status SqliteVault::write_record(const ConnectionRecord& r, bool insert, std::int64_t generation,
                                 std::int64_t created_at) {
  const char* sql =
      insert ? "INSERT INTO connections (connector, state, scopes, access_expires_at, refresh_expires_at, "
               "last_error, created_at, updated_at, generation, refresh_intent_owner, "
               "refresh_intent_since_ms, name) "
               "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
             : "UPDATE connections SET connector=?, state=?, scopes=?, access_expires_at=?, "
               "refresh_expires_at=?, last_error=?, created_at=?, updated_at=?, generation=?, "
               "refresh_intent_owner=?, refresh_intent_since_ms=? WHERE name=?";
  in::Stmt s(db_, sql);
  s.bind(1, r.connector).bind(2, state_name(r.state)).bind(3, join_scopes(r.scopes));
  if (r.access_expires_at) s.bind(4, *r.access_expires_at); else s.bind_null(4);
  if (r.refresh_expires_at) s.bind(5, *r.refresh_expires_at); else s.bind_null(5);
  s.bind(6, r.last_error).bind(7, created_at).bind(8, now_s()).bind(9, generation);
  if (r.refresh_intent) {
    s.bind(10, r.refresh_intent->owner).bind(11, r.refresh_intent->since_ms);
  } else {
    s.bind_null(10);
    s.bind_null(11);
  }
  s.bind(12, r.name);
  WEFT_RETURN_IF_ERROR(s.run());
  WEFT_RETURN_IF_ERROR(in::Stmt(db_, "DELETE FROM settings WHERE connection = ?").bind(1, r.name).run());
  for (const auto& [k, v] : r.settings) {
    WEFT_RETURN_IF_ERROR(in::Stmt(db_, "INSERT INTO settings (connection, key, value) VALUES (?, ?, ?)")
                             .bind(1, r.name).bind(2, k).bind(3, v).run());
  }
  return Status::Ok();
}

Status SqliteVault::read_record(const std::string& name, ConnectionRecord& out, bool& found) {
  in::Stmt q(
      db_,
      "SELECT connector, state, scopes, access_expires_at, refresh_expires_at, last_error, created_at, "
      "updated_at, generation, refresh_intent_owner, refresh_intent_since_ms "
      "FROM connections WHERE name = ?");
  q.bind(1, name);
  found = q.step();
  WEFT_RETURN_IF_ERROR(q.status());
  if (!found) return Status::Ok();
  out = ConnectionRecord{};
  out.name = name;
  out.connector = q.text(0);
  auto st = parse_state(q.text(1));
  if (!st) return {Code::kDataLoss, "connection '" + name + "' has an unknown state '" + q.text(1) + "' in vault.db"};
  out.state = *st;
  out.scopes = split_scopes(q.text(2));
  if (!q.is_null(3)) out.access_expires_at = q.int64(3);
  if (!q.is_null(4)) out.refresh_expires_at = q.int64(4);
  out.last_error = q.text(5);
  out.created_at = q.int64(6);
  out.updated_at = q.int64(7);
  out.generation = q.int64(8);
  if (!q.is_null(9))
    out.refresh_intent = ConnectionRecord::RefreshIntent{q.text(9), q.is_null(10) ? 0 : q.int64(10)};
  in::Stmt s(db_, "SELECT key, value FROM settings WHERE connection = ?");
  s.bind(1, name);
  while (s.step()) out.settings[s.text(0)] = s.text(1);
  return s.status();
}

Status SqliteVault::create(const ConnectionRecord& record, const std::map<std::string, std::string>& secrets) {
  WEFT_RETURN_IF_ERROR(check_name(record.name));
  for (const auto& [field, value] : secrets) WEFT_RETURN_IF_ERROR(check_field(record.name, field));
  std::lock_guard lock(mu_);
  in::WriteTxn txn(db_);
  WEFT_RETURN_IF_ERROR(txn.status());
  WEFT_RETURN_IF_ERROR(sync_current_key());
  ConnectionRecord existing;
  bool found = false;
  WEFT_RETURN_IF_ERROR(read_record(record.name, existing, found));
  if (found) return {Code::kAlreadyExists, "connection '" + record.name + "' already exists"};
  WEFT_RETURN_IF_ERROR(write_record(record, true, 1, now_s()));
  for (const auto& [field, value] : secrets) {
    redact::add_secret(value);  // the caller holds it in memory too: mask it from now on
    auto sealed = seal_secret(record.name, field, value);
    if (!sealed) return sealed.status();
    WEFT_RETURN_IF_ERROR(in::Stmt(db_, "INSERT INTO secrets (connection, field, sealed) VALUES (?, ?, ?)")
                             .bind(1, record.name).bind(2, field).bind_blob(3, *sealed).run());
  }
  return txn.commit();
}

Result<ConnectionRecord> SqliteVault::get(const std::string& name) {
  WEFT_RETURN_IF_ERROR(check_name(name));
  std::lock_guard lock(mu_);
  ReadTxn txn(db_);
  WEFT_RETURN_IF_ERROR(txn.status());
  ConnectionRecord r;
  bool found = false;
  WEFT_RETURN_IF_ERROR(read_record(name, r, found));
  if (!found) return Status(Code::kNotFound, "no connection named '" + name + "'");
  return r;
}

Result<std::vector<ConnectionRecord>> SqliteVault::list() {
  std::lock_guard lock(mu_);
  ReadTxn txn(db_);
  WEFT_RETURN_IF_ERROR(txn.status());
  std::vector<std::string> names;
  {
    in::Stmt q(db_, "SELECT name FROM connections ORDER BY name");
    while (q.step()) names.push_back(q.text(0));
    WEFT_RETURN_IF_ERROR(q.status());
  }
  std::vector<ConnectionRecord> out;
  for (const auto& n : names) {
    ConnectionRecord r;
    bool found = false;
    WEFT_RETURN_IF_ERROR(read_record(n, r, found));
    if (found) out.push_back(std::move(r));
  }
  return out;
}

Result<std::map<std::string, std::string>> SqliteVault::secrets(const std::string& name) {
  WEFT_RETURN_IF_ERROR(check_name(name));
  std::lock_guard lock(mu_);
  for (int attempt = 0;; ++attempt) {
    std::vector<std::pair<std::string, std::string>> rows;
    bool found = false;
    {
      ReadTxn txn(db_);
      WEFT_RETURN_IF_ERROR(txn.status());
      in::Stmt c(db_, "SELECT 1 FROM connections WHERE name = ?");
      c.bind(1, name);
      found = c.step();
      WEFT_RETURN_IF_ERROR(c.status());
      in::Stmt q(db_, "SELECT field, sealed FROM secrets WHERE connection = ?");
      q.bind(1, name);
      while (q.step()) rows.emplace_back(q.text(0), q.blob(1));
      WEFT_RETURN_IF_ERROR(q.status());
    }
    if (!found) return Status(Code::kNotFound, "no connection named '" + name + "'");
    std::map<std::string, std::string> out;
    bool unknown_key = false;
    Status failure;
    for (const auto& [field, sealed] : rows) {
      auto plain = in::open_sealed(keys_, name, field, sealed);
      if (!plain) {
        unknown_key = keys_.count(in::sealed_key_id(sealed)) == 0;
        failure = plain.status().with_context("secret '" + field + "' of connection '" + name + "'");
        break;
      }
      redact::add_secret(*plain);
      out.emplace(field, std::move(*plain));
    }
    if (failure.ok()) return out;
    // Another process may have rotated the key since we loaded ours: reload once or twice.
    if (!unknown_key || attempt + 1 >= kKeyReloadAttempts) return failure;
    WEFT_RETURN_IF_ERROR(reload_keys());
  }
}

Status SqliteVault::update(const ConnectionRecord& record, const SecretChanges& changes,
                           std::optional<std::int64_t> expected_generation) {
  WEFT_RETURN_IF_ERROR(check_name(record.name));
  for (const auto& [field, value] : changes) WEFT_RETURN_IF_ERROR(check_field(record.name, field));
  std::lock_guard lock(mu_);
  in::WriteTxn txn(db_);
  WEFT_RETURN_IF_ERROR(txn.status());
  WEFT_RETURN_IF_ERROR(sync_current_key());
  ConnectionRecord existing;
  bool found = false;
  WEFT_RETURN_IF_ERROR(read_record(record.name, existing, found));
  if (!found) return {Code::kNotFound, "no connection named '" + record.name + "'"};
  if (expected_generation && *expected_generation != existing.generation) {
    return {Code::kFailedPrecondition, "connection '" + record.name + "' was changed by another writer (generation " +
                                           std::to_string(existing.generation) + ", expected " +
                                           std::to_string(*expected_generation) + "); re-read it and retry"};
  }
  WEFT_RETURN_IF_ERROR(write_record(record, false, existing.generation + 1, existing.created_at));
  for (const auto& [field, value] : changes) {
    if (!value) {
      WEFT_RETURN_IF_ERROR(in::Stmt(db_, "DELETE FROM secrets WHERE connection = ? AND field = ?")
                               .bind(1, record.name).bind(2, field).run());
      continue;
    }
    redact::add_secret(*value);
    auto sealed = seal_secret(record.name, field, *value);
    if (!sealed) return sealed.status();
    WEFT_RETURN_IF_ERROR(in::Stmt(db_, "INSERT OR REPLACE INTO secrets (connection, field, sealed) VALUES (?, ?, ?)")
                             .bind(1, record.name).bind(2, field).bind_blob(3, *sealed).run());
  }
  return txn.commit();
}

Status SqliteVault::remove(const std::string& name) {
  WEFT_RETURN_IF_ERROR(check_name(name));
  std::lock_guard lock(mu_);
  in::WriteTxn txn(db_);
  WEFT_RETURN_IF_ERROR(txn.status());
  in::Stmt del(db_, "DELETE FROM connections WHERE name = ?");
  WEFT_RETURN_IF_ERROR(del.bind(1, name).run());
  if (del.changes() == 0) return {Code::kNotFound, "no connection named '" + name + "'"};
  for (const char* sql : {"DELETE FROM secrets WHERE connection = ?", "DELETE FROM settings WHERE connection = ?",
                          "DELETE FROM leases WHERE name = ?", "DELETE FROM auth_states WHERE connection = ?"}) {
    WEFT_RETURN_IF_ERROR(in::Stmt(db_, sql).bind(1, name).run());
  }
  return txn.commit();
}

Result<bool> SqliteVault::try_lease(const std::string& name, const std::string& owner, std::int64_t ttl_ms) {
  WEFT_RETURN_IF_ERROR(check_name(name));
  if (owner.empty()) return Status(Code::kInvalidArgument, "a lease needs a non-empty owner");
  if (ttl_ms <= 0) return Status(Code::kInvalidArgument, "a lease needs a positive ttl_ms");
  std::lock_guard lock(mu_);
  RelaxedSync relaxed(db_);
  // BEGIN IMMEDIATE: the read and the write below are one step for every other process.
  in::WriteTxn txn(db_);
  WEFT_RETURN_IF_ERROR(txn.status());
  const std::int64_t now = now_ms();
  in::Stmt q(db_, "SELECT owner, expires_ms FROM leases WHERE name = ?");
  q.bind(1, name);
  if (q.step() && q.text(0) != owner && q.int64(1) > now) return false;
  WEFT_RETURN_IF_ERROR(q.status());
  WEFT_RETURN_IF_ERROR(in::Stmt(db_, "INSERT OR REPLACE INTO leases (name, owner, expires_ms) VALUES (?, ?, ?)")
                           .bind(1, name).bind(2, owner).bind(3, now + ttl_ms).run());
  WEFT_RETURN_IF_ERROR(txn.commit());
  return true;
}

Status SqliteVault::release_lease(const std::string& name, const std::string& owner) {
  WEFT_RETURN_IF_ERROR(check_name(name));
  std::lock_guard lock(mu_);
  RelaxedSync relaxed(db_);
  in::WriteTxn txn(db_);
  WEFT_RETURN_IF_ERROR(txn.status());
  WEFT_RETURN_IF_ERROR(
      in::Stmt(db_, "DELETE FROM leases WHERE name = ? AND owner = ?").bind(1, name).bind(2, owner).run());
  return txn.commit();
}

Status SqliteVault::put_auth_state(const AuthState& s) {
  WEFT_RETURN_IF_ERROR(check_name(s.connection));
  if (s.state.empty()) return {Code::kInvalidArgument, "an authorization state must not be empty"};
  std::lock_guard lock(mu_);
  in::WriteTxn txn(db_);
  WEFT_RETURN_IF_ERROR(txn.status());
  WEFT_RETURN_IF_ERROR(sync_current_key());
  // Only a hash of `state` is stored: the row cannot be used to forge a callback.
  const std::string hash = in::sha256_hex(s.state);
  auto sealed = in::seal(keys_.at(current_id_), kAuthContext, hash, s.code_verifier);
  if (!sealed) return sealed.status();
  WEFT_RETURN_IF_ERROR(in::Stmt(db_, "DELETE FROM auth_states WHERE expires_at <= ?").bind(1, now_s()).run());
  in::Stmt ins(db_,
               "INSERT OR IGNORE INTO auth_states (state_hash, connection, verifier, redirect_uri, expires_at) "
               "VALUES (?, ?, ?, ?, ?)");
  WEFT_RETURN_IF_ERROR(
      ins.bind(1, hash).bind(2, s.connection).bind_blob(3, *sealed).bind(4, s.redirect_uri).bind(5, s.expires_at).run());
  if (ins.changes() == 0) return {Code::kAlreadyExists, "this authorization state is already pending"};
  return txn.commit();
}

Result<bool> SqliteVault::has_auth_state(const std::string& state) {
  if (state.empty()) return false;
  std::lock_guard lock(mu_);
  in::Stmt q(db_, "SELECT 1 FROM auth_states WHERE state_hash = ? AND expires_at > ?");
  q.bind(1, in::sha256_hex(state)).bind(2, now_s());
  if (q.step()) return true;
  WEFT_RETURN_IF_ERROR(q.status());
  return false;
}

Result<AuthState> SqliteVault::take_auth_state(const std::string& state) {
  const Status unknown(Code::kNotFound, "unknown, already used or expired authorization state");
  if (state.empty()) return unknown;
  std::lock_guard lock(mu_);
  const std::string hash = in::sha256_hex(state);
  AuthState out;
  std::string sealed;
  {
    in::WriteTxn txn(db_);
    WEFT_RETURN_IF_ERROR(txn.status());
    in::Stmt q(db_, "SELECT connection, verifier, redirect_uri, expires_at FROM auth_states WHERE state_hash = ?");
    q.bind(1, hash);
    if (!q.step()) {
      WEFT_RETURN_IF_ERROR(q.status());
      return unknown;
    }
    out.state = state;
    out.connection = q.text(0);
    sealed = q.blob(1);
    out.redirect_uri = q.text(2);
    out.expires_at = q.int64(3);
    // Deleted whether or not it is still valid: a state is consumed by its first use.
    WEFT_RETURN_IF_ERROR(in::Stmt(db_, "DELETE FROM auth_states WHERE state_hash = ?").bind(1, hash).run());
    WEFT_RETURN_IF_ERROR(txn.commit());
  }
  if (out.expires_at <= now_s()) return unknown;
  auto verifier = in::open_sealed(keys_, kAuthContext, hash, sealed);
  if (!verifier && keys_.count(in::sealed_key_id(sealed)) == 0) {
    WEFT_RETURN_IF_ERROR(reload_keys());
    verifier = in::open_sealed(keys_, kAuthContext, hash, sealed);
  }
  if (!verifier) return verifier.status().with_context("the PKCE verifier of a pending authorization");
  redact::add_secret(*verifier);
  out.code_verifier = std::move(*verifier);
  return out;
}

}  // namespace internal

Result<std::unique_ptr<Vault>> open_sqlite(const std::string& home) {
  if (home.empty()) return Status(Code::kInvalidArgument, "the weft home directory is empty");
  auto v = std::make_unique<internal::SqliteVault>(home);
  Status s = v->init();
  if (!s.ok()) return s;
  return std::unique_ptr<Vault>(std::move(v));
}

}  // namespace weft::vault
