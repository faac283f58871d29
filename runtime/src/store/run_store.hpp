// run_store.hpp — run history and connector state, behind one interface so SQLite (the embedded
// default) can be joined by PostgreSQL later without touching the executor or the daemon.
//
//   auto store = store::open_sqlite(home + "/runs.db");
//   WEFT_RETURN_IF_ERROR((*store)->create_run(run));      // before the first step starts
//   WEFT_RETURN_IF_ERROR((*store)->put_step(step));       // every status change
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/json.hpp"
#include "core/status.hpp"

namespace weft::store {

enum class RunStatus { kRunning, kSucceeded, kFailed, kInterrupted };
enum class StepStatus { kPending, kRunning, kSucceeded, kFailed, kSkipped };

// Stable lowercase names ("running", "skipped" ...) used in storage and --json output, and back.
const char* to_string(RunStatus s);
const char* to_string(StepStatus s);
std::optional<RunStatus> run_status_from(const std::string& s);
std::optional<StepStatus> step_status_from(const std::string& s);

struct StepRecord {
  int index = 0;  // position in the workflow's steps
  std::string step_id;
  std::string uses;
  StepStatus status = StepStatus::kPending;
  Json input;  // the rendered `with`
  Json output;
  std::string error;
  std::int64_t started_at_ms = 0;   // epoch milliseconds; 0 = not started
  std::int64_t finished_at_ms = 0;  // 0 = not finished
  std::int64_t duration_us = 0;     // measured on a monotonic clock
};

struct RunRecord {
  std::string id;
  std::string workflow;       // the workflow's name
  std::string workflow_file;  // where it was loaded from (resume reloads it)
  RunStatus status = RunStatus::kRunning;
  Json inputs;
  Json trigger;
  std::string error;
  std::int64_t started_at_ms = 0;
  std::int64_t finished_at_ms = 0;
  std::vector<StepRecord> steps;  // ordered by index
};

struct RunQuery {
  std::string workflow;             // empty: any
  std::optional<RunStatus> status;  // nullopt: any
  std::size_t limit = 50;           // newest first
};

// Every method is thread-safe; several runs may write at once. A write returns only once its change
// is committed (a process killed right after keeps it), with that write's own Status. Stored JSON
// and error text are passed through redact::apply() by the implementation, so no known secret
// reaches the disk.
class RunStore {
 public:
  virtual ~RunStore() = default;

  // Inserts run (with its steps, usually all pending). Fails with already_exists on a reused id.
  virtual Status create_run(const RunRecord& run) = 0;
  // Sets status, error and finished_at (0 while running) of an existing run. not_found when absent.
  virtual Status set_run_status(const std::string& run_id, RunStatus status, const std::string& error,
                                std::int64_t finished_at_ms) = 0;
  // Inserts or replaces one step of a run. not_found when the run is absent.
  virtual Status put_step(const std::string& run_id, const StepRecord& step) = 0;
  // Several steps of a run inserted or replaced and, when finish is given, the run's status, error
  // and finished_at set, all in one commit (all or nothing): the executor records a finished step
  // together with the next step's start, and the last one together with the run's end (with the
  // first step's start in create_run, a run of N steps costs N + 1 commits rather than 2N + 2).
  // The default writes them one by one.
  struct Finish {
    RunStatus status = RunStatus::kSucceeded;
    std::string error;
    std::int64_t finished_at_ms = 0;
  };
  virtual Status put_steps(const std::string& run_id, const std::vector<const StepRecord*>& steps,
                           const Finish* finish) {
    for (const StepRecord* step : steps) {
      if (Status s = put_step(run_id, *step); !s.ok()) return s;
    }
    return finish ? set_run_status(run_id, finish->status, finish->error, finish->finished_at_ms) : Status::Ok();
  }
  // The run with its steps; not_found when absent, data_loss when a stored value is corrupt.
  virtual Result<RunRecord> get_run(const std::string& run_id) const = 0;
  // Runs (without steps), newest first.
  virtual Result<std::vector<RunRecord>> list_runs(const RunQuery& query) const = 0;

  // Connector / trigger state (cursors): a value per (scope, key). get gives nullopt when unset.
  virtual Result<std::optional<std::string>> state_get(const std::string& scope,
                                                       const std::string& key) const = 0;
  virtual Status state_set(const std::string& scope, const std::string& key, const std::string& value) = 0;
  virtual Status state_delete(const std::string& scope, const std::string& key) = 0;
};

// Opens (creating when missing) the SQLite store at path: WAL journal, a busy timeout, schema
// version checked and migrated. Fails with a message naming the file when it cannot be opened, is
// not a weft database, or was written by a newer weft.
Result<std::unique_ptr<RunStore>> open_sqlite(const std::string& path);

// The daemon's store: the SQLite store at path behind a write-ahead journal. A write is appended
// to the journal (`<path>.journal.<n>`, one write(2); like a SQLite commit in WAL mode with
// synchronous=NORMAL, it survives the process being killed) and a thread of the store's own
// applies the journal to SQLite in large transactions, so a run does not wait for SQLite. A write
// to a run created through this store and not yet ended returns once appended; every other write
// (state, runs of earlier processes, ids not made by new_run_id) waits until it is applied and
// returns its real status. Reads first wait until every earlier write is applied, so a read sees
// what was written before it. At open, journal files left by a killed process are applied (in
// their order; a record cut short by the kill is dropped with a warning) before anything else.
// One process at a time uses the journal (a lock file); a second one writes straight to SQLite.
struct JournalOptions {
  std::size_t segment_bytes = 8u << 20;  // a new journal file past this size; applied files are removed
  std::size_t max_pending = 20000;       // writes appended but not applied; past it writers wait (bounded)
  std::chrono::milliseconds gather{5};   // the applier waits this long for a batch to fill (a read
                                         // or a write that waits for its result cuts it short)
  std::chrono::milliseconds wait{10000};  // longest wait of a write for room, or of a read for the applier
};
Result<std::unique_ptr<RunStore>> open_journaled(const std::string& path, const JournalOptions& options = {});

// Milliseconds since the epoch (wall clock), for records.
std::int64_t now_ms();

// A new run id: a UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, a 12-bit counter, then
// 62 random bits. Ids made one after another in a process sort after one another, also within a
// millisecond, so the runs table grows at its end and runs list in creation order.
std::string new_run_id();

}  // namespace weft::store
