// executor.hpp — runs a compiled workflow's steps in order against an ActionCatalog and records
// every run and step in a RunStore (secrets redacted by the store). Holds no per-run state, so one
// Executor serves many concurrent runs; a run can be resumed from its first unfinished step.
//
//   workflow::Executor ex(catalog, store);
//   auto inputs = workflow::inputs_from_strings(wf, {"name=Ada"});
//   Result<store::RunRecord> run = ex.run(wf, {.inputs = *inputs});
#pragma once

#include <string>
#include <vector>

#include "core/json.hpp"
#include "core/status.hpp"
#include "plugin/catalog.hpp"
#include "store/run_store.hpp"
#include "workflow/workflow.hpp"

namespace weft::workflow {

struct RunRequest {
  Json inputs;         // typed, from inputs_from_strings() / inputs_from_json()
  Json trigger;        // the trigger's event (webhook body ...); null for `weft run`
  std::string run_id;  // empty: a new random id
};

class Executor {
 public:
  // Both must outlive the executor. Thread-safe: run() and resume() may be called concurrently.
  Executor(const plugin::ActionCatalog& catalog, store::RunStore& store);

  // Records the run (all steps pending) before the first step starts, then runs every step. A
  // failed step fails the run (unless continue-on-error) and skips the rest. The Result fails
  // only when the run cannot be recorded; a failed run is a RunRecord with status failed.
  Result<store::RunRecord> run(const Workflow& wf, const RunRequest& request) const;

  // Continues a recorded run from its first step that did not finish (a step that was running
  // when the process died runs again). Fails with not_found for an unknown run, and with
  // failed_precondition when the run has finished or the workflow's steps no longer match.
  Result<store::RunRecord> resume(const Workflow& wf, const std::string& run_id) const;

 private:
  // first_recorded: run.steps[first] was already written as running (with the run's insert).
  Result<store::RunRecord> execute(const Workflow& wf, store::RunRecord run, std::size_t first,
                                   bool first_recorded) const;

  const plugin::ActionCatalog& catalog_;
  store::RunStore& store_;
  Json env_;  // the process environment, read once
};

// The record a run starts as: running, every step pending, a new id unless request.run_id is set.
// Executor::run stores it before the first step; the daemon stores it before answering an async
// trigger, then resumes it.
store::RunRecord initial_run_record(const Workflow& wf, const RunRequest& request);

// Converts `--input key=value` strings to the declared types, adds defaults, and checks required
// inputs. Fails with invalid_argument naming the input and the expected type or the declared
// names.
Result<Json> inputs_from_strings(const Workflow& wf, const std::vector<std::string>& key_values);
// The same for inputs already in JSON (webhook, daemon API): types are checked, not converted.
Result<Json> inputs_from_json(const Workflow& wf, const Json& given);

}  // namespace weft::workflow
