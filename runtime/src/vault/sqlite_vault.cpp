// sqlite_vault.cpp — the Vault on one SQLite file (WAL, synchronous=FULL) under the weft home.
//
// Key handling, and why it survives kill -9 at any point:
//  * Every sealed record names its key id; key_checks holds, per usable key, a sealed known text,
//    so a wrong key is reported at open ("cannot decrypt: wrong master key ...") instead of later.
//  * Key file (<home>/master.key) rotation, under an flock on master.key.lock and inside one
//    BEGIN IMMEDIATE transaction: the new key is first written durably to master.key.next, then
//    every secret is re-sealed with it and it becomes meta.current_key_id (one commit), then
//    master.key.next is renamed over master.key. At every instant the key that meta names is on
//    disk (in master.key or master.key.next) and every record is sealed with it; open() finishes
//    an interrupted rename and deletes a master.key.next that never got committed. The old key is
//    not kept once the commit is done: nothing is sealed with it any more.
//  * WEFT_MASTER_KEY rotation: the vault cannot change the environment of running processes, so
//    it commits the new key's check record plus the old key sealed under the new key, and marks
//    the new key pending. Processes with the old key keep working unchanged. The first process
//    that opens with the new key unwraps the old one and re-seals everything in one transaction;
//    after that the old key is refused with the wrong-key message.
//  * Processes that opened before a rotation notice it (a record or meta names a key they do not
//    hold) and reload the key files: master.key.next first, then master.key, so a concurrent
//    rename cannot hide the new key.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <regex>

#include "core/paths.hpp"
#include "core/redact.hpp"
#include "vault/internal/crypto.hpp"
#include "vault/internal/key_file.hpp"
#include "vault/internal/sqlite_db.hpp"
#include "vault/vault.hpp"

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

namespace {

namespace in = internal;

constexpr std::int64_t kSchemaVersion = 1;
constexpr int kBusyTimeoutMs = 30000;
constexpr int kKeyReloadAttempts = 3;
constexpr std::size_t kMaxFieldLength = 128;
// Contexts for sealed values that are not connection secrets; none is a valid connection name.
constexpr std::string_view kKeyCheckContext = "\x01key-check";
constexpr std::string_view kKeyCheckText = "weft vault key check v1";
constexpr std::string_view kWrapContext = "\x01wrapped-key";
constexpr std::string_view kAuthContext = "\x01auth-state";

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

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
std::int64_t now_s() { return now_ms() / 1000; }

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

// An exclusive flock on <home>/master.key.lock: serialises everything that changes key files
// (rotation, finishing an interrupted rotation). Released by the kernel if the process dies.
class KeyFileLock {
 public:
  explicit KeyFileLock(const std::string& path) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd_ < 0) {
      status_ = {Code::kUnavailable, "cannot open " + path + ": " + std::strerror(errno)};
      return;
    }
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR) {
        status_ = {Code::kUnavailable, "cannot lock " + path + ": " + std::strerror(errno)};
        return;
      }
    }
  }
  ~KeyFileLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  KeyFileLock(const KeyFileLock&) = delete;
  KeyFileLock& operator=(const KeyFileLock&) = delete;
  Status status() const { return status_; }

 private:
  int fd_ = -1;
  Status status_;
};

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

Result<bool> SqliteVault::key_checks_out(const in::MasterKey& key) {
  in::Stmt q(db_, "SELECT sealed FROM key_checks WHERE key_id = ?");
  q.bind(1, key.id());
  if (!q.step()) {
    if (!q.status().ok()) return q.status();
    return false;
  }
  auto text = in::open_sealed(in::Keyring{{key.id(), key}}, kKeyCheckContext, key.id(), q.blob(0));
  return text.ok() && *text == kKeyCheckText;
}

Status SqliteVault::add_key_check(const in::MasterKey& key) {
  auto sealed = in::seal(key, kKeyCheckContext, key.id(), kKeyCheckText);
  if (!sealed) return sealed.status();
  return in::Stmt(db_, "INSERT OR REPLACE INTO key_checks (key_id, sealed) VALUES (?, ?)")
      .bind(1, key.id())
      .bind_blob(2, *sealed)
      .run();
}

Status SqliteVault::wrong_key(const std::string& sealed_with, const std::string& have) const {
  std::string msg = "cannot decrypt: wrong master key (vault was sealed with key " + sealed_with + ")";
  msg += env_mode() ? "; WEFT_MASTER_KEY holds key " + have + ": set it to the vault's key"
                    : "; " + key_path_ + " holds key " + have + ": restore the right key file or set WEFT_MASTER_KEY";
  return {Code::kDataLoss, msg};
}

Status SqliteVault::init_keys_env() {
  in::WriteTxn txn(db_);
  WEFT_RETURN_IF_ERROR(txn.status());
  const in::MasterKey& key = *env_key_;
  auto current = read_meta("current_key_id");
  if (!current) return current.status();
  if (current->empty()) {
    WEFT_RETURN_IF_ERROR(add_key_check(key));
    WEFT_RETURN_IF_ERROR(write_meta("current_key_id", key.id()));
  } else if (*current != key.id()) {
    auto pending = read_meta("pending_key_id");
    if (!pending) return pending.status();
    auto ok = key_checks_out(key);
    if (!ok) return ok.status();
    if (*pending != key.id() || !*ok) return wrong_key(*current, key.id());
    // The first start with the key `weft vault rotate-key` printed: finish the rotation.
    in::Stmt q(db_, "SELECT sealed FROM wrapped_keys WHERE key_id = ? AND wrapping_key_id = ?");
    q.bind(1, *current).bind(2, key.id());
    if (!q.step()) {
      WEFT_RETURN_IF_ERROR(q.status());
      return {Code::kDataLoss, "vault.db lost the record of the key rotation to " + key.id() +
                                   "; start with the previous WEFT_MASTER_KEY (key " + *current + ")"};
    }
    auto old_bytes = in::open_sealed(in::Keyring{{key.id(), key}}, kWrapContext, *current, q.blob(0));
    if (!old_bytes || old_bytes->size() != in::kKeyBytes) {
      return {Code::kDataLoss, "cannot open the previous key sealed in vault.db during rotation"};
    }
    std::array<unsigned char, in::kKeyBytes> b{};
    std::copy(old_bytes->begin(), old_bytes->end(), b.begin());
    in::MasterKey old(b);
    keys_.emplace(old.id(), old);
    keys_.emplace(key.id(), key);
    WEFT_RETURN_IF_ERROR(reseal_all(key));
    WEFT_RETURN_IF_ERROR(write_meta("current_key_id", key.id()));
    WEFT_RETURN_IF_ERROR(write_meta("pending_key_id", ""));
    WEFT_RETURN_IF_ERROR(in::Stmt(db_, "DELETE FROM wrapped_keys").run());
    WEFT_RETURN_IF_ERROR(in::Stmt(db_, "DELETE FROM key_checks WHERE key_id <> ?").bind(1, key.id()).run());
  } else {
    auto ok = key_checks_out(key);
    if (!ok) return ok.status();
    if (!*ok) return wrong_key(*current, key.id());
  }
  WEFT_RETURN_IF_ERROR(txn.commit());
  keys_.clear();
  keys_.emplace(key.id(), key);
  current_id_ = key.id();
  return Status::Ok();
}

Status SqliteVault::promote_next_key(const std::string& current_id) {
  // Called under the key file lock: master.key.next holds the committed current key.
  if (::rename(next_path_.c_str(), key_path_.c_str()) != 0 && errno != ENOENT) {
    return {Code::kUnavailable, "cannot move " + next_path_ + " to " + key_path_ + ": " + std::strerror(errno)};
  }
  return in::remove_key_file(next_path_);  // syncs the directory, making the rename durable
}

// Why a key file is only deleted after settle_wal(): a process killed inside COMMIT, after its WAL
// frames reached the file but before it updated the shared WAL index, leaves a commit that live
// connections do not see yet, and that WAL recovery resurrects once every connection has closed
// unless some later write overwrites those frames first. Such a rotation's key must not be thrown
// away on the strength of a read. A committed write of our own settles the question: from then
// on the state read is the state recovery will find.
Status SqliteVault::settle_wal() {
  in::WriteTxn txn(db_);
  WEFT_RETURN_IF_ERROR(txn.status());
  WEFT_RETURN_IF_ERROR(write_meta("settled_at_ms", std::to_string(now_ms())));
  return txn.commit();
}

Status SqliteVault::init_keys_file() {
  KeyFileLock lock(lock_path_);
  WEFT_RETURN_IF_ERROR(lock.status());
  in::WriteTxn txn(db_);
  WEFT_RETURN_IF_ERROR(txn.status());
  auto current = read_meta("current_key_id");
  if (!current) return current.status();
  auto next = in::read_key_file(next_path_);
  if (!next) return next.status();
  auto main = in::read_key_file(key_path_);
  if (!main) return main.status();

  if (current->empty()) {
    if (!*main) {
      auto created = in::create_key_file(key_path_);
      if (!created) return created.status();
      *main = *created;
    }
    WEFT_RETURN_IF_ERROR(add_key_check(**main));
    WEFT_RETURN_IF_ERROR(write_meta("current_key_id", (*main)->id()));
    WEFT_RETURN_IF_ERROR(txn.commit());
    if (*next) WEFT_RETURN_IF_ERROR(in::remove_key_file(next_path_));
    keys_.emplace((*main)->id(), **main);
    current_id_ = (*main)->id();
    return Status::Ok();
  }

  for (const auto* k : {&*next, &*main}) {
    if (!*k) continue;
    auto ok = key_checks_out(**k);
    if (!ok) return ok.status();
    if (*ok) keys_.emplace((*k)->id(), **k);
  }
  WEFT_RETURN_IF_ERROR(txn.commit());
  if (keys_.count(*current) == 0) {
    if (!*main && !*next) {
      return {Code::kFailedPrecondition, "master key file " + key_path_ + " is missing but vault.db was sealed with key " +
                                             *current + "; restore the file (mode 0600) or set WEFT_MASTER_KEY"};
    }
    return wrong_key(*current, *main ? (*main)->id() : (*next)->id());
  }
  current_id_ = *current;
  if (*next && (*next)->id() == *current && (!*main || (*main)->id() != *current)) {
    WEFT_RETURN_IF_ERROR(promote_next_key(*current));  // a rotation was killed after its commit
  } else if (*next && (*next)->id() != *current) {
    // Looks like a rotation killed before its commit; settle, then decide on the final state.
    WEFT_RETURN_IF_ERROR(settle_wal());
    auto settled = read_meta("current_key_id");
    if (!settled) return settled.status();
    if (*settled != (*next)->id()) return in::remove_key_file(next_path_);
    auto ok = key_checks_out(**next);  // the killed rotation's commit did survive after all
    if (!ok) return ok.status();
    if (!*ok) return wrong_key(*settled, (*next)->id());
    keys_.emplace((*next)->id(), **next);
    current_id_ = *settled;
    WEFT_RETURN_IF_ERROR(promote_next_key(*settled));
  }
  return Status::Ok();
}

Status SqliteVault::init() {
  if (const char* env = std::getenv("WEFT_MASTER_KEY"); env != nullptr) {
    auto key = in::MasterKey::from_base64(env, "WEFT_MASTER_KEY");
    if (!key) return key.status();
    env_key_ = *key;
  }
  WEFT_RETURN_IF_ERROR(open_db());
  return env_mode() ? init_keys_env() : init_keys_file();
}

Status SqliteVault::reload_keys() {
  std::vector<in::MasterKey> found;
  if (env_mode()) {
    found.push_back(*env_key_);
  } else {
    // .next before master.key: a concurrent rename moves the new key from the first to the second.
    for (const auto* path : {&next_path_, &key_path_}) {
      auto k = in::read_key_file(*path);
      if (!k) return k.status();
      if (*k) found.push_back(**k);
    }
  }
  for (const auto& k : found) {
    if (keys_.count(k.id()) != 0) continue;
    auto ok = key_checks_out(k);
    if (!ok) return ok.status();
    if (*ok) keys_.emplace(k.id(), k);
  }
  return Status::Ok();
}

Status SqliteVault::sync_current_key() {
  auto current = read_meta("current_key_id");
  if (!current) return current.status();
  if (*current == current_id_ && keys_.count(current_id_) != 0) return Status::Ok();
  WEFT_RETURN_IF_ERROR(reload_keys());
  if (keys_.count(*current) == 0) {
    return {Code::kFailedPrecondition,
            "the vault master key was rotated to key " + *current +
                (env_mode() ? "; set WEFT_MASTER_KEY to the key `weft vault rotate-key` printed and restart"
                            : "; " + key_path_ + " does not hold it")};
  }
  current_id_ = *current;
  return Status::Ok();
}

Result<std::string> SqliteVault::seal_secret(const std::string& name, const std::string& field,
                                             const std::string& value) {
  return in::seal(keys_.at(current_id_), name, field, value);
}

Status SqliteVault::reseal_all(const in::MasterKey& key) {
  struct Row {
    std::string a, b, sealed;
  };
  std::vector<Row> rows;
  {
    in::Stmt q(db_, "SELECT connection, field, sealed FROM secrets");
    while (q.step()) rows.push_back({q.text(0), q.text(1), q.blob(2)});
    WEFT_RETURN_IF_ERROR(q.status());
  }
  for (auto& r : rows) {
    auto plain = in::open_sealed(keys_, r.a, r.b, r.sealed);
    if (!plain) return plain.status().with_context("re-sealing secret '" + r.b + "' of connection '" + r.a + "'");
    auto sealed = in::seal(key, r.a, r.b, *plain);
    std::fill(plain->begin(), plain->end(), '\0');
    if (!sealed) return sealed.status();
    WEFT_RETURN_IF_ERROR(in::Stmt(db_, "UPDATE secrets SET sealed = ? WHERE connection = ? AND field = ?")
                             .bind_blob(1, *sealed).bind(2, r.a).bind(3, r.b).run());
  }
  WEFT_RETURN_IF_ERROR(in::Stmt(db_, "DELETE FROM auth_states WHERE expires_at <= ?").bind(1, now_s()).run());
  rows.clear();
  {
    in::Stmt q(db_, "SELECT state_hash, verifier FROM auth_states");
    while (q.step()) rows.push_back({q.text(0), "", q.blob(1)});
    WEFT_RETURN_IF_ERROR(q.status());
  }
  for (auto& r : rows) {
    auto plain = in::open_sealed(keys_, kAuthContext, r.a, r.sealed);
    if (!plain) return plain.status().with_context("re-sealing a pending authorization");
    auto sealed = in::seal(key, kAuthContext, r.a, *plain);
    if (!sealed) return sealed.status();
    WEFT_RETURN_IF_ERROR(in::Stmt(db_, "UPDATE auth_states SET verifier = ? WHERE state_hash = ?")
                             .bind_blob(1, *sealed).bind(2, r.a).run());
  }
  return Status::Ok();
}

Status SqliteVault::write_record(const ConnectionRecord& r, bool insert, std::int64_t generation,
                                 std::int64_t created_at) {
  const char* sql = insert
                        ? "INSERT INTO connections (connector, state, scopes, access_expires_at, refresh_expires_at, "
                          "last_error, created_at, updated_at, generation, name) VALUES (?,?,?,?,?,?,?,?,?,?)"
                        : "UPDATE connections SET connector=?, state=?, scopes=?, access_expires_at=?, "
                          "refresh_expires_at=?, last_error=?, created_at=?, updated_at=?, generation=? WHERE name=?";
  in::Stmt s(db_, sql);
  s.bind(1, r.connector).bind(2, state_name(r.state)).bind(3, join_scopes(r.scopes));
  if (r.access_expires_at) s.bind(4, *r.access_expires_at); else s.bind_null(4);
  if (r.refresh_expires_at) s.bind(5, *r.refresh_expires_at); else s.bind_null(5);
  s.bind(6, r.last_error).bind(7, created_at).bind(8, now_s()).bind(9, generation).bind(10, r.name);
  WEFT_RETURN_IF_ERROR(s.run());
  WEFT_RETURN_IF_ERROR(in::Stmt(db_, "DELETE FROM settings WHERE connection = ?").bind(1, r.name).run());
  for (const auto& [k, v] : r.settings) {
    WEFT_RETURN_IF_ERROR(in::Stmt(db_, "INSERT INTO settings (connection, key, value) VALUES (?, ?, ?)")
                             .bind(1, r.name).bind(2, k).bind(3, v).run());
  }
  return Status::Ok();
}

Status SqliteVault::read_record(const std::string& name, ConnectionRecord& out, bool& found) {
  in::Stmt q(db_,
             "SELECT connector, state, scopes, access_expires_at, refresh_expires_at, last_error, created_at, "
             "updated_at, generation FROM connections WHERE name = ?");
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

Result<std::string> SqliteVault::rotate_key() {
  auto r = rotate_key_detailed();
  if (!r) return r.status();
  return r->new_key_id;
}

Result<Vault::KeyRotation> SqliteVault::rotate_key_detailed() {
  std::optional<KeyFileLock> file_lock;
  if (!env_mode()) {
    file_lock.emplace(lock_path_);  // before the DB lock, always, so the two never deadlock
    WEFT_RETURN_IF_ERROR(file_lock->status());
  }
  std::lock_guard lock(mu_);
  // Under the key file lock no other rotation can commit, so after this a master.key.next that
  // is not the current key is truly stale and may be overwritten.
  if (!env_mode()) WEFT_RETURN_IF_ERROR(settle_wal());
  in::WriteTxn txn(db_);
  WEFT_RETURN_IF_ERROR(txn.status());
  WEFT_RETURN_IF_ERROR(sync_current_key());
  auto fresh = in::MasterKey::generate();
  if (!fresh) return fresh.status();
  const in::MasterKey key = *fresh;
  KeyRotation out;
  out.old_key_id = current_id_;
  out.new_key_id = key.id();

  if (env_mode()) {
    // A previous pending rotation is replaced: its printed key will no longer be accepted.
    auto pending = read_meta("pending_key_id");
    if (!pending) return pending.status();
    if (!pending->empty()) {
      WEFT_RETURN_IF_ERROR(in::Stmt(db_, "DELETE FROM key_checks WHERE key_id = ?").bind(1, *pending).run());
    }
    WEFT_RETURN_IF_ERROR(in::Stmt(db_, "DELETE FROM wrapped_keys").run());
    const auto& old = keys_.at(current_id_).bytes();
    auto wrapped = in::seal(key, kWrapContext, current_id_,
                            std::string_view(reinterpret_cast<const char*>(old.data()), old.size()));
    if (!wrapped) return wrapped.status();
    WEFT_RETURN_IF_ERROR(in::Stmt(db_, "INSERT INTO wrapped_keys (key_id, wrapping_key_id, sealed) VALUES (?, ?, ?)")
                             .bind(1, current_id_).bind(2, key.id()).bind_blob(3, *wrapped).run());
    WEFT_RETURN_IF_ERROR(add_key_check(key));
    WEFT_RETURN_IF_ERROR(write_meta("pending_key_id", key.id()));
    WEFT_RETURN_IF_ERROR(txn.commit());
    out.new_master_key = key.to_base64();
    out.pending = true;
    return out;
  }

  // Finish an earlier rotation's rename first, so master.key.next is free for the new key.
  auto next = in::read_key_file(next_path_);
  if (!next) return next.status();
  if (*next && (*next)->id() == current_id_) WEFT_RETURN_IF_ERROR(promote_next_key(current_id_));
  WEFT_RETURN_IF_ERROR(in::write_key_file(next_path_, key));  // durable before any record uses it
  keys_.emplace(key.id(), key);
  Status s = reseal_all(key);
  if (s.ok()) s = add_key_check(key);
  if (s.ok()) s = write_meta("current_key_id", key.id());
  if (s.ok()) s = write_meta("pending_key_id", "");
  if (s.ok()) s = in::Stmt(db_, "DELETE FROM wrapped_keys").run();
  if (s.ok()) s = in::Stmt(db_, "DELETE FROM key_checks WHERE key_id <> ?").bind(1, key.id()).run();
  if (s.ok()) s = txn.commit();
  if (!s.ok()) {
    keys_.erase(key.id());
    (void)in::remove_key_file(next_path_);
    return s.with_context("key rotation rolled back");
  }
  current_id_ = key.id();
  keys_.clear();
  keys_.emplace(key.id(), key);
  // Committed: the rotation is done even if this rename fails; the next open() finishes it.
  (void)promote_next_key(key.id());
  return out;
}

}  // namespace

Result<std::unique_ptr<Vault>> open_sqlite(const std::string& home) {
  if (home.empty()) return Status(Code::kInvalidArgument, "the weft home directory is empty");
  auto v = std::make_unique<SqliteVault>(home);
  Status s = v->init();
  if (!s.ok()) return s;
  return std::unique_ptr<Vault>(std::move(v));
}

}  // namespace weft::vault
