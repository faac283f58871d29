// memory_vault.hpp — an in-memory vault::Vault for auth tests and benchmarks: same contract as the
// SQLite vault (generations, leases, single-use expiring auth states), no encryption, no disk.
//
//   test::MemoryVault v;
//   v.create(record, {{"client_id", "id"}});
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>

#include "vault/vault.hpp"

namespace weft::test {

class MemoryVault final : public vault::Vault {
 public:
  std::function<std::int64_t()> now = [] {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  bool fail_updates = false;  // makes update() fail (a full disk)
  int fail_updates_after = -1;  // >= 0: that many more update() calls succeed, then fail_updates

  Status create(const vault::ConnectionRecord& r, const std::map<std::string, std::string>& s) override {
    std::lock_guard<std::mutex> g(mu_);
    if (rows_.count(r.name)) return {Code::kAlreadyExists, "connection '" + r.name + "' already exists"};
    rows_[r.name] = Row{r, s};
    rows_[r.name].rec.generation = 1;
    return Status::Ok();
  }
  Result<vault::ConnectionRecord> get(const std::string& name) override {
    std::lock_guard<std::mutex> g(mu_);
    auto it = rows_.find(name);
    if (it == rows_.end()) return Status(Code::kNotFound, "no connection named '" + name + "'");
    return it->second.rec;
  }
  Result<std::vector<vault::ConnectionRecord>> list() override {
    std::lock_guard<std::mutex> g(mu_);
    std::vector<vault::ConnectionRecord> out;
    for (auto& [k, row] : rows_) out.push_back(row.rec);
    return out;
  }
  Result<std::map<std::string, std::string>> secrets(const std::string& name) override {
    std::lock_guard<std::mutex> g(mu_);
    ++secret_reads_;
    auto it = rows_.find(name);
    if (it == rows_.end()) return Status(Code::kNotFound, "no connection named '" + name + "'");
    return it->second.secrets;
  }
  Status update(const vault::ConnectionRecord& r, const vault::SecretChanges& changes,
                std::optional<std::int64_t> expected) override {
    std::lock_guard<std::mutex> g(mu_);
    if (fail_updates_after == 0) fail_updates = true;
    if (fail_updates_after > 0) --fail_updates_after;
    if (fail_updates) return {Code::kUnavailable, "disk I/O error"};
    auto it = rows_.find(r.name);
    if (it == rows_.end()) return {Code::kNotFound, "no connection named '" + r.name + "'"};
    if (expected && *expected != it->second.rec.generation)
      return {Code::kFailedPrecondition, "generation changed"};
    std::int64_t gen = it->second.rec.generation + 1;
    it->second.rec = r;
    it->second.rec.generation = gen;
    for (const auto& [k, v] : changes) {
      if (v)
        it->second.secrets[k] = *v;
      else
        it->second.secrets.erase(k);
    }
    ++updates_;
    return Status::Ok();
  }
  Status remove(const std::string& name) override {
    std::lock_guard<std::mutex> g(mu_);
    if (rows_.erase(name) == 0) return {Code::kNotFound, "no connection named '" + name + "'"};
    return Status::Ok();
  }
  Result<bool> try_lease(const std::string& name, const std::string& owner, std::int64_t ttl_ms) override {
    std::lock_guard<std::mutex> g(mu_);
    auto t = std::chrono::steady_clock::now();
    auto& l = leases_[name];
    if (!l.owner.empty() && l.owner != owner && l.until > t) return false;
    l = Lease{owner, t + std::chrono::milliseconds(ttl_ms)};
    return true;
  }
  Status release_lease(const std::string& name, const std::string& owner) override {
    std::lock_guard<std::mutex> g(mu_);
    auto it = leases_.find(name);
    if (it != leases_.end() && it->second.owner == owner) leases_.erase(it);
    return Status::Ok();
  }
  Status put_auth_state(const vault::AuthState& s) override {
    std::lock_guard<std::mutex> g(mu_);
    states_[s.state] = s;
    return Status::Ok();
  }
  Result<vault::AuthState> take_auth_state(const std::string& state) override {
    std::lock_guard<std::mutex> g(mu_);
    auto it = states_.find(state);
    if (it == states_.end()) return Status(Code::kNotFound, "unknown state");
    vault::AuthState s = it->second;
    states_.erase(it);
    if (s.expires_at <= now()) return Status(Code::kNotFound, "expired state");
    return s;
  }
  Result<std::string> rotate_key() override { return std::string("memory"); }

  // For assertions.
  std::map<std::string, std::string> raw_secrets(const std::string& name) {
    std::lock_guard<std::mutex> g(mu_);
    auto it = rows_.find(name);
    return it == rows_.end() ? std::map<std::string, std::string>{} : it->second.secrets;
  }
  bool has(const std::string& name) {
    std::lock_guard<std::mutex> g(mu_);
    return rows_.count(name) != 0;
  }
  std::size_t pending_states() {
    std::lock_guard<std::mutex> g(mu_);
    return states_.size();
  }
  int updates() {
    std::lock_guard<std::mutex> g(mu_);
    return updates_;
  }
  int secret_reads() {
    std::lock_guard<std::mutex> g(mu_);
    return secret_reads_;
  }

 private:
  struct Row {
    vault::ConnectionRecord rec;
    std::map<std::string, std::string> secrets;
  };
  struct Lease {
    std::string owner;
    std::chrono::steady_clock::time_point until;
  };
  std::mutex mu_;
  std::map<std::string, Row> rows_;
  std::map<std::string, Lease> leases_;
  std::map<std::string, vault::AuthState> states_;
  int updates_ = 0;
  int secret_reads_ = 0;
};

}  // namespace weft::test
