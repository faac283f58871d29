// write_op.hpp — the run store's writes as values (internal to the store module). SqliteRunStore
// turns each RunStore write into a WriteOp in its stored form (JSON text, redacted) and applies it
// in a transaction; the journaled store (journal.cpp) also writes WriteOps to its journal file and
// hands them to SqliteBatchStore::apply_batch in large batches.
//
//   WriteOp op = WriteOp::set_status("r1", "failed", "boom", now_ms());
//   std::string bytes;  encode(op, bytes);   // the journal's record payload
//   WriteOp back;       decode(bytes, back); // false on a payload that is not one whole op
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.hpp"
#include "store/run_store.hpp"

namespace weft::store {

// A step as it goes to disk: redacted and serialised by the writer's own thread.
struct StoredStep {
  std::int64_t idx = 0;
  std::string step_id, uses, status, input, output, error;
  std::int64_t started = 0, finished = 0, duration = 0;
};
StoredStep stored_step(const StepRecord& step);
// JSON text as stored: stringified, then redacted.
std::string stored_json(const Json& v);

struct WriteOp {
  enum class Kind : std::uint8_t {
    kCreateRun = 1,  // insert run (id = key) and its steps; fails on a reused id
    kPutSteps,       // insert or replace steps of run `key`; with `finish`, set its status too
    kSetStatus,      // set status, error, finished of run `key`
    kStateSet,       // state (scope = key, key = name) = value
    kStateDelete,
  };
  Kind kind = Kind::kCreateRun;
  std::string key;  // the run id, or the state scope
  // kCreateRun: the run's columns. kPutSteps (with finish) and kSetStatus: status, error, finished.
  std::string workflow, workflow_file, status, inputs, trigger, error;
  std::int64_t started = 0, finished = 0;
  bool finish = false;            // kPutSteps: also set the run's status
  std::vector<StoredStep> steps;  // kCreateRun, kPutSteps
  std::string name, value;        // kStateSet, kStateDelete (name only)
  std::int64_t updated = 0;       // kStateSet

  static WriteOp create_run(const RunRecord& run);
  static WriteOp put_steps(const std::string& run_id, const std::vector<const StepRecord*>& steps,
                           const RunStore::Finish* finish);
  static WriteOp set_status(const std::string& run_id, RunStatus status, const std::string& error,
                            std::int64_t finished_at_ms);
  static WriteOp state_set(const std::string& scope, const std::string& key, const std::string& value);
  static WriteOp state_delete(const std::string& scope, const std::string& key);
};

// The journal's payload of one op, appended to out; decode takes exactly one payload.
void encode(const WriteOp& op, std::string& out);
bool decode(std::string_view in, WriteOp& op);

// The SQLite store as the journal's back end: reads as RunStore, writes applied in batches.
class SqliteBatchStore : public RunStore {
 public:
  // Applies ops in order in one transaction; statuses[i] is op i's own result (a failed op is
  // undone alone, as in group commit). Returns the transaction's status: not ok when nothing was
  // committed (the database is locked by another process, the disk is full ...), and then
  // statuses say nothing and the caller may apply the same ops again later.
  virtual Status apply_batch(std::span<const WriteOp* const> ops, std::span<Status> statuses) = 0;
};

Result<std::unique_ptr<SqliteBatchStore>> open_sqlite_batch(const std::string& path);

}  // namespace weft::store
