// libFuzzer target for the headers a remote server controls: Retry-After, X-RateLimit-Reset /
// RateLimit-Reset, and (on the way out) header validation. Invariants: no crash, no exception,
// every wait is within [0, kMaxParsedWait], and parsing is deterministic for a fixed clock.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "http/retry.hpp"

namespace {
void check(const std::optional<std::chrono::milliseconds>& w) {
  if (w && (w->count() < 0 || *w > weft::http::kMaxParsedWait)) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view value(reinterpret_cast<const char*>(data), size);
  // A fixed "now" (2026-11-25T09:00:00Z) keeps runs reproducible; a second clock near the epoch
  // and one in 2200 (system_clock is nanoseconds: ~2262 is its limit) exercise the past/future and
  // epoch/delta branches.
  for (std::int64_t epoch : {1795597200LL, 0LL, 7258118400LL}) {
    const auto now = std::chrono::system_clock::from_time_t(static_cast<std::time_t>(epoch));
    auto a = weft::http::parse_retry_after(value, now);
    auto b = weft::http::parse_rate_limit_reset(value, now);
    check(a);
    check(b);
    if (a != weft::http::parse_retry_after(value, now)) std::abort();
  }
  const auto colon = value.find(':');
  if (colon != std::string_view::npos) {
    (void)weft::http::validate_header(value.substr(0, colon), value.substr(colon + 1));
  }
  return 0;
}
