#include "core/log.hpp"

#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/Timestamp.h>

#include <atomic>
#include <iostream>
#include <mutex>

#include "core/redact.hpp"
#include "weft/sdk.hpp"

namespace weft::log {
namespace {
std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
std::atomic<int> g_format{static_cast<int>(Format::kText)};
std::mutex g_sink_mu;
std::function<void(const std::string&)>& sink() {
  static std::function<void(const std::string&)> s;
  return s;
}

const char* level_name(Level l) {
  switch (l) {
    case Level::kDebug: return "DEBUG";
    case Level::kInfo: return "INFO";
    case Level::kWarn: return "WARN";
    case Level::kError: return "ERROR";
  }
  return "INFO";
}

bool needs_quotes(std::string_view v) {
  return v.empty() || v.find_first_of(" \"=\t\n") != std::string_view::npos;
}
}  // namespace

void set_level(Level level) { g_level = static_cast<int>(level); }
void set_format(Format format) { g_format = static_cast<int>(format); }
void set_sink(std::function<void(const std::string&)> s) {
  std::lock_guard lock(g_sink_mu);
  sink() = std::move(s);
}
void reset_sink() { set_sink(nullptr); }

void write(Level level, std::string_view component, std::string_view msg, const Fields& fields) {
  if (static_cast<int>(level) < g_level.load()) return;
  std::string ts = Poco::DateTimeFormatter::format(Poco::Timestamp(), "%Y-%m-%dT%H:%M:%S.%iZ");
  std::string line;
  if (g_format.load() == static_cast<int>(Format::kJson)) {
    using sdk::json_quote;
    line = "{\"ts\":" + json_quote(ts) + ",\"level\":" + json_quote(level_name(level)) +
           ",\"component\":" + json_quote(component) + ",\"msg\":" + json_quote(redact::apply(msg));
    for (const auto& [k, v] : fields) line += "," + json_quote(k) + ":" + json_quote(redact::apply(v));
    line += "}";
  } else {
    line = ts + " " + level_name(level) + " " + std::string(component) + " " + redact::apply(msg);
    for (const auto& [k, v] : fields) {
      std::string value = redact::apply(v);
      line += " " + k + "=" + (needs_quotes(value) ? sdk::json_quote(value) : value);
    }
  }
  std::lock_guard lock(g_sink_mu);
  if (sink()) {
    sink()(line);
  } else {
    std::cerr << line << '\n';
  }
}

}  // namespace weft::log
