// metrics.hpp — a small thread-safe metrics registry rendered in the Prometheus text format.
//
//   Metrics m;
//   m.counter("weft_runs_total", "Runs by final status", {"status"}).inc({"succeeded"});
//   m.histogram("weft_step_seconds", "Step latency", {"connector"}, {0.01, 0.1, 1}).observe({"slack"}, 0.05);
//   std::string text = m.render();
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace weft::daemon {

using Labels = std::vector<std::string>;  // values, in the order of the family's label names

// A family of series sharing a name, help and label names. Every method is thread-safe.
class MetricFamily {
 public:
  enum class Type { kCounter, kGauge, kHistogram };
  MetricFamily(std::string name, std::string help, Type type, std::vector<std::string> label_names,
               std::vector<double> buckets = {});
  MetricFamily(const MetricFamily&) = delete;
  MetricFamily& operator=(const MetricFamily&) = delete;

  // Counter/gauge: adds delta (a counter ignores negative deltas). Missing labels are "".
  void inc(const Labels& labels = {}, double delta = 1);
  // Gauge: sets the value. Counter: sets the running total from a snapshot kept elsewhere.
  void set(const Labels& labels, double value);
  // Histogram: records one observation.
  void observe(const Labels& labels, double value);
  // The current value of a counter/gauge series (0 when never touched), or a histogram's count.
  double value(const Labels& labels = {}) const;

  const std::string& name() const { return name_; }
  Type type() const { return type_; }
  // Appends "# HELP", "# TYPE" and one line per series (per bucket for histograms).
  void render(std::string& out) const;

 private:
  struct Series {
    double value = 0;
    std::vector<std::uint64_t> bucket_counts;  // non-cumulative, one per bucket
    double sum = 0;
    std::uint64_t count = 0;
  };
  Labels normalize(const Labels& labels) const;
  std::string label_text(const Labels& values, const std::string& extra = "") const;

  const std::string name_;
  const std::string help_;
  const Type type_;
  const std::vector<std::string> label_names_;
  const std::vector<double> buckets_;
  mutable std::mutex mu_;
  std::map<Labels, Series> series_;  // guarded by mu_; ordered so the output is stable
};

// Owns families; a family is created on first use and returned by reference afterwards (a second
// declaration with the same name returns the first one). References stay valid for the registry's life.
class Metrics {
 public:
  MetricFamily& counter(const std::string& name, const std::string& help,
                        std::vector<std::string> labels = {});
  MetricFamily& gauge(const std::string& name, const std::string& help, std::vector<std::string> labels = {});
  MetricFamily& histogram(const std::string& name, const std::string& help, std::vector<std::string> labels,
                          std::vector<double> buckets);
  // Prometheus text exposition format (version 0.0.4), families in declaration order. Runs the
  // collector first, so totals kept elsewhere are current at scrape time.
  std::string render() const;
  // fn runs at the start of every render() to copy totals kept elsewhere (the HTTP client's) into
  // families with set(). One collector per owner (a second call replaces the owner's); fn must not
  // call render() or add_collector/remove_collector.
  void add_collector(const void* owner, std::function<void()> fn);
  // Removes owner's collector. Returns only once no render() is running it, so the owner may then
  // be destroyed. Another owner's collector is kept.
  void remove_collector(const void* owner);

 private:
  MetricFamily& get_or_add(const std::string& name, const std::string& help, MetricFamily::Type type,
                           std::vector<std::string> labels, std::vector<double> buckets);
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<MetricFamily>> families_;
  // Held while collectors run; taken before mu_, never inside it.
  mutable std::mutex collector_mu_;
  std::vector<std::pair<const void*, std::function<void()>>> collectors_;  // guarded by collector_mu_
};

// Declares the families the engine reports, so /metrics lists them from the first scrape:
//   weft_runs_total{status}, weft_step_duration_seconds{connector,action} (histogram),
//   weft_http_requests_total{connector,outcome} (outcome: 2xx|3xx|4xx|5xx|error),
//   weft_http_retries_total{connector}, weft_http_wait_seconds_total{connector},
//   weft_token_refreshes_total{connector,result}, weft_rate_limit_cooldowns_total{connector},
//   weft_connectors_loaded (gauge), weft_api_requests_total{route,code} (the daemon's own API).
void declare_engine_metrics(Metrics& m);

}  // namespace weft::daemon
