// limiter.hpp — per-key admission for outgoing calls: a shared 429 cooldown and optional pacing.
//
//   Limiter limiter;
//   WEFT_RETURN_IF_ERROR(limiter.acquire("conn:my-rs", RateSpec{100, 60}, deadline));  // may wait
//   limiter.cool_down("conn:my-rs", now + 30s);   // every caller of the key waits until then
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "core/status.hpp"
#include "http/client.hpp"

namespace weft::http {

// Thread-safe. Keys live as long as the Limiter (one per limiter_key, i.e. per connection).
class Limiter {
 public:
  using Clock = std::chrono::steady_clock;

  // Waits until a call under key may start: after the key's cooldown, and (with rate) when fewer
  // than rate.requests calls started in the last rate.per_seconds (a sliding window, so the
  // declared rate is never exceeded in any window). Fails at once with kRateLimited "rate limited
  // until <time>" when that moment is after deadline, instead of sleeping towards it.
  Status acquire(const std::string& key, const std::optional<RateSpec>& rate, Clock::time_point deadline);

  // Pauses every call under key until `until` (extends, never shortens, a running cooldown).
  // Returns true when this call set or extended the cooldown, so the caller logs it once.
  bool cool_down(const std::string& key, Clock::time_point until);

 private:
  struct Key {
    Clock::time_point cooldown_until{};
    std::deque<Clock::time_point> starts;  // start times inside the current pacing window
  };
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Key> keys_;
};

// "2026-11-25T09:00:30Z" for a steady-clock moment, for messages.
std::string format_wall_time(Limiter::Clock::time_point when);

}  // namespace weft::http
