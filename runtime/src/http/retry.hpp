// retry.hpp — pure helpers of the HTTP client's retry policy: header parsers, back-off, and the
// validation of what a caller may put on the wire. No I/O; every function is thread-safe.
//
//   auto wait = http::parse_retry_after("120", std::chrono::system_clock::now());   // 120 s
//   auto wait = http::parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now);     // 0 s (past)
//   Status s = http::validate_header("X-Id", "a\r\nInjected: 1");                  // invalid_argument
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "core/status.hpp"

namespace weft::http {

// Parses a Retry-After value (RFC 9110 §10.2.3): delta-seconds ("120") or an HTTP-date
// (IMF-fixdate, and the obsolete RFC 850 and asctime forms). Returns the wait from `now`
// (a date in the past gives 0), saturated at kMaxParsedWait; nullopt for anything else, which
// callers ignore. Never throws.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                           std::chrono::system_clock::time_point now);

// Parses an X-RateLimit-Reset / RateLimit-Reset value: a non-negative number of seconds,
// optionally with a fraction ("1.5"). Providers disagree on its meaning: GitHub and Twitter send
// Unix epoch seconds, the IETF RateLimit draft and others send delta seconds. Heuristic: a value
// at or above (now − 1 day) in epoch seconds is an epoch time (no real delta is ~55 years);
// anything smaller is a delta. Returns the wait from `now` (≥ 0, saturated), nullopt when the
// value is not a number. Never throws.
std::optional<std::chrono::milliseconds> parse_rate_limit_reset(std::string_view value,
                                                                std::chrono::system_clock::time_point now);

// Larger waits than this are reported as this (callers clamp much lower anyway).
inline constexpr std::chrono::milliseconds kMaxParsedWait = std::chrono::hours(24 * 365);

// A server-requested wait plus a small positive jitter: uniform in [asked, asked + min(asked / 10,
// 1 s)]. Never less than the server asked, so callers released from one cooldown spread out
// instead of arriving in the same millisecond.
std::chrono::milliseconds with_retry_after_jitter(std::chrono::milliseconds asked);

// Full-jitter exponential back-off: uniform in [0, min(cap, base · 2^(attempt−1))]; attempt ≥ 1.
std::chrono::milliseconds backoff_delay(int attempt, std::chrono::milliseconds base,
                                        std::chrono::milliseconds cap);

// kInvalidArgument unless name is an RFC 9110 token and value has no CR, LF, NUL or other
// control character (HTAB allowed). The message names the header, never its value.
Status validate_header(std::string_view name, std::string_view value);

// kInvalidArgument unless method is a token ("GET", "PATCH", ...).
Status validate_method(std::string_view method);

// True for methods retried after 502/504, connect errors and timeouts by default.
bool is_idempotent_method(std::string_view method);

}  // namespace weft::http
