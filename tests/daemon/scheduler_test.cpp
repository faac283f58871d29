#include "daemon/scheduler.hpp"

#include <gtest/gtest.h>

namespace weft::daemon {
namespace {

std::chrono::sys_seconds unix_s(long long s) { return std::chrono::sys_seconds(std::chrono::seconds(s)); }
constexpr long long k20260301 = 1772323200;  // 2026-03-01T00:00:00Z

TEST(CronScheduler, FiresDueSchedulesOnceWithTheScheduledTime) {
  std::vector<std::pair<std::string, std::string>> fired;
  CronScheduler s([&](const std::string& wf, const Json& t) { fired.emplace_back(wf, json::stringify(t)); });
  s.set_schedules(
      {{"every5", *CronSchedule::parse("*/5 * * * *")}, {"hourly", *CronSchedule::parse("@hourly")}},
      unix_s(k20260301 + 60));
  EXPECT_EQ(s.tick(unix_s(k20260301 + 299)), 0);
  EXPECT_EQ(s.tick(unix_s(k20260301 + 300)), 1);
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].first, "every5");
  EXPECT_EQ(fired[0].second,
            R"({"type":"cron","schedule":"*/5 * * * *","scheduled_at":"2026-03-01T00:05:00Z"})");
  EXPECT_EQ(s.tick(unix_s(k20260301 + 300)), 0);  // not twice
}

TEST(CronScheduler, MissedFiresCollapseIntoOne) {
  int fired = 0;
  CronScheduler s([&](const std::string&, const Json&) { ++fired; });
  s.set_schedules({{"every5", *CronSchedule::parse("*/5 * * * *")}}, unix_s(k20260301));
  EXPECT_EQ(s.tick(unix_s(k20260301 + 3600)), 1);  // 12 fire times passed (a suspended laptop)
  EXPECT_EQ(fired, 1);
  EXPECT_EQ(s.tick(unix_s(k20260301 + 3600 + 299)), 0);
  EXPECT_EQ(s.tick(unix_s(k20260301 + 3600 + 300)), 1);
}

TEST(CronScheduler, ReplacingSchedulesDropsTheOldOnesAndAThrowingCallbackIsContained) {
  int fired = 0;
  CronScheduler s([&](const std::string& wf, const Json&) {
    ++fired;
    if (wf == "bad") throw std::runtime_error("boom");
  });
  s.set_schedules({{"bad", *CronSchedule::parse("* * * * *")}}, unix_s(k20260301));
  EXPECT_EQ(s.tick(unix_s(k20260301 + 60)), 1);
  s.set_schedules({}, unix_s(k20260301 + 60));
  EXPECT_EQ(s.tick(unix_s(k20260301 + 600)), 0);
  EXPECT_EQ(fired, 1);
  s.start();
  s.stop();  // the thread starts and stops cleanly with nothing scheduled
}

}  // namespace
}  // namespace weft::daemon
