#include "vault/internal/sqlite_db.hpp"

namespace weft::vault::internal {

Db::~Db() {
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

Status Db::open(const std::string& path, int busy_timeout_ms) {
  const int rc = sqlite3_open_v2(path.c_str(), &db_,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) return error("cannot open " + path, rc);
  sqlite3_busy_timeout(db_, busy_timeout_ms);
  sqlite3_extended_result_codes(db_, 1);
  return Status::Ok();
}

Status Db::exec(const std::string& sql) {
  char* msg = nullptr;
  const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &msg);
  std::string text = msg != nullptr ? msg : "";
  sqlite3_free(msg);
  if (rc != SQLITE_OK) return error("vault.db: " + text, rc);
  return Status::Ok();
}

Status Db::error(const std::string& what, int rc) const {
  const int primary = rc & 0xff;
  std::string msg = what;
  if (db_ != nullptr) msg += std::string(": ") + sqlite3_errmsg(db_);
  switch (primary) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return {Code::kUnavailable, msg + " (another weft process holds the vault; try again)"};
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return {Code::kDataLoss, msg};
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
      return {Code::kUnavailable, msg};
    default:
      return {Code::kInternal, msg};
  }
}

Stmt::Stmt(Db& db, const char* sql) : db_(db) {
  const int rc = sqlite3_prepare_v2(db.raw(), sql, -1, &stmt_, nullptr);
  if (rc != SQLITE_OK) status_ = db.error("vault.db: preparing a statement", rc);
}

Stmt::~Stmt() { sqlite3_finalize(stmt_); }

Stmt& Stmt::bind(int i, std::string_view text) {
  if (stmt_ != nullptr) sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}
Stmt& Stmt::bind_blob(int i, std::string_view bytes) {
  if (stmt_ != nullptr) sqlite3_bind_blob(stmt_, i, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  return *this;
}
Stmt& Stmt::bind(int i, std::int64_t v) {
  if (stmt_ != nullptr) sqlite3_bind_int64(stmt_, i, v);
  return *this;
}
Stmt& Stmt::bind_null(int i) {
  if (stmt_ != nullptr) sqlite3_bind_null(stmt_, i);
  return *this;
}

bool Stmt::step() {
  if (!status_.ok() || stmt_ == nullptr) return false;
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc != SQLITE_DONE) status_ = db_.error("vault.db", rc);
  return false;
}

Status Stmt::run() {
  while (step()) {
  }
  return status_;
}

bool Stmt::is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

std::string Stmt::text(int col) const {
  const auto* p = sqlite3_column_text(stmt_, col);
  return p != nullptr ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)))
                      : std::string();
}

std::string Stmt::blob(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  return p != nullptr ? std::string(static_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)))
                      : std::string();
}

std::int64_t Stmt::int64(int col) const { return sqlite3_column_int64(stmt_, col); }

int Stmt::changes() const { return sqlite3_changes(db_.raw()); }

WriteTxn::WriteTxn(Db& db) : db_(db) {
  status_ = db_.exec("BEGIN IMMEDIATE");
  open_ = status_.ok();
}

WriteTxn::~WriteTxn() {
  if (open_) (void)db_.exec("ROLLBACK");
}

Status WriteTxn::commit() {
  if (!open_) return status_.ok() ? Status(Code::kInternal, "vault.db: commit without a transaction") : status_;
  Status s = db_.exec("COMMIT");
  if (s.ok()) open_ = false;
  return s;
}

}  // namespace weft::vault::internal
