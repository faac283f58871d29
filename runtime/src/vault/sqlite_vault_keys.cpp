// sqlite_vault_keys.cpp — the vault's master keys: checking a key at open, reloading after
// another process rotated, and rotation itself.
//
// Why rotation survives kill -9 at any point:
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
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "vault/internal/key_file.hpp"
#include "vault/internal/sqlite_vault.hpp"

namespace weft::vault::internal {
namespace {

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

}  // namespace

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

}  // namespace weft::vault::internal
