// journal_test.cpp — the journaled run store (store::open_journaled): writes appended to
// `<db>.journal.<n>` and applied to SQLite by the store's own thread; replay after a kill; the
// journal's record format (encode/decode of WriteOp).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <sqlite3.h>

#include "store/run_store.hpp"
#include "store/run_samples.hpp"
#include "store/write_op.hpp"
#include "support/test_support.hpp"

namespace weft::store {
namespace {

using test_samples::first_step;
using test_samples::sample;

// Step 0 of sample(), started (at 1000 + i) and not finished.
StepRecord running_step(int i) {
  StepRecord s = first_step();
  s.status = StepStatus::kRunning;
  s.started_at_ms = 1000 + i;
  return s;
}

// Step 0 of sample(), finished, with an output that names i.
StepRecord finished_step(int i) {
  StepRecord s = running_step(i);
  s.status = StepStatus::kSucceeded;
  s.input = json::object({{"text", std::string("x")}});
  s.output = json::object({{"i", i}});
  s.finished_at_ms = 2000 + i;
  s.duration_us = 10 + i;
  return s;
}

std::string output_of(int i) { return R"({"i":)" + std::to_string(i) + "}"; }

// The names of the journal files (`runs.db.journal.<n>`) in dir; not the lock file.
std::set<std::string> journal_files(const std::string& dir) {
  std::set<std::string> out;
  const std::string prefix = "runs.db.journal.";
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) != 0 || name.size() == prefix.size()) continue;
    const std::string rest = name.substr(prefix.size());
    if (std::all_of(rest.begin(), rest.end(), [](char c) { return c >= '0' && c <= '9'; })) out.insert(name);
  }
  return out;
}

std::uint64_t journal_number(const std::string& name) {
  return std::stoull(name.substr(std::string("runs.db.journal.").size()));
}

// The journal file with the highest number in dir (full path); empty when there is none.
std::string newest_journal(const std::string& dir) {
  std::string best;
  for (const auto& name : journal_files(dir)) {
    if (best.empty() || journal_number(name) > journal_number(best)) best = name;
  }
  return best.empty() ? best : dir + "/" + best;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void append_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string u32le(std::uint32_t v) {
  std::string out;
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  return out;
}

// Runs one statement on a raw connection; SQLITE_OK or the error code.
int exec(sqlite3* db, const char* sql) { return sqlite3_exec(db, sql, nullptr, nullptr, nullptr); }

std::string query_one(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* st = nullptr;
  std::string out;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
      sqlite3_column_text(st, 0))
    out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  return out;
}

// In a child process: tells the parent (one byte on fd) that everything it did returned, then
// waits to be killed. Never returns, so no destructor runs (as with a real SIGKILL).
[[noreturn]] void signal_and_wait(int fd) {
  const char done = 1;
  if (write(fd, &done, 1) != 1) _exit(5);
  for (;;) pause();
}

// Forks; the child runs body(fd) — which either calls signal_and_wait(fd) or returns an exit code
// (> 0) naming what failed — and never returns into gtest. The parent waits for the child's byte,
// then (after before_kill, when given) kills it with SIGKILL. Returns an empty string, or what
// went wrong.
std::string run_then_sigkill(const std::function<int(int)>& body, const std::function<void()>& before_kill = {}) {
  int pipefd[2];
  if (pipe(pipefd) != 0) return "pipe failed";
  const pid_t child = fork();
  if (child < 0) return "fork failed";
  if (child == 0) {
    close(pipefd[0]);
    int code = 99;
    try {
      code = body(pipefd[1]);
    } catch (...) {
      code = 98;
    }
    _exit(code == 0 ? 97 : code);
  }
  close(pipefd[1]);
  char c = 0;
  const bool signalled = read(pipefd[0], &c, 1) == 1;
  if (signalled && before_kill) before_kill();
  kill(child, SIGKILL);
  int wstatus = 0;
  const bool reaped = waitpid(child, &wstatus, 0) == child;
  close(pipefd[0]);
  if (!signalled)
    return "the child stopped early, exit status " + std::to_string(WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1);
  if (!reaped || !WIFSIGNALED(wstatus) || WTERMSIG(wstatus) != SIGKILL) return "the child did not die of SIGKILL";
  return "";
}

// A journaled store whose applier cannot commit (another connection holds the database's write
// lock) writes runs ids[i] (create, then for even i a finished step with Finish{succeeded}, for odd
// i a running step), and the process is killed: everything is in the journal, nothing in SQLite.
// `finish_all`: every run is finished. Returns what went wrong, or an empty string.
std::string write_then_kill_unapplied(const std::string& path, const std::vector<std::string>& ids,
                                      bool finish_all) {
  return run_then_sigkill([&](int fd) -> int {
    auto store = open_journaled(path);
    if (!store.ok()) return 2;
    sqlite3* blocker = nullptr;
    if (sqlite3_open(path.c_str(), &blocker) != SQLITE_OK) return 3;
    if (exec(blocker, "BEGIN EXCLUSIVE") != SQLITE_OK) return 4;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const int n = static_cast<int>(i);
      if (!(*store)->create_run(sample(ids[i], n)).ok()) return 6;
      if (finish_all || i % 2 == 0) {
        const StepRecord step = finished_step(n);
        const RunStore::Finish fin{RunStatus::kSucceeded, "", 3000 + n};
        if (!(*store)->put_steps(ids[i], {&step}, &fin).ok()) return 7;
      } else {
        if (!(*store)->put_step(ids[i], running_step(n)).ok()) return 8;
      }
    }
    // Nothing reached SQLite: the lock is still held (read through the blocker's own transaction).
    if (query_one(blocker, "SELECT count(*) FROM runs") != "0") return 9;
    signal_and_wait(fd);
  });
}

std::vector<std::string> new_ids(int n) {
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) ids.push_back(new_run_id());
  return ids;
}

// Creates the database (WAL mode, schema) and closes it cleanly.
void create_database(const std::string& path) {
  auto store = open_journaled(path);
  ASSERT_TRUE(store.ok()) << store.status().message();
}

// dir/runs.db created, then n runs written, all finished, by a process killed before anything
// was applied: their records are all in journal (dir/runs.db.journal.1), none in SQLite.
struct KilledUnapplied {
  std::string path, journal;
  std::vector<std::string> ids;
};
void kill_unapplied(const std::string& dir, int n, KilledUnapplied& out) {
  out.path = dir + "/runs.db";
  create_database(out.path);
  out.ids = new_ids(n);
  ASSERT_EQ(write_then_kill_unapplied(out.path, out.ids, true), "");
  out.journal = newest_journal(dir);
  ASSERT_EQ(out.journal, dir + "/runs.db.journal.1");
}

// ---------------------------------------------------------------------------------------------

TEST(JournaledRunStore, ReadsItsOwnWritesFromManyThreadsAndLeavesNoJournalWhenClosed) {
  test::TempDir dir;
  const std::string path = dir.path() + "/runs.db";
  constexpr int kThreads = 8, kEach = 25;
  std::vector<std::vector<std::string>> made(kThreads);
  {
    auto store = open_journaled(path);
    ASSERT_TRUE(store.ok()) << store.status().message();
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kEach; ++i) {
          const int n = t * kEach + i;
          const std::string id = new_run_id();
          made[t].push_back(id);
          EXPECT_TRUE((*store)->create_run(sample(id, 100 + n)).ok()) << id;
          const StepRecord step = finished_step(n);
          const RunStore::Finish fin{RunStatus::kSucceeded, "", 5000 + n};
          EXPECT_TRUE((*store)->put_steps(id, {&step}, &fin).ok()) << id;
          auto run = (*store)->get_run(id);  // read-your-writes: no wait for the applier by the caller
          ASSERT_TRUE(run.ok()) << id << ": " << run.status().message();
          EXPECT_EQ(run->status, RunStatus::kSucceeded) << id;
          EXPECT_EQ(run->finished_at_ms, 5000 + n) << id;
          EXPECT_EQ(run->started_at_ms, 100 + n) << id;
          ASSERT_EQ(run->steps.size(), 1U) << id;
          EXPECT_EQ(run->steps[0].status, StepStatus::kSucceeded) << id;
          EXPECT_EQ(json::stringify(run->steps[0].output), output_of(n)) << id;
          EXPECT_EQ(run->steps[0].duration_us, 10 + n) << id;
        }
      });
    }
    for (auto& th : threads) th.join();

    auto listed = (*store)->list_runs({.workflow = "", .status = std::nullopt, .limit = 1000});
    ASSERT_TRUE(listed.ok()) << listed.status().message();
    ASSERT_EQ(listed->size(), static_cast<std::size_t>(kThreads * kEach));
    std::set<std::string> listed_ids;
    for (const auto& r : *listed) {
      EXPECT_EQ(r.status, RunStatus::kSucceeded) << r.id;
      listed_ids.insert(r.id);
    }
    std::set<std::string> all;
    for (const auto& ids : made) all.insert(ids.begin(), ids.end());
    EXPECT_EQ(listed_ids, all);
    auto done = (*store)->list_runs({.workflow = "wf", .status = RunStatus::kSucceeded, .limit = 1000});
    ASSERT_TRUE(done.ok());
    EXPECT_EQ(done->size(), static_cast<std::size_t>(kThreads * kEach));
  }

  // A clean close applied everything and removed every journal file (the lock file may stay).
  EXPECT_EQ(journal_files(dir.path()), std::set<std::string>());
  auto plain = open_sqlite(path);
  ASSERT_TRUE(plain.ok()) << plain.status().message();
  auto listed = (*plain)->list_runs({.workflow = "", .status = std::nullopt, .limit = 1000});
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), static_cast<std::size_t>(kThreads * kEach));
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kEach; ++i) {
      const int n = t * kEach + i;
      auto run = (*plain)->get_run(made[t][i]);
      ASSERT_TRUE(run.ok()) << made[t][i] << ": " << run.status().message();
      EXPECT_EQ(run->status, RunStatus::kSucceeded);
      EXPECT_EQ(run->finished_at_ms, 5000 + n);
      ASSERT_EQ(run->steps.size(), 1U);
      EXPECT_EQ(json::stringify(run->steps[0].output), output_of(n));
    }
  }
}

// Writes that are not on a run created here and still running wait for SQLite and return its answer.
TEST(JournaledRunStore, WritesNotOnALiveRunReturnTheDatabasesStatus) {
  test::TempDir dir;
  auto store = open_journaled(dir.path() + "/runs.db");
  ASSERT_TRUE(store.ok()) << store.status().message();
  RunStore& s = **store;

  const StepRecord step = finished_step(0);
  const RunStore::Finish fin{RunStatus::kSucceeded, "", 9};
  for (const std::string& id : {std::string("no-such-run"), new_run_id()}) {
    EXPECT_EQ(s.put_step(id, step).code(), Code::kNotFound) << id;
    EXPECT_EQ(s.set_run_status(id, RunStatus::kFailed, "x", 1).code(), Code::kNotFound) << id;
    EXPECT_EQ(s.put_steps(id, {&step}, nullptr).code(), Code::kNotFound) << id;
    EXPECT_EQ(s.put_steps(id, {&step}, &fin).code(), Code::kNotFound) << id;
    EXPECT_EQ(s.put_steps(id, {}, &fin).code(), Code::kNotFound) << id;
    EXPECT_EQ(s.get_run(id).status().code(), Code::kNotFound) << id;
  }

  // An id not made by new_run_id: its creation waits for SQLite's verdict.
  ASSERT_TRUE(s.create_run(sample("poll-abc", 1)).ok());
  RunRecord other = sample("poll-abc", 2);
  other.workflow = "other";
  EXPECT_EQ(s.create_run(other).code(), Code::kAlreadyExists);
  auto poll = s.get_run("poll-abc");
  ASSERT_TRUE(poll.ok());
  EXPECT_EQ(poll->workflow, "wf");
  EXPECT_EQ(poll->started_at_ms, 1);
  // ... and so do the writes on it (it is not a live run of this store).
  ASSERT_TRUE(s.put_step("poll-abc", step).ok());
  ASSERT_TRUE(s.set_run_status("poll-abc", RunStatus::kFailed, "boom", 7).ok());
  poll = s.get_run("poll-abc");
  ASSERT_TRUE(poll.ok());
  EXPECT_EQ(poll->status, RunStatus::kFailed);
  EXPECT_EQ(poll->error, "boom");
  EXPECT_EQ(poll->finished_at_ms, 7);
  ASSERT_EQ(poll->steps.size(), 1U);
  EXPECT_EQ(poll->steps[0].status, StepStatus::kSucceeded);

  // A UUIDv7 id twice while the first run is still running.
  const std::string id = new_run_id();
  ASSERT_TRUE(s.create_run(sample(id, 3)).ok());
  EXPECT_EQ(s.create_run(sample(id, 4)).code(), Code::kAlreadyExists);
  auto live = s.get_run(id);
  ASSERT_TRUE(live.ok()) << live.status().message();
  EXPECT_EQ(live->status, RunStatus::kRunning);
  EXPECT_EQ(live->started_at_ms, 3);

  // A UUIDv7 run created already ended is not live: the second create hears SQLite's refusal.
  const std::string ended = new_run_id();
  RunRecord done = sample(ended, 5);
  done.status = RunStatus::kSucceeded;
  done.finished_at_ms = 6;
  ASSERT_TRUE(s.create_run(done).ok());
  EXPECT_EQ(s.create_run(done).code(), Code::kAlreadyExists);

  // Connector state.
  auto unset = s.state_get("trigger:wf", "cursor");
  ASSERT_TRUE(unset.ok());
  EXPECT_EQ(*unset, std::nullopt);
  ASSERT_TRUE(s.state_set("trigger:wf", "cursor", "41").ok());
  EXPECT_EQ(s.state_get("trigger:wf", "cursor")->value_or("<unset>"), "41");
  ASSERT_TRUE(s.state_set("trigger:wf", "cursor", "42").ok());
  ASSERT_TRUE(s.state_set("trigger:wf", "other", "x").ok());
  EXPECT_EQ(s.state_get("trigger:wf", "cursor")->value_or("<unset>"), "42");
  ASSERT_TRUE(s.state_delete("trigger:wf", "cursor").ok());
  EXPECT_EQ(*s.state_get("trigger:wf", "cursor"), std::nullopt);
  EXPECT_EQ(s.state_get("trigger:wf", "other")->value_or("<unset>"), "x");
  ASSERT_TRUE(s.state_delete("trigger:wf", "never-set").ok());
}

// Killed with everything journaled and nothing in SQLite: the next open applies the journal.
TEST(JournaledRunStore, ReplaysEverythingJournaledBeforeASigkill) {
  test::TempDir dir;
  const std::string path = dir.path() + "/runs.db";
  create_database(path);
  ASSERT_EQ(journal_files(dir.path()), std::set<std::string>());
  const std::vector<std::string> ids = new_ids(50);
  const std::string failed = write_then_kill_unapplied(path, ids, false);
  ASSERT_EQ(failed, "");
  ASSERT_EQ(journal_files(dir.path()), std::set<std::string>({"runs.db.journal.1"}));
  {
    // Nothing is in SQLite yet.
    auto plain = open_sqlite(path);
    ASSERT_TRUE(plain.ok());
    auto none = (*plain)->list_runs({.workflow = "", .status = std::nullopt, .limit = 1000});
    ASSERT_TRUE(none.ok());
    EXPECT_EQ(none->size(), 0U);
  }

  auto store = open_journaled(path);
  ASSERT_TRUE(store.ok()) << store.status().message();
  // The replayed file is gone; only the reopened store's own (next-numbered) file exists.
  EXPECT_EQ(journal_files(dir.path()), std::set<std::string>({"runs.db.journal.2"}));
  auto succeeded = (*store)->list_runs({.workflow = "", .status = RunStatus::kSucceeded, .limit = 1000});
  auto running = (*store)->list_runs({.workflow = "", .status = RunStatus::kRunning, .limit = 1000});
  ASSERT_TRUE(succeeded.ok());
  ASSERT_TRUE(running.ok());
  EXPECT_EQ(succeeded->size(), 25U);
  EXPECT_EQ(running->size(), 25U);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const int n = static_cast<int>(i);
    auto run = (*store)->get_run(ids[i]);
    ASSERT_TRUE(run.ok()) << i << ": " << run.status().message();
    EXPECT_EQ(run->started_at_ms, n);
    ASSERT_EQ(run->steps.size(), 1U) << i;
    if (i % 2 == 0) {
      EXPECT_EQ(run->status, RunStatus::kSucceeded) << i;
      EXPECT_EQ(run->finished_at_ms, 3000 + n) << i;
      EXPECT_EQ(run->steps[0].status, StepStatus::kSucceeded) << i;
      EXPECT_EQ(json::stringify(run->steps[0].output), output_of(n)) << i;
      EXPECT_EQ(run->steps[0].finished_at_ms, 2000 + n) << i;
    } else {
      EXPECT_EQ(run->status, RunStatus::kRunning) << i;
      EXPECT_EQ(run->finished_at_ms, 0) << i;
      EXPECT_EQ(run->steps[0].status, StepStatus::kRunning) << i;
      EXPECT_EQ(run->steps[0].started_at_ms, 1000 + n) << i;
    }
  }
  // The replayed runs are of an earlier process: writes on them wait for SQLite's answer.
  const std::string odd = ids[1];
  const RunStore::Finish fin{RunStatus::kInterrupted, "restarted", 77};
  EXPECT_TRUE((*store)->put_steps(odd, {}, &fin).ok());
  EXPECT_EQ((*store)->get_run(odd)->status, RunStatus::kInterrupted);
}

// The process was killed inside a write: the file ends in a record cut short, which is dropped.
TEST(JournaledRunStore, DropsARecordCutShortAtTheEndOfTheJournal) {
  test::TempDir dir;
  KilledUnapplied killed;
  ASSERT_NO_FATAL_FAILURE(kill_unapplied(dir.path(), 10, killed));
  const auto& [path, journal, ids] = killed;
  // The header of a record of 1000 bytes, and only 10 of them.
  append_file(journal, u32le(1000) + u32le(0x12345678) + std::string(10, 'x'));

  auto store = open_journaled(path);
  ASSERT_TRUE(store.ok()) << store.status().message();
  auto listed = (*store)->list_runs({.workflow = "", .status = std::nullopt, .limit = 100});
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 10U);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    auto run = (*store)->get_run(ids[i]);
    ASSERT_TRUE(run.ok()) << i << ": " << run.status().message();
    EXPECT_EQ(run->status, RunStatus::kSucceeded) << i;
    ASSERT_EQ(run->steps.size(), 1U);
    EXPECT_EQ(json::stringify(run->steps[0].output), output_of(static_cast<int>(i)));
  }
  EXPECT_EQ(journal_files(dir.path()), std::set<std::string>({"runs.db.journal.2"}));
}

// A header cut short (fewer than 8 bytes after the last record) is dropped the same way.
TEST(JournaledRunStore, DropsAHeaderCutShortAtTheEndOfTheJournal) {
  test::TempDir dir;
  KilledUnapplied killed;
  ASSERT_NO_FATAL_FAILURE(kill_unapplied(dir.path(), 3, killed));
  const auto& [path, journal, ids] = killed;
  append_file(journal, std::string("\x10\x00\x00", 3));

  auto store = open_journaled(path);
  ASSERT_TRUE(store.ok()) << store.status().message();
  for (const auto& id : ids) EXPECT_EQ((*store)->get_run(id)->status, RunStatus::kSucceeded) << id;
}

// A record whose payload does not match its CRC is dropped; the records before it are applied.
TEST(JournaledRunStore, DropsTheLastRecordWhenItsChecksumDoesNotMatch) {
  test::TempDir dir;
  KilledUnapplied killed;
  ASSERT_NO_FATAL_FAILURE(kill_unapplied(dir.path(), 10, killed));
  const auto& [path, journal, ids] = killed;

  std::string bytes = read_file(journal);
  ASSERT_GE(bytes.size(), 8U);
  ASSERT_EQ(bytes.substr(0, 8), "WEFTJRN1");
  // Walk the records [u32 len][u32 crc][payload] to the start of the last one.
  std::size_t pos = 8, last = 0, last_len = 0, records = 0;
  while (pos + 8 <= bytes.size()) {
    std::uint32_t len = 0;
    for (int i = 0; i < 4; ++i) len |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[pos + i])) << (8 * i);
    ASSERT_LE(pos + 8 + len, bytes.size());
    last = pos;
    last_len = len;
    ++records;
    pos += 8 + len;
  }
  ASSERT_EQ(pos, bytes.size());
  ASSERT_EQ(records, 20U);  // a create and a finish per run
  ASSERT_GT(last_len, 0U);
  {
    // The last record is run 9's finish.
    WriteOp op;
    ASSERT_TRUE(decode(std::string_view(bytes).substr(last + 8, last_len), op));
    EXPECT_EQ(op.kind, WriteOp::Kind::kPutSteps);
    EXPECT_EQ(op.key, ids[9]);
  }
  bytes[last + 8 + last_len / 2] = static_cast<char>(bytes[last + 8 + last_len / 2] ^ 0x5A);
  write_file(journal, bytes);

  auto store = open_journaled(path);
  ASSERT_TRUE(store.ok()) << store.status().message();
  for (int i = 0; i < 9; ++i) {
    auto run = (*store)->get_run(ids[static_cast<std::size_t>(i)]);
    ASSERT_TRUE(run.ok()) << i << ": " << run.status().message();
    EXPECT_EQ(run->status, RunStatus::kSucceeded) << i;
    ASSERT_EQ(run->steps.size(), 1U);
    EXPECT_EQ(run->steps[0].status, StepStatus::kSucceeded) << i;
  }
  // Run 9 was created (its create record is intact) but its finish was dropped.
  auto nine = (*store)->get_run(ids[9]);
  ASSERT_TRUE(nine.ok()) << nine.status().message();
  EXPECT_EQ(nine->status, RunStatus::kRunning);
  EXPECT_EQ(nine->finished_at_ms, 0);
  ASSERT_EQ(nine->steps.size(), 1U);
  EXPECT_EQ(nine->steps[0].status, StepStatus::kPending);
  EXPECT_EQ(json::stringify(nine->steps[0].output), "null");
}

TEST(JournaledRunStore, RefusesAJournalFileThatIsNotAJournal) {
  test::TempDir dir;
  const std::string path = dir.path() + "/runs.db";
  const std::string bogus = dir.write("runs.db.journal.1", "hello world, not a journal");
  {
    auto store = open_journaled(path);
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(store.status().code(), Code::kDataLoss);
    EXPECT_NE(store.status().message().find(bogus), std::string::npos) << store.status().message();
    EXPECT_NE(store.status().message().find("not a weft run journal"), std::string::npos)
        << store.status().message();
  }
  // Left where it is, and refused again; the journal's lock was released both times.
  EXPECT_EQ(read_file(bogus), "hello world, not a journal");
  EXPECT_FALSE(open_journaled(path).ok());

  // Moved away, the store opens (as the journaled store: it makes journal file 1).
  std::filesystem::rename(bogus, dir.path() + "/moved-away");
  auto store = open_journaled(path);
  ASSERT_TRUE(store.ok()) << store.status().message();
  EXPECT_EQ(journal_files(dir.path()), std::set<std::string>({"runs.db.journal.1"}));
}

TEST(JournaledRunStore, IgnoresAnEmptyJournalFile) {
  test::TempDir dir;
  const std::string path = dir.path() + "/runs.db";
  dir.write("runs.db.journal.1", "");
  auto store = open_journaled(path);
  ASSERT_TRUE(store.ok()) << store.status().message();
  const std::string id = new_run_id();
  ASSERT_TRUE((*store)->create_run(sample(id, 1)).ok());
  EXPECT_EQ((*store)->get_run(id)->status, RunStatus::kRunning);
  EXPECT_EQ(journal_files(dir.path()), std::set<std::string>({"runs.db.journal.2"}));
}

// A short first file (fewer than the 8 bytes of the magic) is not a journal either.
TEST(JournaledRunStore, RefusesAJournalFileShorterThanItsMagic) {
  test::TempDir dir;
  const std::string bogus = dir.write("runs.db.journal.3", "WEF");
  auto store = open_journaled(dir.path() + "/runs.db");
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find(bogus + ": not a weft run journal"), std::string::npos)
      << store.status().message();
}

TEST(JournaledRunStore, RemovesFullJournalFilesOnceApplied) {
  test::TempDir dir;
  const std::string path = dir.path() + "/runs.db";
  JournalOptions options;
  options.segment_bytes = 4096;
  std::vector<std::string> ids;
  {
    auto store = open_journaled(path, options);
    ASSERT_TRUE(store.ok()) << store.status().message();
    for (int i = 0; i < 300; ++i) {
      ids.push_back(new_run_id());
      ASSERT_TRUE((*store)->create_run(sample(ids.back(), i)).ok());
      const StepRecord step = finished_step(i);
      const RunStore::Finish fin{RunStatus::kSucceeded, "", 4000 + i};
      ASSERT_TRUE((*store)->put_steps(ids.back(), {&step}, &fin).ok());
    }
    auto last = (*store)->get_run(ids.back());  // waits until everything is applied
    ASSERT_TRUE(last.ok()) << last.status().message();
    EXPECT_EQ(last->status, RunStatus::kSucceeded);

    // The applier removes the applied files right after it wakes the readers (outside its lock),
    // so the read above may return a moment before the last removals: allow it a moment.
    auto files = journal_files(dir.path());
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (files.size() > 2 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      files = journal_files(dir.path());
    }
    EXPECT_GE(files.size(), 1U);
    EXPECT_LE(files.size(), 2U) << files.size() << " journal files";
    ASSERT_FALSE(files.empty());
    // 600 records of a few hundred bytes in files of 4 KiB: many files were started.
    EXPECT_GE(journal_number(*files.rbegin()), 20U);

    auto listed = (*store)->list_runs({.workflow = "", .status = RunStatus::kSucceeded, .limit = 1000});
    ASSERT_TRUE(listed.ok());
    EXPECT_EQ(listed->size(), 300U);
  }
  EXPECT_EQ(journal_files(dir.path()), std::set<std::string>());
  auto plain = open_sqlite(path);
  ASSERT_TRUE(plain.ok());
  for (int i = 0; i < 300; ++i) {
    auto run = (*plain)->get_run(ids[static_cast<std::size_t>(i)]);
    ASSERT_TRUE(run.ok()) << i;
    EXPECT_EQ(run->status, RunStatus::kSucceeded);
    EXPECT_EQ(run->finished_at_ms, 4000 + i);
    EXPECT_EQ(json::stringify(run->steps[0].output), output_of(i));
  }
}

// Another connection holds the database's write lock: writes on live runs still return at once,
// a read gives up after `wait` saying the store is behind, and all is applied once the lock goes.
TEST(JournaledRunStore, KeepsAcceptingWritesWhileTheDatabaseIsLocked) {
  test::TempDir dir;
  const std::string path = dir.path() + "/runs.db";
  JournalOptions options;
  options.wait = std::chrono::milliseconds(200);
  auto store = open_journaled(path, options);
  ASSERT_TRUE(store.ok()) << store.status().message();

  sqlite3* blocker = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &blocker), SQLITE_OK);
  ASSERT_EQ(exec(blocker, "BEGIN EXCLUSIVE"), SQLITE_OK) << sqlite3_errmsg(blocker);

  std::vector<std::string> ids = new_ids(20);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const int n = static_cast<int>(i);
    ASSERT_TRUE((*store)->create_run(sample(ids[i], n)).ok()) << i;
    const StepRecord step = finished_step(n);
    const RunStore::Finish fin{RunStatus::kSucceeded, "", 4000 + n};
    ASSERT_TRUE((*store)->put_steps(ids[i], {&step}, &fin).ok()) << i;
  }
  auto behind = (*store)->get_run(ids[0]);
  ASSERT_FALSE(behind.ok());
  EXPECT_EQ(behind.status().code(), Code::kUnavailable);
  EXPECT_NE(behind.status().message().find("behind"), std::string::npos) << behind.status().message();
  EXPECT_NE(behind.status().message().find("40 writes are journaled but not yet in the database"),
            std::string::npos)
      << behind.status().message();
  EXPECT_EQ(query_one(blocker, "SELECT count(*) FROM runs"), "0");  // the applier did not get through

  ASSERT_EQ(exec(blocker, "COMMIT"), SQLITE_OK);
  ASSERT_EQ(sqlite3_close(blocker), SQLITE_OK);

  // The applier was waiting in SQLite's busy handler; it gets through soon after the lock goes.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  Result<RunRecord> run = (*store)->get_run(ids[0]);
  while (!run.ok() && run.status().code() == Code::kUnavailable && std::chrono::steady_clock::now() < deadline)
    run = (*store)->get_run(ids[0]);
  ASSERT_TRUE(run.ok()) << run.status().message();
  EXPECT_EQ(run->status, RunStatus::kSucceeded);
  auto listed = (*store)->list_runs({.workflow = "", .status = RunStatus::kSucceeded, .limit = 100});
  ASSERT_TRUE(listed.ok()) << listed.status().message();
  EXPECT_EQ(listed->size(), 20U);
}

// One process at a time uses the journal; another open of the same database writes straight to SQLite.
TEST(JournaledRunStore, ASecondOpenWritesStraightToTheDatabase) {
  test::TempDir dir;
  const std::string path = dir.path() + "/runs.db";
  auto first = open_journaled(path);
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ(journal_files(dir.path()), std::set<std::string>({"runs.db.journal.1"}));

  auto second = open_journaled(path);
  ASSERT_TRUE(second.ok()) << second.status().message();
  const std::string id = new_run_id();
  ASSERT_TRUE((*second)->create_run(sample(id, 1)).ok());
  auto run = (*second)->get_run(id);
  ASSERT_TRUE(run.ok()) << run.status().message();
  EXPECT_EQ(run->status, RunStatus::kRunning);
  // It made no journal file of its own, and its write is in SQLite at once.
  EXPECT_EQ(journal_files(dir.path()), std::set<std::string>({"runs.db.journal.1"}));
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    EXPECT_EQ(query_one(db, "SELECT count(*) FROM runs WHERE id = '" + id + "'"), "1");
    sqlite3_close(db);
  }
  EXPECT_EQ((*first)->get_run(id)->status, RunStatus::kRunning);

  // The first store's writes are visible to the second once applied.
  const std::string mine = new_run_id();
  ASSERT_TRUE((*first)->create_run(sample(mine, 2)).ok());
  ASSERT_TRUE((*first)->get_run(mine).ok());
  EXPECT_TRUE((*second)->get_run(mine).ok());

  // Once the first is closed, the journal is free again.
  first->reset();
  second->reset();
  EXPECT_EQ(journal_files(dir.path()), std::set<std::string>());
  auto third = open_journaled(path);
  ASSERT_TRUE(third.ok());
  // Numbers go on from the last position applied, never back to a file already applied.
  EXPECT_EQ(journal_files(dir.path()), std::set<std::string>({"runs.db.journal.2"}));
}

// Replay after a kill starts after the last committed position, so a write that SQLite refused
// (not_found) when it was made is not applied again once a later write created what it needed.
TEST(JournaledRunStore, ReplayAfterASigkillDoesNotApplyAWriteThatWasRefused) {
  test::TempDir dir;
  const std::string path = dir.path() + "/runs.db";
  create_database(path);
  const std::string failed = run_then_sigkill([&](int fd) -> int {
    auto store = open_journaled(path);
    if (!store.ok()) return 2;
    // "poll-x" does not exist yet: refused, nothing stored.
    if ((*store)->put_step("poll-x", finished_step(1)).code() != Code::kNotFound) return 3;
    if (!(*store)->create_run(sample("poll-x", 1)).ok()) return 4;
    auto run = (*store)->get_run("poll-x");
    if (!run.ok() || run->steps.size() != 1 || run->steps[0].status != StepStatus::kPending) return 5;
    signal_and_wait(fd);
  });
  ASSERT_EQ(failed, "");
  {
    // What SQLite holds at the kill: the run as created, step pending.
    auto plain = open_sqlite(path);
    ASSERT_TRUE(plain.ok());
    auto run = (*plain)->get_run("poll-x");
    ASSERT_TRUE(run.ok());
    ASSERT_EQ(run->steps.size(), 1U);
    EXPECT_EQ(run->steps[0].status, StepStatus::kPending);
  }
  auto store = open_journaled(path);
  ASSERT_TRUE(store.ok()) << store.status().message();
  auto run = (*store)->get_run("poll-x");
  ASSERT_TRUE(run.ok()) << run.status().message();
  ASSERT_EQ(run->steps.size(), 1U);
  EXPECT_STREQ(to_string(run->steps[0].status), "pending") << "the refused put_step was applied by the replay";
  EXPECT_EQ(json::stringify(run->steps[0].output), "null");
}

// One process at a time uses the journal and another writes straight to SQLite (run_store.hpp).
// A write of the other process made after a journaled write was committed must survive the
// journaled process's kill and restart: a replay does not apply the already-committed record again.
TEST(JournaledRunStore, ReplayAfterASigkillDoesNotUndoALaterWriteOfAnotherProcess) {
  test::TempDir dir;
  const std::string path = dir.path() + "/runs.db";
  create_database(path);
  Status other_write = Status(Code::kInternal, "not run");
  const std::string failed = run_then_sigkill(
      [&](int fd) -> int {
        auto store = open_journaled(path);
        if (!store.ok()) return 2;
        if (!(*store)->state_set("trigger:wf", "cursor", "1").ok()) return 3;  // returns once applied
        signal_and_wait(fd);
      },
      [&] {
        // Another process (here: the parent, the journal's lock being the child's): cursor 2.
        auto plain = open_journaled(path);  // writes straight to SQLite: the child holds the lock
        if (!plain.ok()) {
          other_write = plain.status();
          return;
        }
        other_write = (*plain)->state_set("trigger:wf", "cursor", "2");
      });
  ASSERT_EQ(failed, "");
  ASSERT_TRUE(other_write.ok()) << other_write.message();
  {
    auto plain = open_sqlite(path);
    ASSERT_TRUE(plain.ok());
    EXPECT_EQ((*plain)->state_get("trigger:wf", "cursor")->value_or("<unset>"), "2");  // at the kill
  }
  auto store = open_journaled(path);
  ASSERT_TRUE(store.ok()) << store.status().message();
  EXPECT_EQ((*store)->state_get("trigger:wf", "cursor")->value_or("<unset>"), "2")
      << "the restart's replay overwrote the other process's later write";
}

// Past max_pending writes not yet taken by the applier, a writer waits at most `wait` for room and
// then fails; the write it was refused is not journaled, and the others are applied later.
TEST(JournaledRunStore, AWriterWaitsBoundedForRoomThenFails) {
  test::TempDir dir;
  const std::string path = dir.path() + "/runs.db";
  JournalOptions options;
  options.max_pending = 5;
  options.wait = std::chrono::milliseconds(100);
  auto store = open_journaled(path, options);
  ASSERT_TRUE(store.ok()) << store.status().message();
  sqlite3* blocker = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &blocker), SQLITE_OK);
  ASSERT_EQ(exec(blocker, "BEGIN EXCLUSIVE"), SQLITE_OK);

  // The applier takes what is queued into its (blocked) transaction, then the queue fills up.
  const std::vector<std::string> ids = new_ids(40);
  std::vector<std::string> accepted;
  Status refused;
  for (const auto& id : ids) {
    Status s = (*store)->create_run(sample(id, 1));
    if (!s.ok()) {
      refused = s;
      break;
    }
    accepted.push_back(id);
    if (accepted.size() == 1) std::this_thread::sleep_for(std::chrono::milliseconds(50));  // taken by the applier
  }
  EXPECT_EQ(refused.code(), Code::kUnavailable) << accepted.size() << " writes accepted";
  EXPECT_NE(refused.message().find("behind"), std::string::npos) << refused.message();
  EXPECT_GE(accepted.size(), 5U);
  EXPECT_LT(accepted.size(), ids.size());

  ASSERT_EQ(exec(blocker, "COMMIT"), SQLITE_OK);
  ASSERT_EQ(sqlite3_close(blocker), SQLITE_OK);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  auto listed = (*store)->list_runs({.workflow = "", .status = std::nullopt, .limit = 100});
  while (!listed.ok() && std::chrono::steady_clock::now() < deadline)
    listed = (*store)->list_runs({.workflow = "", .status = std::nullopt, .limit = 100});
  ASSERT_TRUE(listed.ok()) << listed.status().message();
  EXPECT_EQ(listed->size(), accepted.size());
  EXPECT_EQ((*store)->get_run(ids[accepted.size()]).status().code(), Code::kNotFound);
  // The refused create ended the run here: the id can be created again (and waits no longer).
  EXPECT_TRUE((*store)->create_run(sample(ids[accepted.size()], 2)).ok());
  EXPECT_EQ((*store)->get_run(ids[accepted.size()])->started_at_ms, 2);
}

// ---------------------------------------------------------------------------------------------
// The journal's record payload.

WriteOp full_op(WriteOp::Kind kind) {
  WriteOp op;
  op.kind = kind;
  op.key = "0190a8b2-1c2d-7e3f-8a4b-5c6d7e8f9a0b";
  op.workflow = "wf";
  op.workflow_file = "/flows/wf.yaml";
  op.status = "succeeded";
  op.inputs = R"({"n":1})";
  op.trigger = std::string("bin\0ary\xff", 8);
  op.error = "step 'b' failed: boom";
  op.started = std::numeric_limits<std::int64_t>::min();
  op.finished = std::numeric_limits<std::int64_t>::max();
  op.finish = true;
  for (int i = 0; i < 2; ++i) {
    StoredStep s;
    s.idx = i == 0 ? -1 : 7;
    s.step_id = "step" + std::to_string(i);
    s.uses = "demo.echo";
    s.status = "failed";
    s.input = R"({"text":"x"})";
    s.output = i == 0 ? std::string() : std::string(70000, 'o');
    s.error = "e" + std::to_string(i);
    s.started = 11 + i;
    s.finished = 22 + i;
    s.duration = -33 - i;
    op.steps.push_back(s);
  }
  op.name = "cursor";
  op.value = "41";
  op.updated = 1234567890123;
  return op;
}

void expect_same(const WriteOp& a, const WriteOp& b) {
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.key, b.key);
  EXPECT_EQ(a.workflow, b.workflow);
  EXPECT_EQ(a.workflow_file, b.workflow_file);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.inputs, b.inputs);
  EXPECT_EQ(a.trigger, b.trigger);
  EXPECT_EQ(a.error, b.error);
  EXPECT_EQ(a.started, b.started);
  EXPECT_EQ(a.finished, b.finished);
  EXPECT_EQ(a.finish, b.finish);
  ASSERT_EQ(a.steps.size(), b.steps.size());
  for (std::size_t i = 0; i < a.steps.size(); ++i) {
    EXPECT_EQ(a.steps[i].idx, b.steps[i].idx) << i;
    EXPECT_EQ(a.steps[i].step_id, b.steps[i].step_id) << i;
    EXPECT_EQ(a.steps[i].uses, b.steps[i].uses) << i;
    EXPECT_EQ(a.steps[i].status, b.steps[i].status) << i;
    EXPECT_EQ(a.steps[i].input, b.steps[i].input) << i;
    EXPECT_EQ(a.steps[i].output, b.steps[i].output) << i;
    EXPECT_EQ(a.steps[i].error, b.steps[i].error) << i;
    EXPECT_EQ(a.steps[i].started, b.steps[i].started) << i;
    EXPECT_EQ(a.steps[i].finished, b.steps[i].finished) << i;
    EXPECT_EQ(a.steps[i].duration, b.steps[i].duration) << i;
  }
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.value, b.value);
  EXPECT_EQ(a.updated, b.updated);
}

TEST(JournalRecord, EncodeDecodeRoundTripsEveryField) {
  for (auto kind : {WriteOp::Kind::kCreateRun, WriteOp::Kind::kPutSteps, WriteOp::Kind::kSetStatus,
                    WriteOp::Kind::kStateSet, WriteOp::Kind::kStateDelete}) {
    const WriteOp op = full_op(kind);
    std::string bytes;
    encode(op, bytes);
    WriteOp back;
    back.steps.push_back(StoredStep{});  // decode replaces what was there
    ASSERT_TRUE(decode(bytes, back)) << static_cast<int>(kind);
    expect_same(op, back);
  }
  // A default op (all empty) too; and encode appends to what out holds already.
  std::string bytes = "prefix";
  encode(WriteOp{}, bytes);
  WriteOp back = full_op(WriteOp::Kind::kStateSet);
  ASSERT_TRUE(decode(std::string_view(bytes).substr(6), back));
  expect_same(WriteOp{}, back);
}

TEST(JournalRecord, DecodeRefusesEveryPrefixAndATrailingByte) {
  WriteOp op = full_op(WriteOp::Kind::kPutSteps);
  op.steps[1].output = "short";  // every prefix is tried: keep it small
  std::string bytes;
  encode(op, bytes);
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    WriteOp back;
    EXPECT_FALSE(decode(std::string_view(bytes).substr(0, n), back)) << "prefix of " << n << " bytes";
  }
  WriteOp back;
  EXPECT_TRUE(decode(bytes, back));
  EXPECT_FALSE(decode(bytes + '\0', back));
  EXPECT_FALSE(decode(bytes + 'x', back));

  // Kinds outside 1..5 and a finish flag other than 0/1 are not ops of ours.
  std::string bad_kind = bytes;
  bad_kind[0] = 0;
  EXPECT_FALSE(decode(bad_kind, back));
  bad_kind[0] = 6;
  EXPECT_FALSE(decode(bad_kind, back));
  // A huge step count is refused without allocating for it.
  WriteOp no_steps = full_op(WriteOp::Kind::kStateSet);
  no_steps.steps.clear();
  std::string b2;
  encode(no_steps, b2);
  // The step count sits right after the finish flag: find it as the u32 0 before name "cursor".
  const std::string tail = u32le(0) + u32le(6) + "cursor";
  const auto at = b2.rfind(tail);
  ASSERT_NE(at, std::string::npos);
  b2.replace(at, 4, u32le(0xFFFFFFFF));
  EXPECT_FALSE(decode(b2, back));
  b2.replace(at, 4, u32le(0));
  ASSERT_TRUE(decode(b2, back));
  ASSERT_EQ(b2[at - 1], 1);  // the finish flag, just before the step count
  b2[at - 1] = 2;
  EXPECT_FALSE(decode(b2, back));
}

}  // namespace
}  // namespace weft::store
