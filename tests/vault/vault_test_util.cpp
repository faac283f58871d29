#include "vault_test_util.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "vault/internal/crypto.hpp"

namespace weft::vault::testing {

ScopedEnv::ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
  if (const char* old = std::getenv(name)) old_ = old;
  if (value) ::setenv(name, value->c_str(), 1);
  else ::unsetenv(name);
}

ScopedEnv::~ScopedEnv() {
  if (old_) ::setenv(name_.c_str(), old_->c_str(), 1);
  else ::unsetenv(name_.c_str());
}

RawDb::RawDb(const std::string& home) {
  EXPECT_EQ(sqlite3_open((home + "/vault.db").c_str(), &db_), SQLITE_OK);
  sqlite3_busy_timeout(db_, 10000);
}

RawDb::~RawDb() { sqlite3_close(db_); }

std::string RawDb::sealed(const std::string& connection, const std::string& field) {
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db_, "SELECT sealed FROM secrets WHERE connection = ? AND field = ?", -1, &s, nullptr);
  sqlite3_bind_text(s, 1, connection.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 2, field.c_str(), -1, SQLITE_TRANSIENT);
  std::string out;
  if (sqlite3_step(s) == SQLITE_ROW) {
    out.assign(static_cast<const char*>(sqlite3_column_blob(s, 0)), static_cast<std::size_t>(sqlite3_column_bytes(s, 0)));
  }
  sqlite3_finalize(s);
  return out;
}

void RawDb::set_sealed(const std::string& connection, const std::string& field, const std::string& blob) {
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db_, "INSERT OR REPLACE INTO secrets (connection, field, sealed) VALUES (?, ?, ?)", -1, &s,
                     nullptr);
  sqlite3_bind_text(s, 1, connection.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 2, field.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_blob(s, 3, blob.data(), static_cast<int>(blob.size()), SQLITE_TRANSIENT);
  EXPECT_EQ(sqlite3_step(s), SQLITE_DONE);
  sqlite3_finalize(s);
}

std::string RawDb::scalar(const std::string& sql) {
  sqlite3_stmt* s = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr), SQLITE_OK) << sqlite3_errmsg(db_);
  std::string out;
  if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0) != nullptr) {
    out = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
  }
  sqlite3_finalize(s);
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int file_mode(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int>(st.st_mode & 07777);
}

bool file_exists(const std::string& path) { return file_mode(path) >= 0; }

std::string new_key_text() { return internal::MasterKey::generate()->to_base64(); }

std::string key_id_of(const std::string& key_text) {
  auto k = internal::MasterKey::from_base64(key_text, "test key");
  return k ? k->id() : "";
}

ConnectionRecord sample_record(const std::string& name) {
  ConnectionRecord r;
  r.name = name;
  r.connector = "restream";
  r.state = ConnectionState::kActive;
  r.settings = {{"api_base", "https://api.example.test/v2"}, {"token_url", "https://example.test/token"}};
  r.scopes = {"profile.read", "channel.write"};
  r.access_expires_at = 1'900'000'000;
  r.refresh_expires_at = 1'930'000'000;
  return r;
}

}  // namespace weft::vault::testing
