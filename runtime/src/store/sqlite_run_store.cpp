// SQLite implementation of RunStore. One connection; writes go through group commit: every
// write call queues its change and waits, and whichever writer leads commits all queued changes
// in one BEGIN IMMEDIATE..COMMIT. A failed write (a reused id, a missing run) is undone and
// reported to its caller alone: the batch is then applied again with each write inside its own
// SAVEPOINT. One WAL append and one lock round per
// batch instead of per write is what lets many concurrent runs record every step without the
// store becoming the daemon's bottleneck. Writes use the raw sqlite3 handle with statements
// prepared once; reads (rare, not on the run path) keep Poco::Data. WAL lets readers in other
// processes (a CLI beside the daemon) proceed, and the busy timeout makes writers wait instead of
// failing.
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/SQLite/Utility.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/Tuple.h>
#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "core/log.hpp"
#include "core/redact.hpp"
#include "store/group_commit.hpp"
#include "store/run_store.hpp"
#include "store/write_op.hpp"

namespace weft::store {

namespace {

using Poco::Data::Keywords::into;
using Poco::Data::Keywords::now;
using Poco::Data::Keywords::use;

// Version 2 (this one) keys runs and steps by their primary keys directly (WITHOUT ROWID), and
// indexes only the runs still `running` by status, so recording a one-step run touches about 7
// b-tree pages instead of 11: runs and steps lose their separate primary-key indexes, and a run's
// finish no longer moves an entry in a status index. Version 1 stores are migrated on open.
constexpr int kSchemaVersion = 2;
constexpr int kBusyTimeoutMs = 5000;

constexpr const char* kRunsColumns =
    "(id TEXT PRIMARY KEY, workflow TEXT NOT NULL, workflow_file TEXT NOT NULL, status TEXT NOT NULL,"
    " inputs TEXT NOT NULL, trigger TEXT NOT NULL, error TEXT NOT NULL, started_at INTEGER NOT NULL,"
    " finished_at INTEGER NOT NULL) WITHOUT ROWID";
constexpr const char* kStepsColumns =
    "(run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, idx INTEGER NOT NULL,"
    " step_id TEXT NOT NULL, uses TEXT NOT NULL, status TEXT NOT NULL, input TEXT NOT NULL,"
    " output TEXT NOT NULL, error TEXT NOT NULL, started_at INTEGER NOT NULL, finished_at INTEGER NOT NULL,"
    " duration_us INTEGER NOT NULL, PRIMARY KEY (run_id, idx)) WITHOUT ROWID";
// list_runs pages through runs_by_start; resume_unfinished finds the `running` ones in the
// partial index, which holds only them.
constexpr const char* kRunsByStart = "CREATE INDEX runs_by_start ON runs(started_at)";
constexpr const char* kRunsRunning = "CREATE INDEX runs_running ON runs(status) WHERE status = 'running'";

// A new store.
std::vector<std::string> schema_v2() {
  return {std::string("CREATE TABLE runs ") + kRunsColumns,
          std::string("CREATE TABLE steps ") + kStepsColumns,
          kRunsByStart,
          kRunsRunning,
          "CREATE TABLE state (scope TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
          " updated_at INTEGER NOT NULL, PRIMARY KEY (scope, key))"};
}

// Version 1 to 2, in one transaction with foreign keys off: SQLite's documented way to change a
// table's definition (build the new table, copy, drop the old one, rename). Every row keeps its
// values; among runs started in the same millisecond, id order replaces v1's insertion order.
std::vector<std::string> migrate_v1_to_v2() {
  return {std::string("CREATE TABLE runs_v2 ") + kRunsColumns,
          "INSERT INTO runs_v2 SELECT id, workflow, workflow_file, status, inputs, trigger, error,"
          " started_at, finished_at FROM runs",
          std::string("CREATE TABLE steps_v2 ") + kStepsColumns,
          "INSERT INTO steps_v2 SELECT run_id, idx, step_id, uses, status, input, output, error,"
          " started_at, finished_at, duration_us FROM steps",
          "DROP TABLE steps",
          "DROP TABLE runs",
          "ALTER TABLE runs_v2 RENAME TO runs",
          "ALTER TABLE steps_v2 RENAME TO steps",
          kRunsByStart,
          kRunsRunning};
}

// The write path's statements, prepared once per connection. Indexes into Statements::stmts.
enum class Sql : std::size_t {
  kBegin,
  kCommit,
  kRollback,
  kSavepoint,
  kRelease,
  kRollbackToSavepoint,
  kInsertRun,
  kPutStep,
  kSetRunStatus,
  kStateSet,
  kStateDelete,
  kCount,
};

constexpr std::array<const char*, static_cast<std::size_t>(Sql::kCount)> kWriteSql = {
    "BEGIN IMMEDIATE",
    "COMMIT",
    "ROLLBACK",
    "SAVEPOINT w",
    "RELEASE w",
    "ROLLBACK TO w",
    "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "INSERT OR REPLACE INTO steps VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "UPDATE runs SET status = ?, error = ?, finished_at = ? WHERE id = ?",
    "INSERT INTO state (scope, key, value, updated_at) VALUES (?, ?, ?, ?)"
    " ON CONFLICT(scope, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    "DELETE FROM state WHERE scope = ? AND key = ?",
};

Result<Json> loaded_json(const std::string& text, const std::string& what) {
  if (text.empty() || text == "null") return Json();
  auto v = json::parse(text);
  if (!v) return Status(Code::kDataLoss, "stored " + what + " is not valid JSON: " + v.status().message());
  return v;
}

using RunRow = Poco::Tuple<std::string, std::string, std::string, std::string, std::string, std::string,
                           std::string, Poco::Int64, Poco::Int64>;
using StepRow = Poco::Tuple<int, std::string, std::string, std::string, std::string, std::string, std::string,
                            Poco::Int64, Poco::Int64, Poco::Int64>;

Result<RunRecord> from_row(const RunRow& r) {
  RunRecord run;
  run.id = r.get<0>();
  run.workflow = r.get<1>();
  run.workflow_file = r.get<2>();
  auto st = run_status_from(r.get<3>());
  if (!st) return Status(Code::kDataLoss, "run " + run.id + " has an unknown status '" + r.get<3>() + "'");
  run.status = *st;
  auto inputs = loaded_json(r.get<4>(), "inputs");
  if (!inputs) return inputs.status();
  run.inputs = *inputs;
  auto trigger = loaded_json(r.get<5>(), "trigger");
  if (!trigger) return trigger.status();
  run.trigger = *trigger;
  run.error = r.get<6>();
  run.started_at_ms = r.get<7>();
  run.finished_at_ms = r.get<8>();
  return run;
}

// Binds one positional parameter; strings must outlive the step (SQLITE_STATIC).
void bind_one(sqlite3_stmt* st, int i, const std::string& v) {
  sqlite3_bind_text(st, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
}
void bind_one(sqlite3_stmt* st, int i, std::int64_t v) { sqlite3_bind_int64(st, i, v); }

// WAL checkpoints on a thread of their own. SQLite's automatic checkpoint runs inside the commit
// that takes the WAL past 1000 pages: that writer copies the pages into the database file and
// syncs it while it leads a batch, so every run queued behind it waits (a few ms, every ~150
// one-step runs). Here a commit only signals (sqlite3_wal_hook) and this thread, on a connection
// of its own, runs PASSIVE checkpoints, which block neither writers nor readers. A PASSIVE
// checkpoint can only lag behind a steady stream of commits, so the WAL cannot start over from
// its beginning; once it holds kInlineFrames pages the committing writer checkpoints inline, as
// SQLite would, which by then has little left to copy. Without its connection (it could not be
// opened) the writer checkpoints inline at kFrames, which is SQLite's own behaviour.
class Checkpointer {
 public:
  static constexpr int kFrames = 1000;        // SQLite's default wal_autocheckpoint
  static constexpr int kInlineFrames = 4000;  // about 16 MB of WAL at 4 KiB pages

  explicit Checkpointer(const std::string& path) {
    // A connection learns the file is in WAL mode when it first reads it; until then a
    // checkpoint through it does nothing (and says the database is not in WAL mode). Without this
    // connection the store checkpoints inline, as SQLite would.
    const bool opened =
        sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) == SQLITE_OK &&
        sqlite3_busy_timeout(db_, kBusyTimeoutMs) == SQLITE_OK &&
        sqlite3_exec(db_, "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr) == SQLITE_OK;
    if (!opened) {
      sqlite3_close(db_);
      db_ = nullptr;
      return;
    }
    thread_ = std::thread([this] { loop(); });
  }
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;
  ~Checkpointer() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
    sqlite3_close(db_);
  }

  // Called from the WAL hook after every commit (on the committing thread, which holds the
  // store's connection lock) with the pages now in the WAL. True: the caller checkpoints inline.
  bool committed(int wal_pages) {
    if (wal_pages >= kInlineFrames || (db_ == nullptr && wal_pages >= kFrames)) return true;
    if (wal_pages < signalled_at_) signalled_at_ = 0;  // the WAL started over
    // One background pass per kFrames new pages, as often as SQLite's own would run.
    if (wal_pages - signalled_at_ >= kFrames) {
      signalled_at_ = wal_pages;
      {
        std::lock_guard lock(mu_);
        wanted_ = true;
      }
      cv_.notify_one();
    }
    return false;
  }

 private:
  void loop() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [this] { return stop_ || wanted_; });
      if (stop_) return;
      wanted_ = false;
      lock.unlock();
      // SQLITE_BUSY (another process is checkpointing) or an I/O error: the next commit asks
      // again, and the inline checkpoint remains as the backstop.
      sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
      lock.lock();
    }
  }

  sqlite3* db_ = nullptr;  // used by the thread alone once it runs
  int signalled_at_ = 0;   // WAL pages at the last signal; the committing thread's alone
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;    // guarded by mu_
  bool wanted_ = false;  // guarded by mu_
  std::thread thread_;
};

class SqliteRunStore final : public SqliteBatchStore {
 public:
  SqliteRunStore(std::string path, std::unique_ptr<Poco::Data::Session> session,
                 std::array<sqlite3_stmt*, static_cast<std::size_t>(Sql::kCount)> stmts)
      : path_(std::move(path)),
        session_(std::move(session)),
        db_(Poco::Data::SQLite::Utility::dbHandle(*session_)),
        stmts_(stmts),
        checkpointer_(std::make_unique<Checkpointer>(path_)),
        commits_([this](std::span<GroupCommit::Write* const> batch) { (void)commit_batch(batch); }) {
    // Replaces SQLite's automatic checkpoint (which is itself a WAL hook) on this connection.
    sqlite3_wal_hook(db_, &SqliteRunStore::on_wal_commit, this);
  }

  SqliteRunStore(const SqliteRunStore&) = delete;
  SqliteRunStore& operator=(const SqliteRunStore&) = delete;

  ~SqliteRunStore() override {
    checkpointer_.reset();  // its connection closes first; the last one to close checkpoints the WAL
    // Before the session closes the connection, which refuses to close with live statements.
    for (sqlite3_stmt* st : stmts_) sqlite3_finalize(st);
  }

  Status create_run(const RunRecord& run) override { return submit(WriteOp::create_run(run)); }

  Status set_run_status(const std::string& run_id, RunStatus status, const std::string& error,
                        std::int64_t finished_at_ms) override {
    return submit(WriteOp::set_status(run_id, status, error, finished_at_ms));
  }

  Status put_step(const std::string& run_id, const StepRecord& step) override {
    return submit(WriteOp::put_steps(run_id, {&step}, nullptr));
  }

  Status put_steps(const std::string& run_id, const std::vector<const StepRecord*>& steps,
                   const Finish* finish) override {
    return submit(WriteOp::put_steps(run_id, steps, finish));
  }

  Result<RunRecord> get_run(const std::string& run_id) const override {
    std::lock_guard lock(db_mu_);
    try {
      std::vector<RunRow> rows;
      std::string id = run_id;
      *session_
          << "SELECT id, workflow, workflow_file, status, inputs, trigger, error, started_at, finished_at"
             " FROM runs WHERE id = ?",
          use(id), into(rows), now;
      if (rows.empty()) return Status(Code::kNotFound, "no run " + run_id + " in " + path_);
      auto run = from_row(rows[0]);
      if (!run) return run;
      std::vector<StepRow> steps;
      *session_
          << "SELECT idx, step_id, uses, status, input, output, error, started_at, finished_at, duration_us"
             " FROM steps WHERE run_id = ? ORDER BY idx",
          use(id), into(steps), now;
      for (const auto& r : steps) {
        StepRecord step;
        step.index = r.get<0>();
        step.step_id = r.get<1>();
        step.uses = r.get<2>();
        auto st = step_status_from(r.get<3>());
        if (!st)
          return Status(Code::kDataLoss,
                        "step " + step.step_id + " has an unknown status '" + r.get<3>() + "'");
        step.status = *st;
        auto in = loaded_json(r.get<4>(), "step input");
        if (!in) return in.status();
        step.input = *in;
        auto out = loaded_json(r.get<5>(), "step output");
        if (!out) return out.status();
        step.output = *out;
        step.error = r.get<6>();
        step.started_at_ms = r.get<7>();
        step.finished_at_ms = r.get<8>();
        step.duration_us = r.get<9>();
        run->steps.push_back(std::move(step));
      }
      return run;
    } catch (const Poco::Exception& e) {
      return Status(Code::kUnavailable, path_ + ": cannot read run: " + e.displayText());
    }
  }

  Result<std::vector<RunRecord>> list_runs(const RunQuery& query) const override {
    std::lock_guard lock(db_mu_);
    try {
      std::vector<RunRow> rows;
      std::string wf = query.workflow;
      int limit = static_cast<int>(std::min<std::size_t>(query.limit, 100000));
      // The status is a literal (one of to_string's fixed words), so that SQLite sees
      // `status = 'running'` and can use the partial index of running runs.
      const std::string by_status = query.status ? std::string(" AND status = '") + to_string(*query.status) + "'" : "";
      *session_
          << "SELECT id, workflow, workflow_file, status, inputs, trigger, error, started_at, finished_at"
             " FROM runs WHERE (? = '' OR workflow = ?)" + by_status +
                 " ORDER BY started_at DESC, id DESC LIMIT ?",
          use(wf), use(wf), use(limit), into(rows), now;
      std::vector<RunRecord> out;
      for (const auto& r : rows) {
        auto run = from_row(r);
        if (!run) return run.status();
        out.push_back(std::move(*run));
      }
      return out;
    } catch (const Poco::Exception& e) {
      return Status(Code::kUnavailable, path_ + ": cannot list runs: " + e.displayText());
    }
  }

  Result<std::optional<std::string>> state_get(const std::string& scope,
                                               const std::string& key) const override {
    std::lock_guard lock(db_mu_);
    try {
      std::vector<std::string> values;
      std::string sc = scope, k = key;
      *session_ << "SELECT value FROM state WHERE scope = ? AND key = ?", use(sc), use(k), into(values), now;
      if (values.empty()) return std::optional<std::string>();
      return std::optional<std::string>(values[0]);
    } catch (const Poco::Exception& e) {
      return Status(Code::kUnavailable, path_ + ": cannot read state: " + e.displayText());
    }
  }

  Status state_set(const std::string& scope, const std::string& key, const std::string& value) override {
    return submit(WriteOp::state_set(scope, key, value));
  }

  Status state_delete(const std::string& scope, const std::string& key) override {
    return submit(WriteOp::state_delete(scope, key));
  }

  Status apply_batch(std::span<const WriteOp* const> ops, std::span<Status> statuses) override {
    std::vector<std::function<Status()>> applies;
    applies.reserve(ops.size());
    for (const WriteOp* op : ops) applies.emplace_back([this, op] { return apply_op(*op); });
    std::vector<GroupCommit::Write> writes(ops.size());
    std::vector<GroupCommit::Write*> batch(ops.size());
    for (std::size_t i = 0; i < ops.size(); ++i) {
      writes[i].apply = &applies[i];
      batch[i] = &writes[i];
    }
    Status txn = commit_batch(batch);
    for (std::size_t i = 0; i < ops.size() && i < statuses.size(); ++i) statuses[i] = std::move(writes[i].status);
    return txn;
  }

 private:
  // Queues op in group commit; returns once the batch holding it was committed.
  Status submit(const WriteOp& op) {
    const std::function<Status()> apply = [&] { return apply_op(op); };
    return commits_.submit(apply);
  }

  // One write, inside the batch's transaction (db_mu_ held).
  Status apply_op(const WriteOp& op) {
    switch (op.kind) {
      case WriteOp::Kind::kCreateRun: {
        if (int rc = step(Sql::kInsertRun, op.key, op.workflow, op.workflow_file, op.status, op.inputs, op.trigger,
                          op.error, op.started, op.finished);
            rc != SQLITE_DONE) {
          if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
            return Status(Code::kAlreadyExists, "run " + op.key + " already exists");
          return failure("create run");
        }
        for (const auto& s : op.steps) {
          if (Status st = insert_step(op.key, s, "create run"); !st.ok()) return st;
        }
        return Status::Ok();
      }
      case WriteOp::Kind::kPutSteps:
        for (const auto& row : op.steps) {
          if (Status s = insert_step(op.key, row, "record step"); !s.ok()) return s;
        }
        return op.finish ? update_run_status(op.key, op.status, op.error, op.finished) : Status::Ok();
      case WriteOp::Kind::kSetStatus:
        return update_run_status(op.key, op.status, op.error, op.finished);
      case WriteOp::Kind::kStateSet:
        return step(Sql::kStateSet, op.key, op.name, op.value, op.updated) == SQLITE_DONE ? Status::Ok()
                                                                                           : failure("write state");
      case WriteOp::Kind::kStateDelete:
        return step(Sql::kStateDelete, op.key, op.name) == SQLITE_DONE ? Status::Ok() : failure("delete state");
    }
    return Status(Code::kInternal, "unknown write");
  }

  // Leader only. One transaction for the whole batch. Writes almost never fail, so the batch is
  // first applied straight; only when one fails is the transaction rolled back and the batch
  // applied again with a savepoint around each write, so the failed one is undone alone and the
  // others still commit. (Two statements fewer per write on the common path.)
  // Returns the transaction's own status: not ok when nothing was committed.
  Status commit_batch(std::span<GroupCommit::Write* const> batch) {
    std::lock_guard lock(db_mu_);
    Status txn;
    if (try_batch(batch, false, txn) || batch.size() == 1) return txn;
    try_batch(batch, true, txn);
    return txn;
  }

  // One attempt at the batch: BEGIN, every write (each in a savepoint when `savepoints`), COMMIT.
  // Returns false when a write failed without savepoints: the transaction was rolled back and the
  // caller may retry with them. Otherwise every write's status is final, and txn is the
  // transaction's error when nothing was committed.
  bool try_batch(std::span<GroupCommit::Write* const> batch, bool savepoints, Status& txn) {
    txn = Status::Ok();
    for (auto* w : batch) w->status = Status::Ok();
    if (step(Sql::kBegin) != SQLITE_DONE) {
      txn = failure("begin a transaction");
      for (auto* w : batch) w->status = txn;
      return true;
    }
    for (GroupCommit::Write* w : batch) {
      if (savepoints && step(Sql::kSavepoint) != SQLITE_DONE) {
        txn = abort_batch(batch, failure("open a savepoint"));
        return true;
      }
      w->status = apply_one(*w);
      if (sqlite3_get_autocommit(db_) != 0) {
        // SQLite rolled the whole transaction back (out of disk, I/O error): nothing in the
        // batch was committed, so nobody may be told otherwise.
        txn = abort_batch(batch, w->status.ok() ? failure("commit") : w->status);
        return true;
      }
      if (!savepoints) {
        if (w->status.ok()) continue;
        step(Sql::kRollback);  // undoes the writes before it too; they go again with savepoints
        return false;
      }
      if (!w->status.ok() && step(Sql::kRollbackToSavepoint) != SQLITE_DONE) {
        txn = abort_batch(batch, failure("roll back a failed write"));
        return true;
      }
      if (step(Sql::kRelease) != SQLITE_DONE) {
        txn = abort_batch(batch, failure("release a savepoint"));
        return true;
      }
    }
    if (step(Sql::kCommit) != SQLITE_DONE) txn = abort_batch(batch, failure("commit"));
    return true;
  }

  // A write that throws (out of memory while building a message) fails alone, like any other.
  Status apply_one(GroupCommit::Write& w) {
    try {
      return (*w.apply)();
    } catch (const std::exception& e) {
      return Status(Code::kUnavailable, path_ + ": cannot write: " + e.what());
    }
  }

  // Every write in batch fails with err (the failed ones keep their own error) and the
  // transaction, if SQLite has not already dropped it, is rolled back. Returns err.
  Status abort_batch(std::span<GroupCommit::Write* const> batch, const Status& err) {
    if (sqlite3_get_autocommit(db_) == 0) step(Sql::kRollback);
    for (auto* w : batch) {
      if (w->status.ok()) w->status = err;
    }
    return err;
  }

  // Binds args to a prepared write statement, runs it to completion and resets it. Returns
  // SQLITE_DONE, or the extended error code (the message stays in sqlite3_errmsg until the next call).
  template <class... Args>
  int step(Sql which, const Args&... args) {
    sqlite3_stmt* st = stmts_[static_cast<std::size_t>(which)];
    int i = 0;
    (bind_one(st, ++i, args), ...);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) rc = sqlite3_extended_errcode(db_);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_ROW ? SQLITE_DONE : rc;
  }

  Status failure(const char* what) const {
    return Status(Code::kUnavailable, path_ + ": cannot " + what + ": " + sqlite3_errmsg(db_));
  }

  // The run's status row, inside a batch; status and error already stored-form (redacted).
  Status update_run_status(const std::string& run_id, const std::string& status, const std::string& error,
                           std::int64_t finished_at_ms) {
    if (step(Sql::kSetRunStatus, status, error, Poco::Int64{finished_at_ms}, run_id) != SQLITE_DONE)
      return failure("finish run");
    if (sqlite3_changes(db_) == 0) return Status(Code::kNotFound, "no run " + run_id);
    return Status::Ok();
  }

  Status insert_step(const std::string& run_id, const StoredStep& s, const char* what) {
    int rc = step(Sql::kPutStep, run_id, s.idx, s.step_id, s.uses, s.status, s.input, s.output, s.error,
                  s.started, s.finished, s.duration);
    if (rc == SQLITE_DONE) return Status::Ok();
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) return Status(Code::kNotFound, "no run " + run_id);
    return failure(what);
  }

  std::string path_;
  mutable std::mutex db_mu_;  // the connection: held by readers and by the leader for a whole batch
  std::unique_ptr<Poco::Data::Session> session_;  // guarded by db_mu_
  sqlite3* db_;                                   // session_'s connection; guarded by db_mu_
  std::array<sqlite3_stmt*, static_cast<std::size_t>(Sql::kCount)> stmts_;  // guarded by db_mu_
  std::unique_ptr<Checkpointer> checkpointer_;
  GroupCommit commits_;

  // SQLite calls this on the committing thread (the leader, db_mu_ held) after each commit.
  static int on_wal_commit(void* self, sqlite3* db, const char* /*schema*/, int wal_pages) {
    if (static_cast<SqliteRunStore*>(self)->checkpointer_->committed(wal_pages))
      sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    return SQLITE_OK;
  }
};

}  // namespace

const char* to_string(RunStatus s) {
  switch (s) {
    case RunStatus::kRunning:
      return "running";
    case RunStatus::kSucceeded:
      return "succeeded";
    case RunStatus::kFailed:
      return "failed";
    case RunStatus::kInterrupted:
      return "interrupted";
  }
  return "failed";
}

const char* to_string(StepStatus s) {
  switch (s) {
    case StepStatus::kPending:
      return "pending";
    case StepStatus::kRunning:
      return "running";
    case StepStatus::kSucceeded:
      return "succeeded";
    case StepStatus::kFailed:
      return "failed";
    case StepStatus::kSkipped:
      return "skipped";
  }
  return "failed";
}

std::optional<RunStatus> run_status_from(const std::string& s) {
  for (auto v : {RunStatus::kRunning, RunStatus::kSucceeded, RunStatus::kFailed, RunStatus::kInterrupted}) {
    if (s == to_string(v)) return v;
  }
  return std::nullopt;
}

std::optional<StepStatus> step_status_from(const std::string& s) {
  for (auto v : {StepStatus::kPending, StepStatus::kRunning, StepStatus::kSucceeded, StepStatus::kFailed,
                 StepStatus::kSkipped}) {
    if (s == to_string(v)) return v;
  }
  return std::nullopt;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// UUIDv7 (RFC 9562) with rand_a used as a 12-bit counter (its "method 1"): within one process
// ids strictly increase, also inside one millisecond, so ordering runs by id is ordering them by
// creation. The counter starts at a random value below 2048 each new millisecond; if it runs
// out, the timestamp moves a millisecond ahead of the clock rather than repeat.
std::string new_run_id() {
  thread_local std::mt19937_64 rng = [] {
    std::random_device rd;
    std::seed_seq seed{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
    return std::mt19937_64(seed);
  }();
  static std::atomic<std::uint64_t> last{0};  // (48-bit ms << 12) | counter of the newest id
  const std::uint64_t r1 = rng(), r2 = rng();
  const std::uint64_t fresh = ((static_cast<std::uint64_t>(now_ms()) & 0xFFFFFFFFFFFFULL) << 12) | (r1 & 0x7FF);
  std::uint64_t prev = last.load(std::memory_order_relaxed), next = 0;
  do {
    next = std::max(fresh, prev + 1);
  } while (!last.compare_exchange_weak(prev, next, std::memory_order_relaxed));
  const std::uint64_t ms = next >> 12, counter = next & 0xFFF;
  const std::uint64_t hi = (ms << 16) | 0x7000 | counter;                         // time, version 7, counter
  const std::uint64_t lo = 0x8000000000000000ULL | (r2 & 0x3FFFFFFFFFFFFFFFULL);  // variant 10, rand_b
  char out[37];
  std::snprintf(out, sizeof out, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xFFFF), static_cast<unsigned>(hi & 0xFFFF),
                static_cast<unsigned>(lo >> 48), static_cast<unsigned long long>(lo & 0xFFFFFFFFFFFFULL));
  return out;
}

std::string stored_json(const Json& v) { return redact::apply(json::stringify(v)); }

StoredStep stored_step(const StepRecord& step) {
  return {step.index,
          step.step_id,
          step.uses,
          to_string(step.status),
          stored_json(step.input),
          stored_json(step.output),
          redact::apply(step.error),
          step.started_at_ms,
          step.finished_at_ms,
          step.duration_us};
}

WriteOp WriteOp::create_run(const RunRecord& run) {
  WriteOp op;
  op.kind = Kind::kCreateRun;
  op.key = run.id;
  op.workflow = run.workflow;
  op.workflow_file = run.workflow_file;
  op.status = to_string(run.status);
  op.inputs = stored_json(run.inputs);
  op.trigger = stored_json(run.trigger);
  op.error = redact::apply(run.error);
  op.started = run.started_at_ms;
  op.finished = run.finished_at_ms;
  op.steps.reserve(run.steps.size());
  for (const auto& step : run.steps) op.steps.push_back(stored_step(step));
  return op;
}

WriteOp WriteOp::put_steps(const std::string& run_id, const std::vector<const StepRecord*>& steps,
                           const RunStore::Finish* finish) {
  WriteOp op;
  op.kind = Kind::kPutSteps;
  op.key = run_id;
  op.steps.reserve(steps.size());
  for (const StepRecord* s : steps) op.steps.push_back(stored_step(*s));
  if (finish != nullptr) {
    op.finish = true;
    op.status = to_string(finish->status);
    op.error = redact::apply(finish->error);
    op.finished = finish->finished_at_ms;
  }
  return op;
}

WriteOp WriteOp::set_status(const std::string& run_id, RunStatus status, const std::string& error,
                            std::int64_t finished_at_ms) {
  WriteOp op;
  op.kind = Kind::kSetStatus;
  op.key = run_id;
  op.status = to_string(status);
  op.error = redact::apply(error);
  op.finished = finished_at_ms;
  return op;
}

WriteOp WriteOp::state_set(const std::string& scope, const std::string& key, const std::string& value) {
  WriteOp op;
  op.kind = Kind::kStateSet;
  op.key = scope;
  op.name = key;
  op.value = value;
  op.updated = now_ms();
  return op;
}

WriteOp WriteOp::state_delete(const std::string& scope, const std::string& key) {
  WriteOp op;
  op.kind = Kind::kStateDelete;
  op.key = scope;
  op.name = key;
  return op;
}

Result<std::unique_ptr<RunStore>> open_sqlite(const std::string& path) {
  auto store = open_sqlite_batch(path);
  if (!store) return store.status();
  return std::unique_ptr<RunStore>(std::move(*store));
}

Result<std::unique_ptr<SqliteBatchStore>> open_sqlite_batch(const std::string& path) {
  static std::once_flag registered;
  std::call_once(registered, [] { Poco::Data::SQLite::Connector::registerConnector(); });
  try {
    auto session = std::make_unique<Poco::Data::Session>("SQLite", path);
    Poco::Data::Session& s = *session;
    int version = 0;
    s << "PRAGMA user_version", into(version), now;  // fails here when the file is not SQLite
    if (version > kSchemaVersion) {
      return Status(Code::kFailedPrecondition, path + ": run store schema version " +
                                                   std::to_string(version) +
                                                   " is newer than this weft understands (" +
                                                   std::to_string(kSchemaVersion) + "); upgrade weft");
    }
    std::string mode;
    s << "PRAGMA journal_mode=WAL", into(mode), now;
    int timeout = 0;
    s << "PRAGMA busy_timeout=" + std::to_string(kBusyTimeoutMs), into(timeout), now;
    // In WAL mode NORMAL keeps the database consistent across a crash; only the last commits may
    // be lost on power failure, which resume treats as steps that had not finished.
    s << "PRAGMA synchronous=NORMAL", now;
    if (version < kSchemaVersion) {
      // Foreign keys stay off while tables are rebuilt (dropping v1's runs must not cascade into
      // the copied steps). IMMEDIATE takes the write lock before the version is read again, so
      // two processes opening an old store at once migrate it once.
      s << "PRAGMA foreign_keys=OFF", now;
      s << "BEGIN IMMEDIATE", now;
      try {
        s << "PRAGMA user_version", into(version), now;
        if (version == 0) {
          for (const std::string& stmt : schema_v2()) s << stmt, now;
        } else if (version == 1) {
          log::info("store", "upgrading the run store to schema version 2", {{"file", path}});
          for (const std::string& stmt : migrate_v1_to_v2()) s << stmt, now;
          std::vector<std::string> broken;
          s << "SELECT \"table\" FROM pragma_foreign_key_check", into(broken), now;
          if (!broken.empty())
            throw Poco::Exception("the upgraded store fails its foreign-key check (table " + broken[0] + ")");
        }
        if (version < kSchemaVersion) s << "PRAGMA user_version=" + std::to_string(kSchemaVersion), now;
        s << "COMMIT", now;
      } catch (...) {
        try {
          s << "ROLLBACK", now;
        } catch (const Poco::Exception&) {  // SQLite rolled back already; the first error is the one to report
        }
        throw;
      }
    }
    s << "PRAGMA foreign_keys=ON", now;
    std::array<sqlite3_stmt*, static_cast<std::size_t>(Sql::kCount)> stmts{};
    sqlite3* db = Poco::Data::SQLite::Utility::dbHandle(s);
    for (std::size_t i = 0; i < stmts.size(); ++i) {
      if (sqlite3_prepare_v3(db, kWriteSql[i], -1, SQLITE_PREPARE_PERSISTENT, &stmts[i], nullptr) !=
          SQLITE_OK) {
        std::string err = sqlite3_errmsg(db);
        for (sqlite3_stmt* st : stmts) sqlite3_finalize(st);
        return Status(Code::kUnavailable, path + ": cannot prepare the run store's statements: " + err);
      }
    }
    return std::unique_ptr<SqliteBatchStore>(std::make_unique<SqliteRunStore>(path, std::move(session), stmts));
  } catch (const Poco::Exception& e) {
    return Status(Code::kUnavailable, path + ": cannot open the run store: " + e.displayText() +
                                          " (hint: the file must be a weft runs database or absent)");
  } catch (const std::exception& e) {
    return Status(Code::kUnavailable, path + ": cannot open the run store: " + e.what());
  }
}

}  // namespace weft::store
