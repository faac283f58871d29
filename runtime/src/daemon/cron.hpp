// cron.hpp — 5-field cron schedules (minute hour day-of-month month day-of-week) and IANA time
// zones read from the system tz database, for the daemon's `cron` triggers.
//
//   auto s = CronSchedule::parse("*/15 9-17 * * MON-FRI", "Europe/Paris");
//   if (!s) return s.status();                      // "cron field 2 (hour): 25 is out of range 0-23"
//   std::optional<std::chrono::sys_seconds> next = s->next_after(now);
#pragma once

#include <bitset>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.hpp"

namespace weft::daemon {

// A time zone's UTC offsets over time, from a TZif file (/usr/share/zoneinfo, or $TZDIR). Immutable
// after load, so it is safe to share between threads (libstdc++ 12 has no std::chrono::tzdb, and
// setenv("TZ") + localtime_r is process-global, hence this reader).
// Limit: after the file's last transition (2037 in Debian's "fat" files) the last offset is kept;
// the POSIX-TZ footer rule is not evaluated.
class TimeZone {
 public:
  // "UTC" or an IANA name ("America/New_York"). invalid_argument for a malformed name (".." or a
  // leading '/', so no path escapes the database), not_found for an unknown zone, data_loss for a
  // corrupt file.
  static Result<TimeZone> load(const std::string& name);
  static TimeZone utc();

  const std::string& name() const { return name_; }
  // Seconds east of UTC at instant t.
  std::int32_t offset_at(std::int64_t unix_seconds) const;

 private:
  std::string name_;
  std::vector<std::int64_t> transitions_;  // ascending unix seconds
  std::vector<std::int32_t> offsets_;      // offsets_[i] applies from transitions_[i]
  std::int32_t initial_offset_ = 0;        // before the first transition
};

class CronSchedule {
 public:
  // Parses "m h dom mon dow" (lists, ranges, steps, JAN-DEC, SUN-SAT, 7 = Sunday) or a macro
  // (@hourly @daily @midnight @weekly @monthly @yearly @annually) in time zone tz ("UTC" by default).
  // invalid_argument naming the field and the problem; also when the schedule can never fire
  // ("0 0 30 2 *").
  static Result<CronSchedule> parse(std::string_view expr, const std::string& tz = "UTC");

  // The first fire time strictly after t, or nullopt when none within 8 years. Thread-safe (const).
  // Standard cron day rule: when both day-of-month and day-of-week are restricted (neither starts
  // with '*'), a day matching either fires. DST: a local time skipped by a spring-forward gap does
  // not fire; after a fall-back, times already passed in the first pass are not fired again.
  std::optional<std::chrono::sys_seconds> next_after(std::chrono::sys_seconds t) const;

  const std::string& expression() const { return expr_; }
  const TimeZone& zone() const { return tz_; }

 private:
  std::string expr_;
  TimeZone tz_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;     // 1-31
  std::bitset<13> months_;   // 1-12
  std::bitset<7> weekdays_;  // 0 = Sunday
  bool dom_restricted_ = false;
  bool dow_restricted_ = false;
};

}  // namespace weft::daemon
