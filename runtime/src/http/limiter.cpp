#include "http/limiter.hpp"

#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/Timestamp.h>

#include <algorithm>

namespace weft::http {

std::string format_wall_time(Limiter::Clock::time_point when) {
  auto wall = std::chrono::system_clock::now() +
              std::chrono::duration_cast<std::chrono::system_clock::duration>(when - Limiter::Clock::now());
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(wall.time_since_epoch()).count();
  return Poco::DateTimeFormatter::format(Poco::Timestamp(us), "%Y-%m-%dT%H:%M:%SZ");
}

namespace {
Status rate_limited_until(Limiter::Clock::time_point when) {
  return {Code::kRateLimited, "rate limited until " + format_wall_time(when)};
}
}  // namespace

Status Limiter::acquire(const std::string& key, const std::optional<RateSpec>& rate,
                        Clock::time_point deadline) {
  const bool paced = rate && rate->requests > 0 && rate->per_seconds > 0;
  if (key.empty() && !paced) return Status::Ok();
  std::unique_lock lock(mu_);
  Key& k = keys_[key];
  for (;;) {
    const auto now = Clock::now();
    if (k.cooldown_until > now) {
      if (k.cooldown_until > deadline) return rate_limited_until(k.cooldown_until);
      cv_.wait_until(lock, k.cooldown_until);
      continue;  // the cooldown may have been extended meanwhile
    }
    if (!paced) return Status::Ok();
    const auto window =
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(rate->per_seconds));
    while (!k.starts.empty() && k.starts.front() + window <= now) k.starts.pop_front();
    const auto limit = static_cast<std::size_t>(rate->requests);
    if (k.starts.size() < limit) {
      k.starts.push_back(now);
      return Status::Ok();
    }
    // The earliest moment a slot frees: when the start `limit` places back leaves the window.
    const auto next = k.starts[k.starts.size() - limit] + window;
    if (next > deadline) return rate_limited_until(next);
    cv_.wait_until(lock, next);
  }
}

bool Limiter::cool_down(const std::string& key, Clock::time_point until) {
  std::lock_guard lock(mu_);
  Key& k = keys_[key];
  if (until <= k.cooldown_until) return false;
  k.cooldown_until = until;
  cv_.notify_all();
  return true;
}

}  // namespace weft::http
