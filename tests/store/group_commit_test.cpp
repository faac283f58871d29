#include "store/group_commit.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace weft::store {
namespace {

// While one batch commits, the writers that arrive queue up; the next leader takes all of them in
// one commit, and each caller still gets the Status its own write produced.
TEST(GroupCommit, WritersQueuedDuringACommitShareTheNextOneAndKeepTheirOwnStatus) {
  std::mutex mu;
  std::vector<std::size_t> batches;
  std::atomic<bool> release{false};
  GroupCommit gc([&](std::span<GroupCommit::Write* const> batch) {
    {
      std::lock_guard lock(mu);
      batches.push_back(batch.size());
    }
    while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    for (auto* w : batch) w->status = (*w->apply)();
  });

  std::thread first([&] {
    const std::function<Status()> apply = [] { return Status::Ok(); };
    EXPECT_TRUE(gc.submit(apply).ok());
  });
  while (true) {  // the first writer is leading and stuck in its commit
    std::lock_guard lock(mu);
    if (!batches.empty()) break;
  }
  constexpr int kWaiting = 5;
  std::vector<std::thread> others;
  for (int i = 0; i < kWaiting; ++i) {
    others.emplace_back([&, i] {
      const std::function<Status()> apply = [i] {
        return i % 2 == 0 ? Status::Ok() : Status(Code::kNotFound, "write " + std::to_string(i));
      };
      Status s = gc.submit(apply);
      if (i % 2 == 0) {
        EXPECT_TRUE(s.ok()) << i;
      } else {
        EXPECT_EQ(s.code(), Code::kNotFound);
        EXPECT_EQ(s.message(), "write " + std::to_string(i));
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let them all queue
  release.store(true);
  first.join();
  for (auto& t : others) t.join();
  ASSERT_EQ(batches.size(), 2U);
  EXPECT_EQ(batches[0], 1U);
  EXPECT_EQ(batches[1], static_cast<std::size_t>(kWaiting));
}

TEST(GroupCommit, ALoneWriterCommitsAtOnce) {
  int commits = 0;
  GroupCommit gc([&](std::span<GroupCommit::Write* const> batch) {
    ++commits;
    for (auto* w : batch) w->status = (*w->apply)();
  });
  const std::function<Status()> apply = [] { return Status(Code::kAlreadyExists, "dup"); };
  EXPECT_EQ(gc.submit(apply).code(), Code::kAlreadyExists);
  EXPECT_EQ(gc.submit(apply).code(), Code::kAlreadyExists);
  EXPECT_EQ(commits, 2);
}

}  // namespace
}  // namespace weft::store
