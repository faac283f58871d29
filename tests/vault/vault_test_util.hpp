// vault_test_util.hpp — shared helpers for the vault tests: env overrides, raw SQLite access to
// vault.db (to tamper with it the way an attacker or a bad disk would), and file helpers.
#pragma once

#include <sqlite3.h>

#include <map>
#include <optional>
#include <string>

#include "vault/vault.hpp"

namespace weft::vault::testing {

// Sets (or unsets) an environment variable for the scope, restoring the previous value.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value);
  ~ScopedEnv();
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

// A direct connection to <home>/vault.db, bypassing the vault.
class RawDb {
 public:
  explicit RawDb(const std::string& home);
  ~RawDb();
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;
  std::string sealed(const std::string& connection, const std::string& field);
  void set_sealed(const std::string& connection, const std::string& field, const std::string& blob);
  // The first column of the first row of sql, as text ("" when no row).
  std::string scalar(const std::string& sql);

 private:
  sqlite3* db_ = nullptr;
};

std::string read_file(const std::string& path);
// Mode bits (& 07777) of path, or -1.
int file_mode(const std::string& path);
bool file_exists(const std::string& path);
// A fresh random key, base64.
std::string new_key_text();
// The key id of a base64 key.
std::string key_id_of(const std::string& key_text);

ConnectionRecord sample_record(const std::string& name);

}  // namespace weft::vault::testing
