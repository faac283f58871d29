// scheduler.cpp — one thread sleeping until the earliest next fire (or a change of schedules).
#include "daemon/scheduler.hpp"

#include <ctime>

#include "core/log.hpp"

namespace weft::daemon {
namespace {

std::string iso_utc(std::chrono::sys_seconds t) {
  std::time_t tt = static_cast<std::time_t>(t.time_since_epoch().count());
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

CronScheduler::CronScheduler(Fire fire) : fire_(std::move(fire)) {}

CronScheduler::~CronScheduler() { stop(); }

void CronScheduler::set_schedules(std::vector<std::pair<std::string, CronSchedule>> schedules,
                                  std::chrono::sys_seconds now) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    entries_.clear();
    for (auto& [wf, s] : schedules) {
      auto next = s.next_after(now);
      entries_.push_back({wf, std::move(s), next});
    }
  }
  cv_.notify_all();
}

int CronScheduler::tick(std::chrono::sys_seconds now) {
  std::vector<std::pair<std::string, Json>> due;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (Entry& e : entries_) {
      if (!e.next || *e.next > now) continue;
      due.emplace_back(e.workflow, json::object({{"type", "cron"},
                                                 {"schedule", e.schedule.expression()},
                                                 {"scheduled_at", iso_utc(*e.next)}}));
      e.next = e.schedule.next_after(now);  // missed fires collapse into this one
    }
  }
  // Fired outside the lock: the callback may take time or call set_schedules.
  for (const auto& [wf, trigger] : due) {
    try {
      fire_(wf, trigger);
    } catch (const std::exception& ex) {
      log::error("daemon", "cron trigger failed", {{"workflow", wf}, {"error", ex.what()}});
    }
  }
  return static_cast<int>(due.size());
}

void CronScheduler::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      auto earliest = std::chrono::system_clock::now() + std::chrono::minutes(1);
      for (const Entry& e : entries_)
        if (e.next && *e.next < earliest) earliest = *e.next;
      // Waking at least every minute also corrects for wall-clock jumps.
      cv_.wait_until(lock, earliest, [this] { return stopping_; });
      if (stopping_) break;
      lock.unlock();
      tick(std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now()));
      lock.lock();
    }
  });
}

void CronScheduler::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace weft::daemon
