// retry_after.hpp — a provider's Retry-After header (RFC 9110 §10.2.3) as a wait in milliseconds,
// for the connectors, which cannot link libweft's internals. Both forms: delta-seconds ("120")
// and an HTTP-date, in the preferred IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") and the two
// obsolete forms a recipient must accept (RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT" and asctime
// "Sun Nov  6 08:49:37 1994"). Header-only.
//
//   auto ms = weft::connectors::retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", now);  // wait until then
//   retry_after_ms("5", now) == 5000;  retry_after_ms("soon", now) == std::nullopt
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace weft::connectors {

// Longer waits are cut to this: a provider asking for more than a day is not asking to be retried.
inline constexpr long long kMaxRetryAfterMs = 24LL * 3600 * 1000;

namespace retry_after_detail {

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Reads exactly `n` digits at s[pos]; advances pos. -1 when they are not all digits.
inline long long digits(std::string_view s, std::size_t& pos, std::size_t n) {
  if (pos + n > s.size()) return -1;
  long long v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  pos += n;
  return v;
}

inline bool literal(std::string_view s, std::size_t& pos, std::string_view lit) {
  if (s.substr(pos, lit.size()) != lit) return false;
  pos += lit.size();
  return true;
}

// 1..12 for "Jan".."Dec" at s[pos] (case-sensitive, as the grammar says), else 0.
inline int month(std::string_view s, std::size_t& pos) {
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (int i = 0; i < 12; ++i) {
    if (s.substr(pos, 3) == kMonths[i]) {
      pos += 3;
      return i + 1;
    }
  }
  return 0;
}

// "Sun".."Sat" or "Sunday".."Saturday" at s[pos] (long = true for the second).
inline bool weekday(std::string_view s, std::size_t& pos, bool long_form) {
  static constexpr std::string_view kShort[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  static constexpr std::string_view kLong[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                               "Friday", "Saturday", "Sunday"};
  for (int i = 0; i < 7; ++i) {
    const std::string_view d = long_form ? kLong[i] : kShort[i];
    if (s.substr(pos, d.size()) == d) {
      pos += d.size();
      return true;
    }
  }
  return false;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil algorithm).
inline long long days_from_civil(long long y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const long long era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<long long>(doe) - 719468;
}

inline bool valid_date(long long y, int m, long long d) {
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m < 1 || m > 12 || d < 1 || d > kDays[m - 1]) return false;
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return !(m == 2 && d == 29 && !leap);
}

// "HH:MM:SS" at s[pos] as seconds of the day, or -1.
inline long long time_of_day(std::string_view s, std::size_t& pos) {
  const long long h = digits(s, pos, 2);
  if (h < 0 || !literal(s, pos, ":")) return -1;
  const long long m = digits(s, pos, 2);
  if (m < 0 || !literal(s, pos, ":")) return -1;
  const long long sec = digits(s, pos, 2);
  if (sec < 0 || h > 23 || m > 59 || sec > 60) return -1;  // 60: a leap second
  return h * 3600 + m * 60 + sec;
}

inline std::optional<long long> epoch(long long y, int m, long long d, long long tod) {
  if (tod < 0 || !valid_date(y, m, d)) return std::nullopt;
  return days_from_civil(y, static_cast<unsigned>(m), static_cast<unsigned>(d)) * 86400 + tod;
}

}  // namespace retry_after_detail

// Seconds since the Unix epoch of an HTTP-date in any of its three forms; nullopt otherwise.
inline std::optional<long long> parse_http_date(std::string_view text) {
  using namespace retry_after_detail;
  const std::string_view s = trim(text);
  std::size_t p = 0;
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
  if (weekday(s, p, false) && literal(s, p, ", ")) {
    const long long d = digits(s, p, 2);
    if (d < 0 || !literal(s, p, " ")) return std::nullopt;
    const int m = month(s, p);
    if (m == 0 || !literal(s, p, " ")) return std::nullopt;
    const long long y = digits(s, p, 4);
    if (y < 0 || !literal(s, p, " ")) return std::nullopt;
    const long long tod = time_of_day(s, p);
    if (!literal(s, p, " GMT") || p != s.size()) return std::nullopt;
    return epoch(y, m, d, tod);
  }
  // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"; a two-digit year more than 50 years in the future
  // is in the past century (RFC 9110 §5.6.7) — here simply 70..99 → 19xx, 00..69 → 20xx.
  p = 0;
  if (weekday(s, p, true) && literal(s, p, ", ")) {
    const long long d = digits(s, p, 2);
    if (d < 0 || !literal(s, p, "-")) return std::nullopt;
    const int m = month(s, p);
    if (m == 0 || !literal(s, p, "-")) return std::nullopt;
    long long y = digits(s, p, 2);
    if (y < 0 || !literal(s, p, " ")) return std::nullopt;
    y += y < 70 ? 2000 : 1900;
    const long long tod = time_of_day(s, p);
    if (!literal(s, p, " GMT") || p != s.size()) return std::nullopt;
    return epoch(y, m, d, tod);
  }
  // asctime: "Sun Nov  6 08:49:37 1994" (the day padded with a space)
  p = 0;
  if (weekday(s, p, false) && literal(s, p, " ")) {
    const int m = month(s, p);
    if (m == 0 || !literal(s, p, " ")) return std::nullopt;
    long long d = -1;
    if (p < s.size() && s[p] == ' ') {
      ++p;
      d = digits(s, p, 1);
    } else {
      d = digits(s, p, 2);
    }
    if (d < 0 || !literal(s, p, " ")) return std::nullopt;
    const long long tod = time_of_day(s, p);
    if (!literal(s, p, " ")) return std::nullopt;
    const long long y = digits(s, p, 4);
    if (y < 0 || p != s.size()) return std::nullopt;
    return epoch(y, m, d, tod);
  }
  return std::nullopt;
}

// The wait a Retry-After value asks for, from `now`: delta-seconds, or the time until an
// HTTP-date (0 for a date in the past). Saturated at kMaxRetryAfterMs; nullopt when the value is
// neither form.
inline std::optional<long long> retry_after_ms(
    std::string_view value, std::chrono::system_clock::time_point now = std::chrono::system_clock::now()) {
  const std::string_view v = retry_after_detail::trim(value);
  if (v.empty()) return std::nullopt;
  if (v.find_first_not_of("0123456789") == std::string_view::npos) {
    if (v.size() > 9) return kMaxRetryAfterMs;  // more than 31 years in seconds
    long long secs = 0;
    for (char c : v) secs = secs * 10 + (c - '0');
    return secs * 1000 > kMaxRetryAfterMs ? kMaxRetryAfterMs : secs * 1000;
  }
  const auto at = parse_http_date(v);
  if (!at) return std::nullopt;
  const long long now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const long long wait = *at * 1000 - now_ms;
  if (wait <= 0) return 0;
  return wait > kMaxRetryAfterMs ? kMaxRetryAfterMs : wait;
}

}  // namespace weft::connectors
