#include "workflow/executor.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/redact.hpp"
#include "fake_catalog.hpp"
#include "store/run_store.hpp"
#include "support/test_support.hpp"

namespace weft::workflow {
namespace {

class ExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::open_sqlite(dir.path() + "/runs.db");
    ASSERT_TRUE(s.ok()) << s.status().message();
    store = std::move(*s);
  }
  Workflow compile_text(const std::string& yaml) {
    auto doc = load_yaml_text(yaml, "flow.yaml");
    EXPECT_TRUE(doc.ok()) << doc.status().message();
    auto problems = validate(*doc, catalog);
    for (const auto& p : problems) ADD_FAILURE() << p.to_string();
    auto wf = compile(*doc);
    EXPECT_TRUE(wf.ok()) << wf.status().message();
    return *wf;
  }
  test::TempDir dir;
  test::FakeCatalog catalog;
  std::unique_ptr<store::RunStore> store;
};

TEST_F(ExecutorTest, RunsStepsInOrderPassingOutputsAndRecordsEverything) {
  Workflow wf = compile_text(R"(name: chain
inputs:
  who: {type: string, default: world}
  n: {type: integer, required: true}
steps:
  - id: one
    uses: demo.echo
    with: {text: "hello ${{ inputs.who }}", count: "${{ inputs.n }}"}
  - id: two
    uses: demo.echo
    with: {text: "${{ steps.one.output.echo }}!", count: "${{ steps.one.output.count }}"}
)");
  auto inputs = inputs_from_strings(wf, {"n=3"});
  ASSERT_TRUE(inputs.ok()) << inputs.status().message();
  Executor ex(catalog, *store);
  auto run = ex.run(wf, {.inputs = *inputs});
  ASSERT_TRUE(run.ok()) << run.status().message();
  EXPECT_EQ(run->status, store::RunStatus::kSucceeded);
  EXPECT_EQ(json::stringify(run->steps[1].output), R"({"echo":"hello world!","count":3})");

  auto stored = store->get_run(run->id);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->status, store::RunStatus::kSucceeded);
  EXPECT_EQ(json::get_string(stored->inputs, "who"), "world");  // the declared default
  EXPECT_EQ(json::get(stored->inputs, "n").convert<int>(), 3);  // converted to the declared type
  ASSERT_EQ(stored->steps.size(), 2U);
  EXPECT_EQ(stored->steps[0].status, store::StepStatus::kSucceeded);
  EXPECT_EQ(json::get_string(stored->steps[1].input, "text"), "hello world!");
  EXPECT_EQ(json::get(stored->steps[1].input, "count").convert<int>(), 3);
  EXPECT_GT(stored->steps[1].finished_at_ms, 0);
}

TEST_F(ExecutorTest, FalseConditionSkipsTheStep) {
  Workflow wf = compile_text(R"(name: cond
steps:
  - id: a
    uses: demo.echo
    if: ${{ 1 == 2 }}
    with: {text: x}
  - id: b
    uses: demo.echo
    if: steps.a.status == 'skipped'
    with: {text: "a was ${{ steps.a.status }}"}
)");
  Executor ex(catalog, *store);
  auto run = ex.run(wf, {});
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->steps[0].status, store::StepStatus::kSkipped);
  EXPECT_EQ(run->steps[1].status, store::StepStatus::kSucceeded);
  EXPECT_EQ(json::get_string(run->steps[1].output, "echo"), "a was skipped");
  EXPECT_EQ(catalog.invocations.load(), 1);
}

TEST_F(ExecutorTest, FailedStepFailsTheRunAndSkipsTheRest) {
  Workflow wf = compile_text(R"(name: f
steps:
  - id: a
    uses: demo.fail
  - id: b
    uses: demo.echo
    with: {text: x}
)");
  Executor ex(catalog, *store);
  auto run = ex.run(wf, {});
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->status, store::RunStatus::kFailed);
  EXPECT_NE(run->error.find("step 'a' failed: unavailable: the provider answered 503"), std::string::npos)
      << run->error;
  EXPECT_EQ(run->steps[1].status, store::StepStatus::kSkipped);
  auto stored = store->get_run(run->id);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->status, store::RunStatus::kFailed);
  EXPECT_EQ(stored->steps[1].status, store::StepStatus::kSkipped);
}

TEST_F(ExecutorTest, ContinueOnErrorKeepsGoing) {
  Workflow wf = compile_text(R"(name: f
steps:
  - id: a
    uses: demo.fail
    continue-on-error: true
  - id: b
    uses: demo.echo
    with: {text: "${{ steps.a.status }}"}
)");
  Executor ex(catalog, *store);
  auto run = ex.run(wf, {});
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->status, store::RunStatus::kSucceeded);
  EXPECT_EQ(run->steps[0].status, store::StepStatus::kFailed);
  EXPECT_EQ(json::get_string(run->steps[1].output, "echo"), "failed");
}

TEST_F(ExecutorTest, TimeoutSetsADeadlineAndFailsALateStep) {
  Workflow wf = compile_text("name: t\nsteps:\n  - id: s\n    uses: demo.slow\n    timeout: 5ms\n");
  Executor ex(catalog, *store);
  auto run = ex.run(wf, {});
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->status, store::RunStatus::kFailed);
  EXPECT_NE(run->steps[0].error.find("timed out after 5 ms"), std::string::npos);
  ASSERT_EQ(catalog.contexts.size(), 1U);
  EXPECT_TRUE(catalog.contexts[0].deadline.has_value());
  EXPECT_EQ(catalog.contexts[0].step_id, "s");
  EXPECT_EQ(catalog.contexts[0].run_id, run->id);
}

TEST_F(ExecutorTest, RenderedInputThatBreaksTheSchemaFailsTheStep) {
  Workflow wf = compile_text(
      "name: t\ninputs:\n  c: {type: string}\nsteps:\n  - id: s\n    uses: demo.echo\n"
      "    with: {text: x, count: '${{ inputs.c }}'}\n");
  Executor ex(catalog, *store);
  auto run = ex.run(wf, {.inputs = *inputs_from_strings(wf, {"c=many"})});
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->status, store::RunStatus::kFailed);
  EXPECT_NE(run->steps[0].error.find("input/count"), std::string::npos) << run->steps[0].error;
}

TEST_F(ExecutorTest, EnvAndConnectionReachTheAction) {
  ::setenv("WEFT_TEST_CHANNEL", "chan-9", 1);
  Workflow wf = compile_text(
      "name: t\nsteps:\n  - id: s\n    uses: demo.private\n    connection: mine\n"
      "    with: {channel: '${{ env.WEFT_TEST_CHANNEL }}'}\n");
  Executor ex(catalog, *store);
  auto run = ex.run(wf, {});
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(json::stringify(run->steps[0].output), R"({"connection":"mine","channel":"chan-9"})");
}

TEST_F(ExecutorTest, SecretsAreRedactedInTheStore) {
  const std::string secret = "sk_live_abcdef123456";
  redact::add_secret(secret);
  Workflow wf = compile_text(
      "name: t\ninputs:\n  key: {type: string}\nsteps:\n  - id: s\n    uses: demo.echo\n"
      "    with: {text: '${{ inputs.key }}'}\n");
  Executor ex(catalog, *store);
  auto run = ex.run(wf, {.inputs = *inputs_from_strings(wf, {"key=" + secret})});
  ASSERT_TRUE(run.ok());
  auto stored = store->get_run(run->id);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(json::get_string(stored->steps[0].output, "echo"), "[REDACTED]");
  EXPECT_EQ(json::get_string(stored->inputs, "key"), "[REDACTED]");
  redact::remove_secret(secret);
}

TEST_F(ExecutorTest, ResumeContinuesFromTheFirstUnfinishedStep) {
  Workflow wf = compile_text(R"(name: r
steps:
  - id: a
    uses: demo.echo
    with: {text: first}
  - id: b
    uses: demo.echo
    with: {text: "${{ steps.a.output.echo }} then b"}
)");
  // A run that died after step a: a succeeded, b was running.
  store::RunRecord run;
  run.id = "run-1";
  run.workflow = "r";
  run.workflow_file = "flow.yaml";
  run.started_at_ms = store::now_ms();
  run.inputs = json::new_object();
  store::StepRecord a;
  a.index = 0;
  a.step_id = "a";
  a.uses = "demo.echo";
  a.status = store::StepStatus::kSucceeded;
  a.output = json::object({{"echo", std::string("first")}});
  store::StepRecord b;
  b.index = 1;
  b.step_id = "b";
  b.uses = "demo.echo";
  b.status = store::StepStatus::kRunning;
  run.steps = {a, b};
  ASSERT_TRUE(store->create_run(run).ok());
  ASSERT_TRUE(store->set_run_status("run-1", store::RunStatus::kInterrupted, "daemon stopped", 0).ok());

  Executor ex(catalog, *store);
  auto resumed = ex.resume(wf, "run-1");
  ASSERT_TRUE(resumed.ok()) << resumed.status().message();
  EXPECT_EQ(resumed->status, store::RunStatus::kSucceeded);
  EXPECT_EQ(catalog.invocations.load(), 1);  // only b ran
  EXPECT_EQ(json::get_string(resumed->steps[1].output, "echo"), "first then b");
  EXPECT_FALSE(ex.resume(wf, "run-1").ok());  // finished runs do not resume
  EXPECT_EQ(ex.resume(wf, "nope").status().code(), Code::kNotFound);
}

// Counts the store's writes (each one is a commit) and forwards them.
class CountingStore final : public store::RunStore {
 public:
  explicit CountingStore(store::RunStore& inner) : inner_(inner) {}
  Status create_run(const store::RunRecord& run) override { return count(inner_.create_run(run)); }
  Status set_run_status(const std::string& id, store::RunStatus s, const std::string& e, std::int64_t f) override {
    return count(inner_.set_run_status(id, s, e, f));
  }
  Status put_step(const std::string& id, const store::StepRecord& step) override {
    return count(inner_.put_step(id, step));
  }
  Status put_steps(const std::string& id, const std::vector<const store::StepRecord*>& steps,
                   const Finish* finish) override {
    return count(inner_.put_steps(id, steps, finish));
  }
  Result<store::RunRecord> get_run(const std::string& id) const override { return inner_.get_run(id); }
  Result<std::vector<store::RunRecord>> list_runs(const store::RunQuery& q) const override {
    return inner_.list_runs(q);
  }
  Result<std::optional<std::string>> state_get(const std::string& s, const std::string& k) const override {
    return inner_.state_get(s, k);
  }
  Status state_set(const std::string& s, const std::string& k, const std::string& v) override {
    return inner_.state_set(s, k, v);
  }
  Status state_delete(const std::string& s, const std::string& k) override { return inner_.state_delete(s, k); }
  std::atomic<int> writes{0};

 private:
  Status count(Status s) {
    ++writes;
    return s;
  }
  store::RunStore& inner_;
};

// A step's end is written with the next step's start (and the last with the run's end), and the
// first step's start with the run's insert: while a step runs, the store already shows every step
// before it finished, and a run of N executed steps costs N + 1 writes (N + 2 when an `if:` on the
// first step has to be judged before it starts).
TEST_F(ExecutorTest, EachStepIsRecordedEndedBeforeTheNextStartsInNPlusOneWrites) {
  CountingStore counting(*store);
  std::vector<std::string> seen;
  catalog.add("demo.peek", R"({"type":"object"})", false,
              [&](const Json&, const plugin::InvokeContext& ctx) -> Result<Json> {
                auto now = counting.get_run(ctx.run_id);
                if (!now) return now.status();
                std::string line;
                for (const auto& st : now->steps) line += std::string(store::to_string(st.status)) + " ";
                seen.push_back(line);
                return json::object({{"ok", true}});
              });
  Workflow wf = compile_text(R"(name: peek
steps:
  - id: a
    uses: demo.peek
  - id: skipped
    if: "${{ false }}"
    uses: demo.peek
  - id: c
    uses: demo.peek
  - id: d
    uses: demo.fail
  - id: e
    uses: demo.peek
)");
  Executor ex(catalog, counting);
  auto run = ex.run(wf, {});
  ASSERT_TRUE(run.ok()) << run.status().message();
  EXPECT_EQ(run->status, store::RunStatus::kFailed);
  ASSERT_EQ(seen.size(), 2U);
  EXPECT_EQ(seen[0], "running pending pending pending pending ");
  EXPECT_EQ(seen[1], "succeeded skipped running pending pending ");
  EXPECT_EQ(counting.writes.load(), 3 + 1);  // a, c and d executed

  auto stored = store->get_run(run->id);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->status, store::RunStatus::kFailed);
  EXPECT_EQ(stored->error, run->error);
  std::string line;
  for (const auto& st : stored->steps) line += std::string(store::to_string(st.status)) + " ";
  EXPECT_EQ(line, "succeeded skipped succeeded failed skipped ");
  EXPECT_EQ(stored->steps[3].error, run->steps[3].error);

  // With an `if:` on the first step, its start is a write of its own, after the condition.
  seen.clear();
  counting.writes = 0;
  Workflow guarded = compile_text(R"(name: guarded
steps:
  - id: a
    if: "${{ true }}"
    uses: demo.peek
)");
  auto second = ex.run(guarded, {});
  ASSERT_TRUE(second.ok()) << second.status().message();
  EXPECT_EQ(second->status, store::RunStatus::kSucceeded);
  ASSERT_EQ(seen.size(), 1U);
  EXPECT_EQ(seen[0], "running ");
  EXPECT_EQ(counting.writes.load(), 1 + 2);
}

TEST_F(ExecutorTest, ConcurrentRunsShareOneExecutor) {
  Workflow wf = compile_text("name: c\nsteps:\n  - id: a\n    uses: demo.echo\n    with: {text: x}\n");
  Executor ex(catalog, *store);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      for (int k = 0; k < 10; ++k) {
        auto r = ex.run(wf, {});
        if (r.ok() && r->status == store::RunStatus::kSucceeded) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 80);
  auto runs = store->list_runs({.workflow = "c", .status = std::nullopt, .limit = 1000});
  ASSERT_TRUE(runs.ok());
  EXPECT_EQ(runs->size(), 80U);
}

TEST(Inputs, ConvertsToDeclaredTypesAndRefusesUnknownOrIllTyped) {
  test::FakeCatalog catalog;
  auto doc = load_yaml_text(R"(name: i
inputs:
  s: {type: string}
  n: {type: number}
  i: {type: integer, default: 5}
  b: {type: boolean}
  o: {type: object}
  a: {type: array}
  r: {type: string, required: true}
steps:
  - id: x
    uses: demo.echo
    with: {text: x}
)",
                            "f.yaml");
  ASSERT_TRUE(doc.ok());
  auto wf = compile(*doc);
  ASSERT_TRUE(wf.ok());
  auto v = inputs_from_strings(*wf, {"s=1", "n=2.5", "b=true", "o={\"k\":1}", "a=[1]", "r=yes"});
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(json::stringify(*v), R"({"s":"1","n":2.5,"i":5,"b":true,"o":{"k":1},"a":[1],"r":"yes"})");
  EXPECT_EQ(inputs_from_strings(*wf, {"r=x", "zz=1"}).status().message(),
            "unknown input 'zz' (declared: s (string), n (number), i (integer), b (boolean), o (object), a "
            "(array), r (string))");
  EXPECT_EQ(inputs_from_strings(*wf, {"r=x", "i=1.5"}).status().message(),
            "input 'i' must be an integer, got '1.5'");
  EXPECT_NE(inputs_from_strings(*wf, {"r=x", "b=maybe"}).status().message().find("true or false"),
            std::string::npos);
  EXPECT_NE(inputs_from_strings(*wf, {"r=x", "o=[1]"}).status().message().find("JSON object"),
            std::string::npos);
  EXPECT_NE(inputs_from_strings(*wf, {}).status().message().find("input 'r' is required"), std::string::npos);
  EXPECT_NE(inputs_from_strings(*wf, {"novalue"}).status().message().find("not key=value"),
            std::string::npos);
  EXPECT_FALSE(inputs_from_json(*wf, *json::parse(R"({"r":"x","i":"5"})")).ok());
  EXPECT_TRUE(inputs_from_json(*wf, *json::parse(R"({"r":"x","i":5})")).ok());
}

}  // namespace
}  // namespace weft::workflow
