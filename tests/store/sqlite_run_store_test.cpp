#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <thread>

#include "core/redact.hpp"
#include "store/run_store.hpp"
#include "support/test_support.hpp"

namespace weft::store {
namespace {

RunRecord sample(const std::string& id, std::int64_t started) {
  RunRecord run;
  run.id = id;
  run.workflow = "wf";
  run.workflow_file = "/flows/wf.yaml";
  run.inputs = json::object({{"n", 1}});
  run.trigger = json::object({{"body", std::string("hi")}});
  run.started_at_ms = started;
  StepRecord s;
  s.index = 0;
  s.step_id = "a";
  s.uses = "demo.echo";
  run.steps.push_back(s);
  return run;
}

TEST(SqliteRunStore, RoundTripsRunsAndSteps) {
  test::TempDir dir;
  auto store = open_sqlite(dir.path() + "/runs.db");
  ASSERT_TRUE(store.ok()) << store.status().message();
  ASSERT_TRUE((*store)->create_run(sample("r1", 100)).ok());
  StepRecord s;
  s.index = 0;
  s.step_id = "a";
  s.uses = "demo.echo";
  s.status = StepStatus::kSucceeded;
  s.input = json::object({{"text", std::string("x")}});
  s.output = json::object({{"ok", true}});
  s.duration_us = 1234;
  ASSERT_TRUE((*store)->put_step("r1", s).ok());
  ASSERT_TRUE((*store)->set_run_status("r1", RunStatus::kSucceeded, "", 200).ok());

  auto run = (*store)->get_run("r1");
  ASSERT_TRUE(run.ok()) << run.status().message();
  EXPECT_EQ(run->status, RunStatus::kSucceeded);
  EXPECT_EQ(run->finished_at_ms, 200);
  EXPECT_EQ(json::stringify(run->trigger), R"({"body":"hi"})");
  ASSERT_EQ(run->steps.size(), 1U);
  EXPECT_EQ(run->steps[0].status, StepStatus::kSucceeded);
  EXPECT_EQ(json::stringify(run->steps[0].output), R"({"ok":true})");
  EXPECT_EQ(run->steps[0].duration_us, 1234);
}

TEST(SqliteRunStore, ReusedIdAndUnknownRunAreClearErrors) {
  test::TempDir dir;
  auto store = open_sqlite(dir.path() + "/runs.db");
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->create_run(sample("r1", 1)).ok());
  EXPECT_EQ((*store)->create_run(sample("r1", 1)).code(), Code::kAlreadyExists);
  EXPECT_EQ((*store)->get_run("zz").status().code(), Code::kNotFound);
  EXPECT_EQ((*store)->set_run_status("zz", RunStatus::kFailed, "", 1).code(), Code::kNotFound);
}

TEST(SqliteRunStore, ListsNewestFirstAndFiltersByStatus) {
  test::TempDir dir;
  auto store = open_sqlite(dir.path() + "/runs.db");
  ASSERT_TRUE(store.ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE((*store)->create_run(sample("r" + std::to_string(i), i)).ok());
  ASSERT_TRUE((*store)->set_run_status("r3", RunStatus::kInterrupted, "killed", 0).ok());
  auto all = (*store)->list_runs({.workflow = "", .status = std::nullopt, .limit = 3});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3U);
  EXPECT_EQ((*all)[0].id, "r4");
  auto interrupted = (*store)->list_runs({.workflow = "wf", .status = RunStatus::kInterrupted, .limit = 10});
  ASSERT_TRUE(interrupted.ok());
  ASSERT_EQ(interrupted->size(), 1U);
  EXPECT_EQ((*interrupted)[0].error, "killed");
}

TEST(SqliteRunStore, StateIsAKeyValuePerScope) {
  test::TempDir dir;
  auto store = open_sqlite(dir.path() + "/runs.db");
  ASSERT_TRUE(store.ok());
  EXPECT_FALSE((*store)->state_get("t1", "cursor")->has_value());
  ASSERT_TRUE((*store)->state_set("t1", "cursor", "10").ok());
  ASSERT_TRUE((*store)->state_set("t1", "cursor", "11").ok());
  ASSERT_TRUE((*store)->state_set("t2", "cursor", "99").ok());
  EXPECT_EQ((*store)->state_get("t1", "cursor")->value(), "11");
  ASSERT_TRUE((*store)->state_delete("t1", "cursor").ok());
  EXPECT_FALSE((*store)->state_get("t1", "cursor")->has_value());
  EXPECT_EQ((*store)->state_get("t2", "cursor")->value(), "99");
}

TEST(SqliteRunStore, SurvivesReopenAndSharesTheFileBetweenHandles) {
  test::TempDir dir;
  const std::string path = dir.path() + "/runs.db";
  {
    auto store = open_sqlite(path);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->create_run(sample("r1", 1)).ok());
  }
  auto a = open_sqlite(path);
  auto b = open_sqlite(path);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE((*a)->create_run(sample("r2", 2)).ok());
  EXPECT_TRUE((*b)->get_run("r1").ok());
  EXPECT_TRUE((*b)->get_run("r2").ok());
}

TEST(SqliteRunStore, RefusesAFileThatIsNotADatabase) {
  test::TempDir dir;
  const std::string path = dir.write("runs.db", std::string(4096, 'x'));
  auto store = open_sqlite(path);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find(path + ": cannot open the run store"), std::string::npos)
      << store.status().message();
}

TEST(SqliteRunStore, RedactsKnownSecretsBeforeWriting) {
  test::TempDir dir;
  const std::string path = dir.path() + "/runs.db";
  const std::string secret = "tok_secret_value_987";
  redact::add_secret(secret);
  auto store = open_sqlite(path);
  ASSERT_TRUE(store.ok());
  RunRecord run = sample("r1", 1);
  run.trigger = json::object({{"token", secret}});
  run.error = "bad " + secret;
  ASSERT_TRUE((*store)->create_run(run).ok());
  auto back = (*store)->get_run("r1");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(json::get_string(back->trigger, "token"), "[REDACTED]");
  EXPECT_EQ(back->error, "bad [REDACTED]");
  store->reset();
  std::ifstream raw(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(raw)), std::istreambuf_iterator<char>());
  std::ifstream wal(path + "-wal", std::ios::binary);
  bytes.append((std::istreambuf_iterator<char>(wal)), std::istreambuf_iterator<char>());
  EXPECT_EQ(bytes.find(secret), std::string::npos);
  redact::remove_secret(secret);
}

TEST(SqliteRunStore, ConcurrentWritersDoNotLoseSteps) {
  test::TempDir dir;
  auto store = open_sqlite(dir.path() + "/runs.db");
  ASSERT_TRUE(store.ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        EXPECT_TRUE((*store)->create_run(sample("t" + std::to_string(t) + "-" + std::to_string(i), i)).ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  auto all = (*store)->list_runs({.workflow = "", .status = std::nullopt, .limit = 1000});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 100U);
}

}  // namespace
}  // namespace weft::store
