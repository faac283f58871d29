// sqlite_db.hpp — a thin RAII layer over the SQLite C API for the vault.
//
// The vault talks to libsqlite3 directly rather than through Poco::Data::SQLite: Poco 1.11's
// Session::begin() issues a deferred BEGIN (two writers can then both read, and one fails with
// SQLITE_BUSY at its first write instead of waiting), and its error mapping hides SQLITE_BUSY vs
// SQLITE_CORRUPT. The lease and rotation logic needs BEGIN IMMEDIATE and precise codes. Poco's
// DataSQLite links the same system libsqlite3, so this adds no dependency.
//
//   Db db; WEFT_RETURN_IF_ERROR(db.open(path));
//   Stmt s(db, "SELECT value FROM meta WHERE key = ?"); s.bind(1, "x");
//   while (s.step()) use(s.text(0));   WEFT_RETURN_IF_ERROR(s.status());
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.hpp"

namespace weft::vault::internal {

class Db {
 public:
  Db() = default;
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Opens (creating) path with a busy timeout so several processes can share it. Not thread-safe:
  // the owner serialises use of one Db.
  Status open(const std::string& path, int busy_timeout_ms);
  // Runs one or more statements without results.
  Status exec(const std::string& sql);
  sqlite3* raw() const { return db_; }
  // "what: sqlite message" with a code: kUnavailable for busy/locked/IO, kDataLoss for corruption.
  Status error(const std::string& what, int rc) const;

 private:
  sqlite3* db_ = nullptr;
};

class Stmt {
 public:
  Stmt(Db& db, const char* sql);
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int i, std::string_view text);
  Stmt& bind_blob(int i, std::string_view bytes);
  Stmt& bind(int i, std::int64_t v);
  Stmt& bind_null(int i);
  // True while a row is available; false when done or failed (see status()).
  bool step();
  // Runs to completion; the statement's status.
  Status run();
  Status status() const { return status_; }
  bool is_null(int col) const;
  std::string text(int col) const;
  std::string blob(int col) const;
  std::int64_t int64(int col) const;
  // Rows changed by the last run().
  int changes() const;

 private:
  Db& db_;
  sqlite3_stmt* stmt_ = nullptr;
  Status status_;
};

// BEGIN IMMEDIATE ... COMMIT; rolls back on destruction unless committed. Waits for other writers
// up to the busy timeout.
class WriteTxn {
 public:
  explicit WriteTxn(Db& db);
  ~WriteTxn();
  WriteTxn(const WriteTxn&) = delete;
  WriteTxn& operator=(const WriteTxn&) = delete;
  Status status() const { return status_; }
  Status commit();

 private:
  Db& db_;
  Status status_;
  bool open_ = false;
};

}  // namespace weft::vault::internal
