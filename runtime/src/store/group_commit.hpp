// group_commit.hpp — many writer threads, one transaction: each writer queues its write and waits;
// the writer at the head of the queue (the leader) hands everything queued to the commit function
// in one call, then wakes each writer with its own Status. No thread of its own and no timer: a
// batch is whatever queued up while the previous one was committing, so a lone writer pays nothing.
//
//   GroupCommit gc([&](std::span<GroupCommit::Write* const> batch) { /* BEGIN; apply each; COMMIT */ });
//   std::function<Status()> apply = [&] { return insert_row(); };
//   Status s = gc.submit(apply);   // returns once the batch holding it has been committed (or failed)
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
#include <utility>
#include <vector>

#include "core/status.hpp"

namespace weft::store {

// A one-shot wake-up on a futex of its own: wait() sleeps until set(). Not std::binary_semaphore:
// libstdc++'s waits spin with sched_yield before they sleep, which on a busy 2-core machine was a
// context switch more per write. set() may be the last thing done to the object: the waiter can
// return and destroy it as soon as the flag is visible, and the FUTEX_WAKE that follows only
// names the address (a later futex at the same address may see one spurious wake-up, which every
// futex wait tolerates), as with glibc's sem_post.
class Wakeup {
 public:
  void wait() {
    while (flag_.load(std::memory_order_acquire) == 0) {
      ::syscall(SYS_futex, &flag_, FUTEX_WAIT_PRIVATE, 0, nullptr, nullptr, 0);
    }
  }
  void set() {
    flag_.store(1, std::memory_order_release);
    ::syscall(SYS_futex, &flag_, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
  }

 private:
  static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));
  std::atomic<std::uint32_t> flag_{0};
};

class GroupCommit {
 public:
  // One queued write. The commit function calls apply and sets status; the rest is the queue's.
  struct Write {
    const std::function<Status()>* apply = nullptr;  // not owned; lives on the writer's stack
    Status status;
    bool done = false;  // written before `wake` is set, read after it was seen set
    Wakeup wake;        // set once: the write is done, or its writer leads next
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
    bool leads = false;
    {
      std::lock_guard lock(mu_);
      queue_.push_back(&w);
      leads = queue_.front() == &w;
    }
    if (!leads) {
      // Each writer sleeps on its own futex, so the leader wakes exactly the writers it
      // committed and none of them then queues on mu_ behind the others.
      w.wake.wait();
      if (w.done) return std::move(w.status);
    }

    // Leader: everything queued so far (our own write first) goes into one commit.
    std::vector<Write*> batch;
    {
      std::lock_guard lock(mu_);
      const std::size_t n = std::min(queue_.size(), kMaxBatch);
      batch.assign(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
    }
    commit_(batch);
    Write* next = nullptr;
    {
      std::lock_guard lock(mu_);
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(batch.size()));
      if (!queue_.empty()) next = queue_.front();
    }
    // The next leader first, so its commit overlaps the wake-ups below. A woken writer may return
    // (and its Write go) as soon as its wake-up is set; nothing here touches it after that.
    if (next != nullptr) next->wake.set();
    for (Write* b : batch) {
      if (b == &w) continue;
      b->done = true;
      b->wake.set();
    }
    return std::move(w.status);
  }

 private:
  CommitFn commit_;
  std::mutex mu_;
  std::deque<Write*> queue_;  // guarded by mu_; front is the leader, or the next one
};

}  // namespace weft::store
