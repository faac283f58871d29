#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <sqlite3.h>

#include "core/redact.hpp"
#include "store/run_store.hpp"
#include "store/run_samples.hpp"
#include "support/test_support.hpp"

namespace weft::store {
namespace {

using test_samples::first_step;
using test_samples::sample;

TEST(SqliteRunStore, RoundTripsRunsAndSteps) {
  test::TempDir dir;
  auto store = open_sqlite(dir.path() + "/runs.db");
  ASSERT_TRUE(store.ok()) << store.status().message();
  ASSERT_TRUE((*store)->create_run(sample("r1", 100)).ok());
  StepRecord s = first_step();
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

// put_steps writes steps and, with a Finish, the run's end in one commit: all of it or none of it.
TEST(SqliteRunStore, PutStepsWithFinishIsOneAllOrNothingWrite) {
  test::TempDir dir;
  auto store = open_sqlite(dir.path() + "/runs.db");
  ASSERT_TRUE(store.ok()) << store.status().message();
  RunRecord run = sample("r1", 100);
  StepRecord b;
  b.index = 1;
  b.step_id = "b";
  b.uses = "demo.echo";
  run.steps.push_back(b);
  ASSERT_TRUE((*store)->create_run(run).ok());

  run.steps[0].status = StepStatus::kSucceeded;
  run.steps[0].output = json::object({{"ok", true}});
  run.steps[1].status = StepStatus::kRunning;
  ASSERT_TRUE((*store)->put_steps("r1", {&run.steps[0], &run.steps[1]}, nullptr).ok());
  auto mid = (*store)->get_run("r1");
  ASSERT_TRUE(mid.ok()) << mid.status().message();
  EXPECT_EQ(mid->status, RunStatus::kRunning);
  EXPECT_EQ(mid->steps[0].status, StepStatus::kSucceeded);
  EXPECT_EQ(mid->steps[1].status, StepStatus::kRunning);

  run.steps[1].status = StepStatus::kFailed;
  run.steps[1].error = "boom";
  const RunStore::Finish fin{RunStatus::kFailed, "step 'b' failed: boom", 300};
  ASSERT_TRUE((*store)->put_steps("r1", {&run.steps[1]}, &fin).ok());
  auto done = (*store)->get_run("r1");
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->status, RunStatus::kFailed);
  EXPECT_EQ(done->error, "step 'b' failed: boom");
  EXPECT_EQ(done->finished_at_ms, 300);
  EXPECT_EQ(done->steps[1].status, StepStatus::kFailed);
  EXPECT_EQ(done->steps[1].error, "boom");

  // An unknown run: not_found, whether the steps or the finish name it; nothing is left behind.
  StepRecord orphan = run.steps[0];
  EXPECT_EQ((*store)->put_steps("zz", {&orphan}, &fin).code(), Code::kNotFound);
  EXPECT_EQ((*store)->put_steps("zz", {}, &fin).code(), Code::kNotFound);
  EXPECT_EQ((*store)->get_run("zz").status().code(), Code::kNotFound);
  auto again = (*store)->get_run("r1");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->finished_at_ms, 300);
}

TEST(RunId, IsAUuidVersion7ThatSortsByTimeAndDoesNotRepeat) {
  const std::regex v7("^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  std::set<std::string> ids;
  std::string last;
  for (int i = 0; i < 20000; ++i) {
    std::string id = new_run_id();
    ASSERT_TRUE(std::regex_match(id, v7)) << id;
    ids.insert(id);
    // The first 12 hex digits are the millisecond, the 3 after the version digit a counter: within
    // a process every id sorts after the one before, also inside one millisecond.
    if (!last.empty()) {
      ASSERT_GT(id.substr(0, 18), last.substr(0, 18));
    }
    last = id;
  }
  EXPECT_EQ(ids.size(), 20000U);
  const std::string ms = std::to_string(now_ms());
  const auto stamp = std::stoull(last.substr(0, 8) + last.substr(9, 4), nullptr, 16);
  EXPECT_LE(std::llabs(static_cast<long long>(stamp) - std::stoll(ms)), 5000);
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

StepRecord finished_step(int index) {
  StepRecord s;
  s.index = index;
  s.step_id = "s" + std::to_string(index);
  s.uses = "demo.echo";
  s.status = StepStatus::kSucceeded;
  s.output = json::object({{"i", index}});
  s.finished_at_ms = 5;
  return s;
}

// Group commit: every write of many concurrent runs is committed (seen by another connection,
// so it is in the file, not just in this one's transaction) with exactly its own steps and status.
TEST(SqliteRunStore, ManyConcurrentWritersAllCommitAndReadBack) {
  test::TempDir dir;
  const std::string path = dir.path() + "/runs.db";
  auto store = open_sqlite(path);
  ASSERT_TRUE(store.ok());
  constexpr int kThreads = 8;
  constexpr int kRuns = 40;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRuns; ++i) {
        const std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
        RunRecord run = sample(id, i);
        run.steps.push_back(finished_step(1));
        run.steps[1].status = StepStatus::kPending;
        EXPECT_TRUE((*store)->create_run(run).ok());
        StepRecord running = finished_step(0);
        running.status = StepStatus::kRunning;
        EXPECT_TRUE((*store)->put_step(id, running).ok());
        EXPECT_TRUE((*store)->put_step(id, finished_step(0)).ok());
        EXPECT_TRUE((*store)->put_step(id, finished_step(1)).ok());
        EXPECT_TRUE((*store)->set_run_status(id, RunStatus::kSucceeded, "", 10 + i).ok());
        EXPECT_TRUE((*store)->state_set("cursor", id, std::to_string(i)).ok());
      }
    });
  }
  for (auto& th : threads) th.join();

  auto other = open_sqlite(path);
  ASSERT_TRUE(other.ok());
  auto all = (*other)->list_runs({.workflow = "wf", .status = RunStatus::kSucceeded, .limit = 10000});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), static_cast<std::size_t>(kThreads * kRuns));
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kRuns; ++i) {
      const std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
      auto run = (*other)->get_run(id);
      ASSERT_TRUE(run.ok()) << id;
      EXPECT_EQ(run->finished_at_ms, 10 + i);
      ASSERT_EQ(run->steps.size(), 2U) << id;
      EXPECT_EQ(run->steps[0].status, StepStatus::kSucceeded) << id;
      EXPECT_EQ(run->steps[1].status, StepStatus::kSucceeded) << id;
      EXPECT_EQ(json::stringify(run->steps[1].output), R"({"i":1})");
      auto cursor = (*other)->state_get("cursor", id);
      ASSERT_TRUE(cursor.ok() && cursor->has_value()) << id;
      EXPECT_EQ(cursor->value(), std::to_string(i));
    }
  }
}

std::uintmax_t file_size(const std::string& path) {
  std::error_code ec;
  const auto n = std::filesystem::file_size(path, ec);
  return ec ? 0 : n;
}

// Checkpoints run on the store's own thread: pages written to the WAL reach the database file
// without any writer checkpointing (the inline backstop starts at 4,000 WAL pages, far above this).
TEST(SqliteRunStore, CheckpointsTheWalInTheBackground) {
  test::TempDir dir;
  const std::string path = dir.path() + "/runs.db";
  auto store = open_sqlite(path);
  ASSERT_TRUE(store.ok());
  const std::uintmax_t db_before = file_size(path);
  constexpr std::uintmax_t kPage = 4096 + 24;  // a WAL frame: one page and its header
  int runs = 0;
  // Past SQLite's 1,000-page mark (which signals the checkpointer), well short of the backstop.
  while (file_size(path + "-wal") < 1300 * kPage && runs < 20000) {
    ASSERT_TRUE((*store)->create_run(sample("c" + std::to_string(runs), runs)).ok());
    ASSERT_TRUE((*store)->put_step("c" + std::to_string(runs), finished_step(0)).ok());
    ++runs;
  }
  ASSERT_LT(file_size(path + "-wal"), 4000 * kPage) << "the test needs the WAL below the inline backstop";
  // The checkpointer copies the pages into the database file on its own time. Until a checkpoint,
  // the file is its first page alone: the tables and every row are still in the WAL.
  ASSERT_EQ(db_before, 4096U);
  for (int i = 0; i < 1000 && file_size(path) <= db_before; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_GT(file_size(path), db_before)
      << runs << " runs in the WAL, and the database file did not grow: no checkpoint ran";
}

// A steady stream of commits from many writers never lets a background (PASSIVE) checkpoint
// finish level with the WAL's end, so SQLite could never start the WAL over; the inline backstop
// does, and the WAL file stays bounded (it keeps its largest size, so its size is the bound).
TEST(SqliteRunStore, KeepsTheWalBoundedUnderASteadyStreamOfWrites) {
  test::TempDir dir;
  const std::string path = dir.path() + "/runs.db";
  auto store = open_sqlite(path);
  ASSERT_TRUE(store.ok());
  constexpr int kThreads = 4, kRuns = 1500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRuns; ++i) {
        const std::string id = "w" + std::to_string(t) + "-" + std::to_string(i);
        EXPECT_TRUE((*store)->create_run(sample(id, i)).ok());
        EXPECT_TRUE((*store)->put_step(id, finished_step(0)).ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  constexpr std::uintmax_t kFrame = 4096 + 24;
  // 4,000 pages, plus what the batch that crossed the line brought (at most 256 writes).
  EXPECT_LE(file_size(path + "-wal"), 6000 * kFrame);
  auto all = (*store)->list_runs({.workflow = "wf", .status = std::nullopt, .limit = 100000});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), static_cast<std::size_t>(kThreads * kRuns));
}

// A reused id, a step or status for a missing run: the failing caller gets its own error, the
// writes that shared its batch still commit, and the failed write leaves nothing behind.
TEST(SqliteRunStore, ABadWriteInABatchFailsOnlyItsCaller) {
  test::TempDir dir;
  const std::string path = dir.path() + "/runs.db";
  auto store = open_sqlite(path);
  ASSERT_TRUE(store.ok());
  RunRecord original = sample("taken", 1);
  original.workflow = "original";
  ASSERT_TRUE((*store)->create_run(original).ok());
  EXPECT_EQ((*store)->put_step("missing", finished_step(0)).code(), Code::kNotFound);

  constexpr int kThreads = 8;
  constexpr int kRounds = 60;
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();
      for (int i = 0; i < kRounds; ++i) {
        const std::string id = "ok" + std::to_string(t) + "-" + std::to_string(i);
        switch ((t + i) % 4) {
          case 0: {
            RunRecord dup = sample("taken", 2);
            dup.workflow = "impostor";
            EXPECT_EQ((*store)->create_run(dup).code(), Code::kAlreadyExists);
            break;
          }
          case 1:
            EXPECT_EQ((*store)->put_step("missing", finished_step(0)).code(), Code::kNotFound);
            break;
          case 2:
            EXPECT_EQ((*store)->set_run_status("missing", RunStatus::kFailed, "", 1).code(), Code::kNotFound);
            break;
          default:
            break;
        }
        EXPECT_TRUE((*store)->create_run(sample(id, i)).ok()) << id;
        EXPECT_TRUE((*store)->put_step(id, finished_step(0)).ok()) << id;
      }
    });
  }
  for (auto& th : threads) th.join();

  auto other = open_sqlite(path);
  ASSERT_TRUE(other.ok());
  auto taken = (*other)->get_run("taken");
  ASSERT_TRUE(taken.ok());
  EXPECT_EQ(taken->workflow, "original");
  EXPECT_EQ(taken->started_at_ms, 1);
  EXPECT_EQ((*other)->get_run("missing").status().code(), Code::kNotFound);
  auto all = (*other)->list_runs({.workflow = "wf", .status = std::nullopt, .limit = 10000});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), static_cast<std::size_t>(kThreads * kRounds));
  for (const auto& r : *all) {
    auto run = (*other)->get_run(r.id);
    ASSERT_TRUE(run.ok());
    ASSERT_EQ(run->steps.size(), 1U) << r.id;
    EXPECT_EQ(run->steps[0].status, StepStatus::kSucceeded) << r.id;
  }
}

// The durability the daemon's resume relies on: once a write call returned, the change is on
// disk, so a process killed with SIGKILL right afterwards still has it when the file is reopened.
TEST(SqliteRunStore, AWriteThatReturnedSurvivesSigkill) {
  test::TempDir dir;
  const std::string path = dir.path() + "/runs.db";
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(pipefd[0]);
    auto store = open_sqlite(path);
    if (!store.ok()) _exit(2);
    for (int i = 0;; ++i) {
      const std::string id = "k" + std::to_string(i);
      if (!(*store)->create_run(sample(id, i)).ok()) _exit(3);
      if (!(*store)->put_step(id, finished_step(0)).ok()) _exit(4);
      const char done = 1;
      if (write(pipefd[1], &done, 1) != 1) _exit(5);  // "run i and its finished step returned"
    }
  }
  close(pipefd[1]);
  constexpr int kAcknowledged = 25;
  int acked = 0;
  char c = 0;
  while (acked < kAcknowledged && read(pipefd[0], &c, 1) == 1) ++acked;
  kill(child, SIGKILL);
  int wstatus = 0;
  ASSERT_EQ(waitpid(child, &wstatus, 0), child);
  close(pipefd[0]);
  ASSERT_EQ(acked, kAcknowledged) << "the child stopped early, exit status " << WEXITSTATUS(wstatus);
  ASSERT_TRUE(WIFSIGNALED(wstatus));

  auto store = open_sqlite(path);
  ASSERT_TRUE(store.ok()) << store.status().message();
  for (int i = 0; i < acked; ++i) {
    auto run = (*store)->get_run("k" + std::to_string(i));
    ASSERT_TRUE(run.ok()) << "k" << i << ": " << run.status().message();
    ASSERT_EQ(run->steps.size(), 1U);
    EXPECT_EQ(run->steps[0].status, StepStatus::kSucceeded) << "k" << i;
  }
}

TEST(RunId, StaysUniqueAndIncreasingAcrossThreads) {
  constexpr int kThreads = 4, kEach = 5000;
  std::vector<std::vector<std::string>> made(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&made, t] {
      for (int i = 0; i < kEach; ++i) made[t].push_back(new_run_id());
    });
  }
  for (auto& th : threads) th.join();
  std::set<std::string> all;
  for (const auto& ids : made) {
    for (std::size_t i = 1; i < ids.size(); ++i) ASSERT_GT(ids[i].substr(0, 18), ids[i - 1].substr(0, 18));
    all.insert(ids.begin(), ids.end());
  }
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kThreads * kEach));
}

TEST(SqliteRunStore, ListsRunsOfOneMillisecondNewestFirst) {
  test::TempDir dir;
  auto store = open_sqlite(dir.path() + "/runs.db");
  ASSERT_TRUE(store.ok());
  std::vector<std::string> ids;
  for (int i = 0; i < 50; ++i) {
    ids.push_back(new_run_id());
    ASSERT_TRUE((*store)->create_run(sample(ids.back(), 1000)).ok());
  }
  auto listed = (*store)->list_runs({.workflow = "", .status = std::nullopt, .limit = 100});
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) EXPECT_EQ((*listed)[i].id, ids[ids.size() - 1 - i]) << i;
}

// Runs one statement on a raw connection; the test fails with SQLite's message if it does not.
void exec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  EXPECT_EQ(rc, SQLITE_OK) << sql << ": " << (err ? err : "");
  sqlite3_free(err);
}

std::string query_one(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sql;
  std::string out;
  if (st && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
    out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  return out;
}

// A store written by weft before schema version 2 (the exact v1 tables) opens, is upgraded in
// place, and keeps every run, step and state row; the upgraded store works like a new one.
TEST(SqliteRunStore, UpgradesAVersion1StoreKeepingEveryRow) {
  test::TempDir dir;
  const std::string path = dir.path() + "/runs.db";
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    exec(db,
         "CREATE TABLE runs (id TEXT PRIMARY KEY, workflow TEXT NOT NULL, workflow_file TEXT NOT NULL,"
         " status TEXT NOT NULL, inputs TEXT NOT NULL, trigger TEXT NOT NULL, error TEXT NOT NULL,"
         " started_at INTEGER NOT NULL, finished_at INTEGER NOT NULL);"
         "CREATE INDEX runs_by_start ON runs(started_at);"
         "CREATE INDEX runs_by_status ON runs(status);"
         "CREATE TABLE steps (run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
         " idx INTEGER NOT NULL, step_id TEXT NOT NULL, uses TEXT NOT NULL, status TEXT NOT NULL,"
         " input TEXT NOT NULL, output TEXT NOT NULL, error TEXT NOT NULL, started_at INTEGER NOT NULL,"
         " finished_at INTEGER NOT NULL, duration_us INTEGER NOT NULL, PRIMARY KEY (run_id, idx));"
         "CREATE TABLE state (scope TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
         " updated_at INTEGER NOT NULL, PRIMARY KEY (scope, key));"
         "PRAGMA user_version=1;");
    exec(db,
         "INSERT INTO runs VALUES ('old-done', 'wf', '/flows/wf.yaml', 'succeeded', '{\"n\":1}', '{}', '', 10, 20);"
         "INSERT INTO runs VALUES ('old-running', 'wf', '/flows/wf.yaml', 'running', '{}', '{}', '', 30, 0);"
         "INSERT INTO steps VALUES ('old-done', 0, 'a', 'demo.echo', 'succeeded', '{}', '{\"ok\":true}', '',"
         " 10, 20, 1500);"
         "INSERT INTO steps VALUES ('old-done', 1, 'b', 'demo.echo', 'failed', '{}', 'null', 'boom', 20, 20, 7);"
         "INSERT INTO state VALUES ('trigger:wf', 'cursor', '41', 5);");
    sqlite3_close(db);
  }

  {
    auto store = open_sqlite(path);
    ASSERT_TRUE(store.ok()) << store.status().message();
    auto done = (*store)->get_run("old-done");
    ASSERT_TRUE(done.ok()) << done.status().message();
    EXPECT_EQ(done->status, RunStatus::kSucceeded);
    EXPECT_EQ(json::stringify(done->inputs), R"({"n":1})");
    EXPECT_EQ(done->finished_at_ms, 20);
    ASSERT_EQ(done->steps.size(), 2U);
    EXPECT_EQ(json::stringify(done->steps[0].output), R"({"ok":true})");
    EXPECT_EQ(done->steps[0].duration_us, 1500);
    EXPECT_EQ(done->steps[1].error, "boom");
    EXPECT_EQ((*store)->state_get("trigger:wf", "cursor")->value_or(""), "41");
    auto running = (*store)->list_runs({.workflow = "", .status = RunStatus::kRunning, .limit = 10});
    ASSERT_TRUE(running.ok());
    ASSERT_EQ(running->size(), 1U);
    EXPECT_EQ((*running)[0].id, "old-running");
    // Foreign keys are back on after the upgrade: a step needs its run.
    EXPECT_EQ((*store)->put_step("no-such-run", sample("x", 0).steps[0]).code(), Code::kNotFound);
    ASSERT_TRUE((*store)->create_run(sample("new", 40)).ok());
    ASSERT_TRUE((*store)->set_run_status("old-running", RunStatus::kInterrupted, "restarted", 50).ok());
  }

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  EXPECT_EQ(query_one(db, "PRAGMA user_version"), "2");
  EXPECT_NE(query_one(db, "SELECT sql FROM sqlite_master WHERE name = 'runs'").find("WITHOUT ROWID"),
            std::string::npos);
  EXPECT_EQ(query_one(db, "SELECT count(*) FROM sqlite_master WHERE name IN ('runs_v2', 'steps_v2', 'runs_by_status')"),
            "0");
  EXPECT_EQ(query_one(db, "SELECT count(*) FROM steps"), "3");  // two old, one of the new run
  EXPECT_EQ(query_one(db, "SELECT count(*) FROM runs"), "3");
  EXPECT_EQ(query_one(db, "PRAGMA integrity_check"), "ok");
  sqlite3_close(db);

  auto again = open_sqlite(path);  // a second open finds version 2 and changes nothing
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ((*again)->get_run("old-running")->status, RunStatus::kInterrupted);
}

TEST(SqliteRunStore, RefusesAStoreFromANewerWeft) {
  test::TempDir dir;
  const std::string path = dir.path() + "/runs.db";
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  exec(db, "PRAGMA user_version=3");
  sqlite3_close(db);
  auto store = open_sqlite(path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().message(),
            path + ": run store schema version 3 is newer than this weft understands (2); upgrade weft");
}

}  // namespace
}  // namespace weft::store
