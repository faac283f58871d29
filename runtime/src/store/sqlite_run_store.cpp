// SQLite implementation of RunStore (Poco::Data::SQLite). One connection guarded by a mutex: the
// store's writes are small and short, and SQLite serialises writers anyway; WAL lets readers in
// other processes (a CLI beside the daemon) proceed, and the busy timeout makes writers wait
// instead of failing.
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/Tuple.h>

#include <chrono>
#include <mutex>

#include "core/redact.hpp"
#include "store/run_store.hpp"

namespace weft::store {

namespace {

using Poco::Data::Keywords::into;
using Poco::Data::Keywords::now;
using Poco::Data::Keywords::use;

constexpr int kSchemaVersion = 1;
constexpr int kBusyTimeoutMs = 5000;

constexpr const char* kSchema[] = {
    "CREATE TABLE IF NOT EXISTS runs (id TEXT PRIMARY KEY, workflow TEXT NOT NULL, workflow_file TEXT NOT "
    "NULL,"
    " status TEXT NOT NULL, inputs TEXT NOT NULL, trigger TEXT NOT NULL, error TEXT NOT NULL,"
    " started_at INTEGER NOT NULL, finished_at INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS runs_by_start ON runs(started_at)",
    "CREATE INDEX IF NOT EXISTS runs_by_status ON runs(status)",
    "CREATE TABLE IF NOT EXISTS steps (run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " idx INTEGER NOT NULL, step_id TEXT NOT NULL, uses TEXT NOT NULL, status TEXT NOT NULL,"
    " input TEXT NOT NULL, output TEXT NOT NULL, error TEXT NOT NULL, started_at INTEGER NOT NULL,"
    " finished_at INTEGER NOT NULL, duration_us INTEGER NOT NULL, PRIMARY KEY (run_id, idx))",
    "CREATE TABLE IF NOT EXISTS state (scope TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
    " updated_at INTEGER NOT NULL, PRIMARY KEY (scope, key))",
};

std::string stored_json(const Json& v) { return redact::apply(json::stringify(v)); }

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

class SqliteRunStore final : public RunStore {
 public:
  SqliteRunStore(std::string path, std::unique_ptr<Poco::Data::Session> session)
      : path_(std::move(path)), session_(std::move(session)) {}

  Status create_run(const RunRecord& run) override {
    return guarded("create run", [&] {
      Poco::Data::Session& s = *session_;
      if (exists(run.id)) return Status(Code::kAlreadyExists, "run " + run.id + " already exists");
      s.begin();
      try {
        std::string id = run.id, wf = run.workflow, file = run.workflow_file, status = to_string(run.status);
        std::string inputs = stored_json(run.inputs), trigger = stored_json(run.trigger),
                    error = redact::apply(run.error);
        Poco::Int64 started = run.started_at_ms, finished = run.finished_at_ms;
        s << "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", use(id), use(wf), use(file), use(status),
            use(inputs), use(trigger), use(error), use(started), use(finished), now;
        for (const auto& step : run.steps) insert_step(run.id, step);
        s.commit();
      } catch (...) {
        s.rollback();
        throw;
      }
      return Status::Ok();
    });
  }

  Status set_run_status(const std::string& run_id, RunStatus status, const std::string& error,
                        std::int64_t finished_at_ms) override {
    return guarded("finish run", [&] {
      std::string id = run_id, st = to_string(status), err = redact::apply(error);
      Poco::Int64 fin = finished_at_ms;
      Poco::Data::Statement stmt(*session_);
      stmt << "UPDATE runs SET status = ?, error = ?, finished_at = ? WHERE id = ?", use(st), use(err),
          use(fin), use(id);
      if (stmt.execute() == 0) return Status(Code::kNotFound, "no run " + run_id);
      return Status::Ok();
    });
  }

  Status put_step(const std::string& run_id, const StepRecord& step) override {
    return guarded("record step", [&] {
      insert_step(run_id, step);
      return Status::Ok();
    });
  }

  Result<RunRecord> get_run(const std::string& run_id) const override {
    std::lock_guard lock(mu_);
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
    std::lock_guard lock(mu_);
    try {
      std::vector<RunRow> rows;
      std::string wf = query.workflow;
      std::string st = query.status ? to_string(*query.status) : "";
      int limit = static_cast<int>(std::min<std::size_t>(query.limit, 100000));
      *session_
          << "SELECT id, workflow, workflow_file, status, inputs, trigger, error, started_at, finished_at"
             " FROM runs WHERE (? = '' OR workflow = ?) AND (? = '' OR status = ?)"
             " ORDER BY started_at DESC, rowid DESC LIMIT ?",
          use(wf), use(wf), use(st), use(st), use(limit), into(rows), now;
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
    std::lock_guard lock(mu_);
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
    return guarded("write state", [&] {
      std::string sc = scope, k = key, v = value;
      Poco::Int64 t = now_ms();
      *session_ << "INSERT INTO state (scope, key, value, updated_at) VALUES (?, ?, ?, ?)"
                   " ON CONFLICT(scope, key) DO UPDATE SET value = excluded.value, updated_at = "
                   "excluded.updated_at",
          use(sc), use(k), use(v), use(t), now;
      return Status::Ok();
    });
  }

  Status state_delete(const std::string& scope, const std::string& key) override {
    return guarded("delete state", [&] {
      std::string sc = scope, k = key;
      *session_ << "DELETE FROM state WHERE scope = ? AND key = ?", use(sc), use(k), now;
      return Status::Ok();
    });
  }

 private:
  template <class F>
  Status guarded(const char* what, F&& f) {
    std::lock_guard lock(mu_);
    try {
      return f();
    } catch (const Poco::Exception& e) {
      return Status(Code::kUnavailable, path_ + ": cannot " + what + ": " + e.displayText());
    } catch (const std::exception& e) {
      return Status(Code::kUnavailable, path_ + ": cannot " + what + ": " + e.what());
    }
  }

  bool exists(const std::string& run_id) {
    int n = 0;
    std::string id = run_id;
    *session_ << "SELECT COUNT(*) FROM runs WHERE id = ?", use(id), into(n), now;
    return n > 0;
  }

  // Caller holds mu_. Throws Poco exceptions.
  void insert_step(const std::string& run_id, const StepRecord& step) {
    std::string id = run_id, sid = step.step_id, uses = step.uses, st = to_string(step.status);
    std::string in = stored_json(step.input), out = stored_json(step.output), err = redact::apply(step.error);
    int idx = step.index;
    Poco::Int64 started = step.started_at_ms, finished = step.finished_at_ms, dur = step.duration_us;
    *session_ << "INSERT OR REPLACE INTO steps VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", use(id), use(idx),
        use(sid), use(uses), use(st), use(in), use(out), use(err), use(started), use(finished), use(dur), now;
  }

  std::string path_;
  mutable std::mutex mu_;
  std::unique_ptr<Poco::Data::Session> session_;  // guarded by mu_
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

Result<std::unique_ptr<RunStore>> open_sqlite(const std::string& path) {
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
    s << "PRAGMA foreign_keys=ON", now;
    if (version < kSchemaVersion) {
      s.begin();
      for (const char* stmt : kSchema) s << stmt, now;
      s << "PRAGMA user_version=" + std::to_string(kSchemaVersion), now;
      s.commit();
    }
    return std::unique_ptr<RunStore>(std::make_unique<SqliteRunStore>(path, std::move(session)));
  } catch (const Poco::Exception& e) {
    return Status(Code::kUnavailable, path + ": cannot open the run store: " + e.displayText() +
                                          " (hint: the file must be a weft runs database or absent)");
  } catch (const std::exception& e) {
    return Status(Code::kUnavailable, path + ": cannot open the run store: " + e.what());
  }
}

}  // namespace weft::store
