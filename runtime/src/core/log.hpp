// log.hpp — one line per event, text or JSON, to stderr (or a sink), secrets redacted.
//
//   log::info("http", "retrying after 429", {{"connection", "my-rs"}, {"wait_ms", "1000"}});
//   // text: 2026-11-25T09:00:00.123Z INFO http retrying after 429 connection=my-rs wait_ms=1000
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weft::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class Format { kText, kJson };

using Fields = std::vector<std::pair<std::string, std::string>>;

// Process-wide settings; thread-safe.
void set_level(Level level);
void set_format(Format format);
// Where lines go (default: stderr). Each call gets one complete line without the newline.
void set_sink(std::function<void(const std::string& line)> sink);
void reset_sink();

// Writes one event when level >= the set level. msg and field values are redacted.
void write(Level level, std::string_view component, std::string_view msg, const Fields& fields = {});
inline void debug(std::string_view c, std::string_view m, const Fields& f = {}) { write(Level::kDebug, c, m, f); }
inline void info(std::string_view c, std::string_view m, const Fields& f = {}) { write(Level::kInfo, c, m, f); }
inline void warn(std::string_view c, std::string_view m, const Fields& f = {}) { write(Level::kWarn, c, m, f); }
inline void error(std::string_view c, std::string_view m, const Fields& f = {}) { write(Level::kError, c, m, f); }

}  // namespace weft::log
