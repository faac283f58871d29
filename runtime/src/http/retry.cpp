#include "http/retry.hpp"

#include <Poco/DateTime.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <random>
#include <string>

namespace weft::http {

namespace {

using std::chrono::milliseconds;
using std::chrono::system_clock;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Seconds as a double from digits, saturating far above anything meaningful.
double digits_value(std::string_view s) {
  double v = 0;
  for (char c : s) {
    v = v * 10 + (c - '0');
    if (v > 1e15) return 1e15;
  }
  return v;
}

milliseconds saturated_ms(double seconds) {
  if (!(seconds > 0)) return milliseconds(0);
  const double max_s = static_cast<double>(kMaxParsedWait.count()) / 1000.0;
  if (seconds >= max_s) return kMaxParsedWait;
  return milliseconds(static_cast<long long>(std::ceil(seconds * 1000.0)));
}

milliseconds wait_until_epoch(double epoch_seconds, system_clock::time_point now) {
  const double now_s = std::chrono::duration<double>(now.time_since_epoch()).count();
  return saturated_ms(epoch_seconds - now_s);
}

// A strict cursor over an HTTP-date; Poco's DateTimeParser accepts "garbage" as year 0.
class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}
  bool done() const { return pos_ == s_.size(); }
  bool lit(std::string_view l) {
    if (s_.substr(pos_, l.size()) != l) return false;
    pos_ += l.size();
    return true;
  }
  // Exactly n digits.
  bool num(std::size_t n, int& out) {
    if (pos_ + n > s_.size()) return false;
    out = 0;
    for (std::size_t i = 0; i < n; ++i) {
      char c = s_[pos_ + i];
      if (c < '0' || c > '9') return false;
      out = out * 10 + (c - '0');
    }
    pos_ += n;
    return true;
  }
  // One of the names; out is its index.
  template <std::size_t N>
  bool name(const std::array<std::string_view, N>& names, int& out) {
    for (std::size_t i = 0; i < N; ++i) {
      if (lit(names[i])) {
        out = static_cast<int>(i);
        return true;
      }
    }
    return false;
  }

 private:
  std::string_view s_;
  std::size_t pos_ = 0;
};

constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<std::string_view, 7> kDays = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
constexpr std::array<std::string_view, 7> kLongDays = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                                       "Friday", "Saturday", "Sunday"};

struct Fields {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
};

bool time_of_day(Cursor& c, Fields& f) {
  return c.num(2, f.hour) && c.lit(":") && c.num(2, f.minute) && c.lit(":") && c.num(2, f.second);
}

// IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
bool imf_fixdate(std::string_view s, Fields& f) {
  Cursor c(s);
  int ignored = 0;
  if (!(c.name(kDays, ignored) && c.lit(", ") && c.num(2, f.day) && c.lit(" ") && c.name(kMonths, f.month) &&
        c.lit(" ") && c.num(4, f.year) && c.lit(" ") && time_of_day(c, f) && c.lit(" GMT") && c.done())) {
    return false;
  }
  f.month += 1;
  return true;
}

// RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"; a two-digit year is taken as 19xx/20xx (RFC 9110
// says to interpret a year more than 50 years ahead as the past century).
bool rfc850(std::string_view s, Fields& f, int this_year) {
  Cursor c(s);
  int ignored = 0;
  if (!(c.name(kLongDays, ignored) && c.lit(", ") && c.num(2, f.day) && c.lit("-") &&
        c.name(kMonths, f.month) && c.lit("-") && c.num(2, f.year) && c.lit(" ") && time_of_day(c, f) &&
        c.lit(" GMT") && c.done())) {
    return false;
  }
  f.month += 1;
  int century = this_year / 100 * 100;
  f.year += century;
  if (f.year > this_year + 50) f.year -= 100;
  return true;
}

// asctime: "Sun Nov  6 08:49:37 1994"
bool asctime_date(std::string_view s, Fields& f) {
  Cursor c(s);
  int ignored = 0;
  if (!(c.name(kDays, ignored) && c.lit(" ") && c.name(kMonths, f.month) && c.lit(" "))) return false;
  if (c.lit(" ")) {
    if (!c.num(1, f.day)) return false;
  } else if (!c.num(2, f.day)) {
    return false;
  }
  if (!(c.lit(" ") && time_of_day(c, f) && c.lit(" ") && c.num(4, f.year) && c.done())) return false;
  f.month += 1;
  return true;
}

// Milliseconds since the epoch of an HTTP-date. Kept as an integer: a 4-digit year from 0000 to
// 9999 fits easily, while system_clock (nanoseconds) overflows before 1678 and after 2262.
std::optional<long long> http_date_ms(std::string_view s, system_clock::time_point now) {
  Fields f;
  const int this_year = Poco::DateTime(Poco::Timestamp::fromEpochTime(system_clock::to_time_t(now))).year();
  if (!imf_fixdate(s, f) && !rfc850(s, f, this_year) && !asctime_date(s, f)) return std::nullopt;
  // Poco validates the calendar (no 31 Feb); its years start at 0.
  if (!Poco::DateTime::isValid(f.year, f.month, f.day, f.hour, f.minute, f.second)) return std::nullopt;
  Poco::DateTime dt(f.year, f.month, f.day, f.hour, f.minute, f.second);
  return static_cast<long long>(dt.timestamp().epochMicroseconds() / 1000);
}

}  // namespace

std::optional<milliseconds> parse_retry_after(std::string_view value, system_clock::time_point now) {
  value = trim(value);
  if (all_digits(value)) return saturated_ms(digits_value(value));
  auto when_ms = http_date_ms(value, now);
  if (!when_ms) return std::nullopt;
  const long long now_ms = std::chrono::duration_cast<milliseconds>(now.time_since_epoch()).count();
  if (*when_ms <= now_ms) return milliseconds(0);
  return std::min(milliseconds(*when_ms - now_ms), kMaxParsedWait);
}

std::optional<milliseconds> parse_rate_limit_reset(std::string_view value, system_clock::time_point now) {
  value = trim(value);
  std::string_view whole = value, frac;
  if (auto dot = value.find('.'); dot != std::string_view::npos) {
    whole = value.substr(0, dot);
    frac = value.substr(dot + 1);
    if (!all_digits(frac)) return std::nullopt;
  }
  if (!all_digits(whole)) return std::nullopt;
  double seconds = digits_value(whole);
  double scale = 0.1;
  for (char c : frac.substr(0, 9)) {
    seconds += (c - '0') * scale;
    scale /= 10;
  }
  constexpr double kOneDay = 86400;
  const double now_s = std::chrono::duration<double>(now.time_since_epoch()).count();
  if (seconds >= now_s - kOneDay) return wait_until_epoch(seconds, now);
  return saturated_ms(seconds);
}

milliseconds with_retry_after_jitter(milliseconds asked) {
  constexpr milliseconds kMaxJitter{1000};
  if (asked.count() <= 0) return milliseconds(0);
  const long long spread = std::min<long long>(asked.count() / 10, kMaxJitter.count());
  if (spread <= 0) return asked;
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return asked + milliseconds(std::uniform_int_distribution<long long>(0, spread)(rng));
}

milliseconds backoff_delay(int attempt, milliseconds base, milliseconds cap) {
  if (attempt < 1) attempt = 1;
  if (base.count() <= 0 || cap.count() <= 0) return milliseconds(0);
  long long ceiling = base.count();
  for (int i = 1; i < attempt && ceiling < cap.count(); ++i) ceiling *= 2;
  ceiling = std::min<long long>(ceiling, cap.count());
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return milliseconds(std::uniform_int_distribution<long long>(0, ceiling)(rng));
}

namespace {
bool is_tchar(unsigned char c) {
  if (std::isalnum(c)) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}
bool is_token(std::string_view s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](char c) { return is_tchar(static_cast<unsigned char>(c)); });
}
}  // namespace

Status validate_header(std::string_view name, std::string_view value) {
  if (!is_token(name)) {
    std::string shown;
    for (char c : name.substr(0, 64)) shown += (std::isprint(static_cast<unsigned char>(c)) ? c : '?');
    return {Code::kInvalidArgument,
            "invalid header name \"" + shown +
                "\": use letters, digits and !#$%&'*+-.^_`|~ only (no spaces, colons or "
                "control characters)"};
  }
  for (std::size_t i = 0; i < value.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(value[i]);
    if ((c < 0x20 && c != '\t') || c == 0x7f) {
      const char* what = c == '\r' ? "CR" : c == '\n' ? "LF" : c == 0 ? "NUL" : "a control character";
      return {Code::kInvalidArgument, "header " + std::string(name) + " value contains " + what +
                                          " at offset " + std::to_string(i) +
                                          "; header values must be a single line"};
    }
  }
  return Status::Ok();
}

Status validate_method(std::string_view method) {
  if (is_token(method)) return Status::Ok();
  return {Code::kInvalidArgument, "invalid HTTP method: use a token such as GET, POST, PUT, PATCH or DELETE"};
}

bool is_idempotent_method(std::string_view m) {
  return m == "GET" || m == "HEAD" || m == "PUT" || m == "DELETE" || m == "OPTIONS";
}

}  // namespace weft::http
