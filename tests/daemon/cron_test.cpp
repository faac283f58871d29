#include "daemon/cron.hpp"

#include <gtest/gtest.h>

#include <ctime>

namespace weft::daemon {
namespace {

// "2026-03-01T10:07:00Z" ↔ sys_seconds, via timegm (UTC only, thread-safe).
std::chrono::sys_seconds at(const std::string& iso) {
  std::tm tm{};
  strptime(iso.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return std::chrono::sys_seconds(std::chrono::seconds(timegm(&tm)));
}
std::string iso(std::chrono::sys_seconds t) {
  std::time_t tt = t.time_since_epoch().count();
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}
std::string next(const std::string& expr, const std::string& after, const std::string& tz = "UTC") {
  auto s = CronSchedule::parse(expr, tz);
  if (!s) return "error: " + s.status().message();
  auto n = s->next_after(at(after));
  return n ? iso(*n) : "never";
}

TEST(Cron, StepsRangesListsAndNames) {
  EXPECT_EQ(next("*/5 * * * *", "2026-03-01T10:07:30Z"), "2026-03-01T10:10:00Z");
  EXPECT_EQ(next("*/5 * * * *", "2026-03-01T10:10:00Z"), "2026-03-01T10:15:00Z");  // strictly after
  EXPECT_EQ(next("0 9-17/4 * * *", "2026-03-01T13:00:00Z"), "2026-03-01T17:00:00Z");
  EXPECT_EQ(next("15,45 * * * *", "2026-03-01T10:20:00Z"), "2026-03-01T10:45:00Z");
  EXPECT_EQ(next("0 0 1 JAN,jul *", "2026-03-01T00:00:00Z"), "2026-07-01T00:00:00Z");
  EXPECT_EQ(next("30 8 * * MON-FRI", "2026-02-28T12:00:00Z"), "2026-03-02T08:30:00Z");  // Sat → Mon
  EXPECT_EQ(next("0 12 * * 7", "2026-03-02T00:00:00Z"), "2026-03-08T12:00:00Z");        // 7 = Sunday
  EXPECT_EQ(next("5/20 * * * *", "2026-03-01T10:06:00Z"), "2026-03-01T10:25:00Z");
  EXPECT_EQ(next("@daily", "2026-12-31T23:59:59Z"), "2027-01-01T00:00:00Z");
  EXPECT_EQ(next("0 0 29 2 *", "2026-03-01T00:00:00Z"), "2028-02-29T00:00:00Z");
}

TEST(Cron, DayOfMonthAndDayOfWeekAreOredWhenBothAreRestricted) {
  // 2026-03-01 is a Sunday. "the 13th or any Friday": Friday 6 March comes first.
  EXPECT_EQ(next("0 0 13 * FRI", "2026-03-01T00:00:00Z"), "2026-03-06T00:00:00Z");
  // With day-of-week "*", only the 13th counts.
  EXPECT_EQ(next("0 0 13 * *", "2026-03-01T00:00:00Z"), "2026-03-13T00:00:00Z");
  // With day-of-month "*", only Fridays count.
  EXPECT_EQ(next("0 0 * * FRI", "2026-03-07T00:00:00Z"), "2026-03-13T00:00:00Z");
}

TEST(Cron, NamedTimeZoneIncludingDaylightSavingChanges) {
  // New York is UTC-5 in winter, UTC-4 from 2026-03-08 02:00 local.
  EXPECT_EQ(next("0 9 * * *", "2026-03-01T00:00:00Z", "America/New_York"), "2026-03-01T14:00:00Z");
  EXPECT_EQ(next("0 9 * * *", "2026-03-08T00:00:00Z", "America/New_York"), "2026-03-08T13:00:00Z");
  // 02:30 does not exist on 8 March: that day is skipped.
  EXPECT_EQ(next("30 2 * * *", "2026-03-07T08:00:00Z", "America/New_York"), "2026-03-09T06:30:00Z");
  EXPECT_EQ(next("0 9 * * *", "2026-06-01T00:00:00Z", "Asia/Kolkata"), "2026-06-01T03:30:00Z");
}

TEST(Cron, ErrorsNameTheField) {
  EXPECT_EQ(next("* 25 * * *", "2026-03-01T00:00:00Z"),
            "error: cron field 2 (hour): 25 is out of range 0-23");
  EXPECT_EQ(next("* * * FOO *", "2026-03-01T00:00:00Z"),
            "error: cron field 4 (month): 'FOO' is not a number or a name");
  EXPECT_EQ(next("*/0 * * * *", "2026-03-01T00:00:00Z"),
            "error: cron field 1 (minute): bad step '0' in '*/0'");
  EXPECT_EQ(next("* * 10-5 * *", "2026-03-01T00:00:00Z"),
            "error: cron field 3 (day-of-month): range '10-5' runs backwards");
  EXPECT_EQ(next("1,,2 * * * *", "2026-03-01T00:00:00Z"),
            "error: cron field 1 (minute): empty list item in '1,,2'");
  EXPECT_NE(next("* * * *", "2026-03-01T00:00:00Z").find("has 4 fields; expected 5"), std::string::npos);
  EXPECT_NE(next("0 0 30 2 *", "2026-03-01T00:00:00Z").find("never fires"), std::string::npos);
  EXPECT_NE(next("@often", "2026-03-01T00:00:00Z").find("unknown cron macro"), std::string::npos);
}

TEST(Cron, TimeZoneNamesCannotEscapeTheDatabase) {
  for (const char* bad : {"../../etc/passwd", "/etc/localtime", "Europe/../../x", "a b"}) {
    auto z = TimeZone::load(bad);
    ASSERT_FALSE(z) << bad;
    EXPECT_EQ(z.status().code(), Code::kInvalidArgument) << bad;
  }
  auto unknown = TimeZone::load("Mars/Olympus_Mons");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace weft::daemon
