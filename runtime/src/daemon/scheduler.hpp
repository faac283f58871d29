// scheduler.hpp — fires the cron triggers of the served workflows.
//
//   CronScheduler sched([&](const std::string& wf, const Json& trigger) { runs.trigger_workflow(wf, trigger,
//   true); }); sched.set_schedules({{"nightly", *CronSchedule::parse("0 3 * * *", "Europe/Paris")}});  // on
//   (re)load sched.start();
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/json.hpp"
#include "daemon/cron.hpp"

namespace weft::daemon {

class CronScheduler {
 public:
  // Called on the scheduler's thread with the workflow name and {"type": "cron", "schedule",
  // "scheduled_at" (ISO-8601 UTC)}; it should start the run asynchronously and return quickly.
  using Fire = std::function<void(const std::string& workflow, const Json& trigger)>;

  explicit CronScheduler(Fire fire);
  ~CronScheduler();  // stops the thread
  CronScheduler(const CronScheduler&) = delete;
  CronScheduler& operator=(const CronScheduler&) = delete;

  // Replaces the schedules (on reload). Each schedule's next fire is computed from `now`, so a
  // reload never fires a backlog. Thread-safe.
  void set_schedules(std::vector<std::pair<std::string, CronSchedule>> schedules,
                     std::chrono::sys_seconds now = std::chrono::time_point_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now()));
  // Fires every schedule due at or before now (once each, even when several fire times were missed,
  // e.g. after a suspend) and returns how many fired. Thread-safe; the thread calls it, tests too.
  int tick(std::chrono::sys_seconds now);

  void start();
  void stop();

 private:
  struct Entry {
    std::string workflow;
    CronSchedule schedule;
    std::optional<std::chrono::sys_seconds> next;
  };
  Fire fire_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Entry> entries_;  // guarded by mu_
  bool stopping_ = false;       // guarded by mu_
  std::thread thread_;
};

}  // namespace weft::daemon
