// run_samples.hpp — the run records the store tests write: a one-step run of workflow "wf".
#pragma once

#include <cstdint>
#include <string>

#include "store/run_store.hpp"

namespace weft::store::test_samples {

// Step 0 ("a", uses demo.echo), pending.
inline StepRecord first_step() {
  StepRecord s;
  s.index = 0;
  s.step_id = "a";
  s.uses = "demo.echo";
  return s;
}

// A running run of workflow "wf" with one pending step, started at `started`.
inline RunRecord sample(const std::string& id, std::int64_t started) {
  RunRecord run;
  run.id = id;
  run.workflow = "wf";
  run.workflow_file = "/flows/wf.yaml";
  run.inputs = json::object({{"n", 1}});
  run.trigger = json::object({{"body", std::string("hi")}});
  run.started_at_ms = started;
  run.steps.push_back(first_step());
  return run;
}

}  // namespace weft::store::test_samples
