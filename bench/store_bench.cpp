// The run store's write path as the daemon drives it: a one-step webhook run is written twice
// (the run's insert with its first step started, then the step's end with the run's end), from
// many request threads at once. Argument 0: store::open_sqlite, group commit batches the writes
// (what `weft run` uses); 1: store::open_journaled, each write appended to the journal and
// applied by the store's thread (what `weft serve` uses; every 256 runs a thread reads its last
// run back, which waits until everything before it is applied, so the applier's work is counted).
// Reported as process CPU time per run (all threads, the committing leader's or the applier's
// included) and runs/s; SQLite file in a temp dir.
//   store_bench                                      # 1, 4 and 16 writer threads, both stores
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include "core/json.hpp"
#include "store/run_store.hpp"

namespace {

namespace fs = std::filesystem;
using weft::Json;
namespace json = weft::json;
namespace store = weft::store;

// One store shared by every thread of a benchmark run: opened by thread 0 before the others start.
struct Shared {
  std::mutex mu;
  fs::path dir;
  std::unique_ptr<store::RunStore> store;
  std::atomic<int> failures{0};
};
Shared shared;

// The trigger a webhook run records: body, headers, query, as the daemon builds it.
Json webhook_trigger() {
  return *json::parse(R"({"type":"webhook","body":{"id":1},"query":{},
    "headers":{"host":"127.0.0.1:8080","content-type":"application/json","content-length":"8",
               "user-agent":"wrk"}})");
}

void BM_OneStepRunTwoWrites(benchmark::State& state) {
  if (state.thread_index() == 0) {
    shared.store.reset();
    shared.dir = fs::temp_directory_path() / ("weft-store-bench-" + std::to_string(::getpid()));
    fs::remove_all(shared.dir);
    fs::create_directories(shared.dir);
    const std::string path = (shared.dir / "runs.db").string();
    auto opened = state.range(0) == 1 ? store::open_journaled(path) : store::open_sqlite(path);
    if (!opened.ok()) {
      state.SkipWithError(opened.status().message().c_str());
      return;
    }
    shared.store = std::move(*opened);
    shared.failures = 0;
  }
  const Json trigger = webhook_trigger();
  const Json input = *json::parse(R"({"method":"GET","url":"http://127.0.0.1:8081/item"})");
  const Json output = *json::parse(R"({"status":200,"headers":{"content-type":"application/json"},
                                       "body":{"ok":true,"n":42}})");
  const bool journaled = state.range(0) == 1;
  std::int64_t n = 0;
  for (auto _ : state) {
    store::RunRecord run;
    run.id = store::new_run_id();
    run.workflow = "bench";
    run.workflow_file = "/etc/weft/workflows/bench.yaml";
    run.status = store::RunStatus::kRunning;
    run.inputs = json::new_object();
    run.trigger = trigger;
    run.started_at_ms = store::now_ms();
    store::StepRecord step;
    step.step_id = "call";
    step.uses = "http.request";
    step.status = store::StepStatus::kRunning;
    step.started_at_ms = run.started_at_ms;
    run.steps.push_back(step);
    if (!shared.store->create_run(run).ok()) ++shared.failures;
    step.status = store::StepStatus::kSucceeded;
    step.input = input;
    step.output = output;
    step.finished_at_ms = store::now_ms();
    step.duration_us = 250;
    const store::RunStore::Finish fin{store::RunStatus::kSucceeded, "", step.finished_at_ms};
    if (!shared.store->put_steps(run.id, {&step}, &fin).ok()) ++shared.failures;
    if (journaled && ++n % 256 == 0 && !shared.store->get_run(run.id).ok()) ++shared.failures;
  }
  state.counters["runs"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  if (state.thread_index() == 0) {
    // Every thread has left its loop here (the loop's end is a barrier).
    if (shared.failures != 0) state.SkipWithError("a write failed");
  }
}
BENCHMARK(BM_OneStepRunTwoWrites)
    ->ArgName("journal")
    ->Arg(0)
    ->Arg(1)
    ->Threads(1)
    ->Threads(4)
    ->Threads(16)
    ->MeasureProcessCPUTime()
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  shared.store.reset();
  if (!shared.dir.empty()) fs::remove_all(shared.dir);
  return 0;
}
