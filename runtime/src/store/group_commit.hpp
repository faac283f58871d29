// group_commit.hpp — many writer threads, one transaction: each writer queues its write and waits;
// the writer at the head of the queue (the leader) hands everything queued to the commit function
// in one call, then wakes each writer with its own Status. No thread of its own and no timer: a
// batch is whatever queued up while the previous one was committing, so a lone writer pays nothing.
//
//   GroupCommit gc([&](std::span<GroupCommit::Write* const> batch) { /* BEGIN; apply each; COMMIT */ });
//   std::function<Status()> apply = [&] { return insert_row(); };
//   Status s = gc.submit(apply);   // returns once the batch holding it has been committed (or failed)
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
#include <utility>
#include <vector>

#include "core/status.hpp"

namespace weft::store {

class GroupCommit {
 public:
  // One queued write. The commit function calls apply and sets status; the rest is the queue's.
  struct Write {
    const std::function<Status()>* apply = nullptr;  // not owned; lives on the writer's stack
    Status status;
    bool done = false;  // guarded by GroupCommit::mu_
    std::condition_variable cv;
  };
  // Runs on the leader's thread, never concurrently with itself. Must set every write's status.
  using CommitFn = std::function<void(std::span<Write* const> batch)>;

  // Batches are capped so one leader does not hold everybody's latency hostage under a flood.
  static constexpr std::size_t kMaxBatch = 256;

  explicit GroupCommit(CommitFn commit) : commit_(std::move(commit)) {}
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  // Queues apply, returns its Status once the batch holding it was committed. Thread-safe; apply
  // must not call submit (it runs on whichever thread leads, with the commit function's locks held).
  Status submit(const std::function<Status()>& apply) {
    Write w;
    w.apply = &apply;
    std::unique_lock lock(mu_);
    queue_.push_back(&w);
    w.cv.wait(lock, [&] { return w.done || queue_.front() == &w; });
    if (w.done) return std::move(w.status);

    // Leader: everything queued so far (our own write first) goes into one commit.
    const std::size_t n = std::min(queue_.size(), kMaxBatch);
    std::vector<Write*> batch(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
    lock.unlock();
    commit_(batch);
    lock.lock();
    for (Write* b : batch) {
      queue_.pop_front();
      if (b == &w) continue;
      b->done = true;
      // Notified under mu_, so the waiter cannot return (and destroy b) until we are done with it.
      b->cv.notify_one();
    }
    if (!queue_.empty()) queue_.front()->cv.notify_one();  // the next leader
    return std::move(w.status);
  }

 private:
  CommitFn commit_;
  std::mutex mu_;
  std::deque<Write*> queue_;  // guarded by mu_; front is the leader, or the next one
};

}  // namespace weft::store
