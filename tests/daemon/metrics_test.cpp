#include "daemon/metrics.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace weft::daemon {
namespace {

TEST(Metrics, CountersRenderInPrometheusTextWithEscapedLabels) {
  Metrics m;
  auto& runs = m.counter("weft_runs_total", "Runs by status.", {"status"});
  runs.inc({"succeeded"});
  runs.inc({"succeeded"}, 2);
  runs.inc({"fa\"il\\ed\n"});
  runs.inc({"succeeded"}, -5);  // counters never go down
  std::string text = m.render();
  EXPECT_NE(text.find("# HELP weft_runs_total Runs by status.\n# TYPE weft_runs_total counter\n"),
            std::string::npos);
  EXPECT_NE(text.find("weft_runs_total{status=\"succeeded\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("weft_runs_total{status=\"fa\\\"il\\\\ed\\n\"} 1\n"), std::string::npos) << text;
}

TEST(Metrics, HistogramBucketsAreCumulativeWithSumAndCount) {
  Metrics m;
  auto& h = m.histogram("lat_seconds", "Latency.", {"connector"}, {0.1, 1});
  h.observe({"slack"}, 0.05);
  h.observe({"slack"}, 0.5);
  h.observe({"slack"}, 7);
  std::string text = m.render();
  EXPECT_NE(text.find("lat_seconds_bucket{connector=\"slack\",le=\"0.1\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("lat_seconds_bucket{connector=\"slack\",le=\"1\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_seconds_bucket{connector=\"slack\",le=\"+Inf\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_seconds_sum{connector=\"slack\"} 7.55\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("lat_seconds_count{connector=\"slack\"} 3\n"), std::string::npos) << text;
}

TEST(Metrics, StepLatencyBucketsStartBelowAMillisecondAndPrintAsWritten) {
  Metrics m;
  declare_engine_metrics(m);
  m.histogram("weft_step_duration_seconds", "", {"connector", "action"}, {}).observe({"http", "request"}, 0.0007);
  const std::string text = m.render();
  const std::string prefix = "weft_step_duration_seconds_bucket{connector=\"http\",action=\"request\",le=";
  EXPECT_NE(text.find(prefix + "\"0.0005\"} 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find(prefix + "\"0.001\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find(prefix + "\"0.005\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find(prefix + "\"+Inf\"} 1\n"), std::string::npos) << text;
  auto& g = m.gauge("big", "");
  g.set({}, 123456789);
  EXPECT_NE(m.render().find("big 123456789\n"), std::string::npos);
  g.set({}, 1e-05);
  EXPECT_NE(m.render().find("big 1e-05\n"), std::string::npos);
  EXPECT_NE(text.find("weft_step_duration_seconds_sum{connector=\"http\",action=\"request\"} 0.0007\n"),
            std::string::npos)
      << text;
}

TEST(Metrics, GaugeSetsAndUnlabelledFamiliesShowZeroFromTheStart) {
  Metrics m;
  declare_engine_metrics(m);
  std::string text = m.render();
  for (const char* name : {"weft_runs_total", "weft_step_duration_seconds", "weft_http_requests_total",
                           "weft_http_retries_total", "weft_token_refreshes_total",
                           "weft_rate_limit_cooldowns_total", "weft_connectors_loaded"})
    EXPECT_NE(text.find(std::string("# TYPE ") + name), std::string::npos) << name;
  EXPECT_NE(text.find("weft_connectors_loaded 0\n"), std::string::npos);
  m.gauge("weft_connectors_loaded", "").set({}, 3);
  EXPECT_NE(m.render().find("weft_connectors_loaded 3\n"), std::string::npos);
  EXPECT_EQ(&m.gauge("weft_connectors_loaded", "ignored"), &m.gauge("weft_connectors_loaded", ""));
}

TEST(Metrics, CollectorsCopyOutsideTotalsAtEveryRenderUntilRemoved) {
  Metrics m;
  auto& c = m.counter("outside_total", "Kept elsewhere.", {"k"});
  int outside = 0;
  int other_runs = 0;
  m.add_collector(&outside, [&] { c.set({"a"}, ++outside); });
  m.add_collector(&other_runs, [&] { ++other_runs; });
  EXPECT_NE(m.render().find("outside_total{k=\"a\"} 1\n"), std::string::npos);
  EXPECT_NE(m.render().find("outside_total{k=\"a\"} 2\n"), std::string::npos);
  m.remove_collector(&outside);
  EXPECT_NE(m.render().find("outside_total{k=\"a\"} 2\n"), std::string::npos) << "removed: not run again";
  EXPECT_EQ(other_runs, 3) << "removing one owner's collector keeps the others";
}

TEST(Metrics, ConcurrentIncrementsAreAllCounted) {
  Metrics m;
  auto& c = m.counter("c_total", "c", {"k"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) c.inc({i % 2 ? "a" : "b"});
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value({"a"}) + c.value({"b"}), 80000);
}

}  // namespace
}  // namespace weft::daemon
