// metrics.cpp — Prometheus text format by hand: it is a few lines, and the escaping rules
// (backslash, quote, newline in label values; backslash, newline in help) are the only subtlety.
#include "daemon/metrics.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>

namespace weft::daemon {
namespace {

std::string escape(const std::string& s, bool quote) {
  std::string out;
  for (char c : s) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (c == '"' && quote)
      out += "\\\"";
    else
      out += c;
  }
  return out;
}

// The shortest text that reads back as v, in %g style ("0.0005", not "0.00050000000000000001"
// or "5e-04"), as Prometheus's own clients write it: a query that matches a bucket by its label
// (le="0.005") finds it.
std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  char buf[64];
  std::to_chars_result r{};
  if (std::trunc(v) == v && std::fabs(v) < 9007199254740992.0)  // a whole count: all its digits
    r = std::to_chars(buf, buf + sizeof buf, static_cast<std::int64_t>(v));
  else
    r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general);
  return std::string(buf, r.ec == std::errc() ? r.ptr : buf);
}

const char* type_name(MetricFamily::Type t) {
  switch (t) {
    case MetricFamily::Type::kCounter:
      return "counter";
    case MetricFamily::Type::kGauge:
      return "gauge";
    case MetricFamily::Type::kHistogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

MetricFamily::MetricFamily(std::string name, std::string help, Type type,
                           std::vector<std::string> label_names, std::vector<double> buckets)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(type),
      label_names_(std::move(label_names)),
      buckets_(std::move(buckets)) {}

Labels MetricFamily::normalize(const Labels& labels) const {
  Labels out = labels;
  out.resize(label_names_.size());
  return out;
}

void MetricFamily::inc(const Labels& labels, double delta) {
  if (type_ == Type::kCounter && delta < 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  series_[normalize(labels)].value += delta;
}

void MetricFamily::set(const Labels& labels, double value) {
  std::lock_guard<std::mutex> lock(mu_);
  series_[normalize(labels)].value = value;
}

void MetricFamily::observe(const Labels& labels, double value) {
  std::lock_guard<std::mutex> lock(mu_);
  Series& s = series_[normalize(labels)];
  if (s.bucket_counts.empty()) s.bucket_counts.assign(buckets_.size(), 0);
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    if (value <= buckets_[i]) {
      ++s.bucket_counts[i];
      break;
    }
  }
  s.sum += value;
  ++s.count;
}

double MetricFamily::value(const Labels& labels) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = series_.find(normalize(labels));
  if (it == series_.end()) return 0;
  return type_ == Type::kHistogram ? static_cast<double>(it->second.count) : it->second.value;
}

std::string MetricFamily::label_text(const Labels& values, const std::string& extra) const {
  std::string out;
  for (std::size_t i = 0; i < label_names_.size(); ++i)
    out += (out.empty() ? "" : ",") + label_names_[i] + "=\"" + escape(values[i], true) + "\"";
  if (!extra.empty()) out += (out.empty() ? "" : ",") + extra;
  return out.empty() ? "" : "{" + out + "}";
}

void MetricFamily::render(std::string& out) const {
  out += "# HELP " + name_ + " " + escape(help_, false) + "\n";
  out += "# TYPE " + name_ + " " + type_name(type_) + "\n";
  std::lock_guard<std::mutex> lock(mu_);
  if (series_.empty() && label_names_.empty() && type_ != Type::kHistogram) {
    out += name_ + " 0\n";  // an unlabelled counter/gauge exists from the start
    return;
  }
  for (const auto& [labels, s] : series_) {
    if (type_ != Type::kHistogram) {
      out += name_ + label_text(labels) + " " + number(s.value) + "\n";
      continue;
    }
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < buckets_.size(); ++i) {
      cumulative += s.bucket_counts.empty() ? 0 : s.bucket_counts[i];
      out += name_ + "_bucket" + label_text(labels, "le=\"" + number(buckets_[i]) + "\"") + " " +
             std::to_string(cumulative) + "\n";
    }
    out += name_ + "_bucket" + label_text(labels, "le=\"+Inf\"") + " " + std::to_string(s.count) + "\n";
    out += name_ + "_sum" + label_text(labels) + " " + number(s.sum) + "\n";
    out += name_ + "_count" + label_text(labels) + " " + std::to_string(s.count) + "\n";
  }
}

MetricFamily& Metrics::get_or_add(const std::string& name, const std::string& help, MetricFamily::Type type,
                                  std::vector<std::string> labels, std::vector<double> buckets) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& f : families_)
    if (f->name() == name) return *f;
  families_.push_back(
      std::make_unique<MetricFamily>(name, help, type, std::move(labels), std::move(buckets)));
  return *families_.back();
}

MetricFamily& Metrics::counter(const std::string& name, const std::string& help,
                               std::vector<std::string> labels) {
  return get_or_add(name, help, MetricFamily::Type::kCounter, std::move(labels), {});
}
MetricFamily& Metrics::gauge(const std::string& name, const std::string& help,
                             std::vector<std::string> labels) {
  return get_or_add(name, help, MetricFamily::Type::kGauge, std::move(labels), {});
}
MetricFamily& Metrics::histogram(const std::string& name, const std::string& help,
                                 std::vector<std::string> labels, std::vector<double> buckets) {
  return get_or_add(name, help, MetricFamily::Type::kHistogram, std::move(labels), std::move(buckets));
}

void Metrics::add_collector(const void* owner, std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(collector_mu_);
  for (auto& [o, f] : collectors_) {
    if (o == owner) {
      f = std::move(fn);
      return;
    }
  }
  collectors_.emplace_back(owner, std::move(fn));
}

void Metrics::remove_collector(const void* owner) {
  std::lock_guard<std::mutex> lock(collector_mu_);
  std::erase_if(collectors_, [owner](const auto& c) { return c.first == owner; });
}

std::string Metrics::render() const {
  {
    std::lock_guard<std::mutex> lock(collector_mu_);
    for (const auto& [owner, fn] : collectors_) fn();
  }
  std::string out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& f : families_) f->render(out);
  return out;
}

void declare_engine_metrics(Metrics& m) {
  m.counter("weft_runs_total", "Workflow runs by final status.", {"status"});
  m.histogram("weft_step_duration_seconds", "Latency of workflow steps.", {"connector", "action"},
              // From 0.5 ms: a step that calls a nearby API often takes less than 5 ms, where
              // Prometheus's default buckets start.
              {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60});
  m.counter("weft_http_requests_total",
            "Outbound HTTP calls by connector and final outcome (status class after retries, or error).",
            {"connector", "outcome"});
  m.counter("weft_http_retries_total", "Outbound HTTP attempts beyond the first, by connector.",
            {"connector"});
  m.counter("weft_http_wait_seconds_total",
            "Time outbound HTTP calls spent waiting in rate-limit cooldowns, pacing and back-off.",
            {"connector"});
  m.counter("weft_token_refreshes_total", "OAuth token refreshes by connector and result.",
            {"connector", "result"});
  m.counter("weft_rate_limit_cooldowns_total",
            "Rate-limit cooldowns (a 429 pausing calls) by connector.", {"connector"});
  m.gauge("weft_connectors_loaded", "Connectors currently loaded.");
  m.counter("weft_api_requests_total", "Requests to the daemon's HTTP API by route and status code.",
            {"route", "code"});
}

}  // namespace weft::daemon
