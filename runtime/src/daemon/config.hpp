// config.hpp — the daemon's YAML configuration (schemas/config.schema.json), loaded into a struct.
//
//   Result<daemon::Config> cfg = daemon::load_config("/etc/weft/weft.yaml");
//   if (!cfg) { std::cerr << cfg.status().message() << "\n"; return 2; }  // "weft.yaml:3:1: ..."
//   server.listen(cfg->listen_host, cfg->listen_port);
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/log.hpp"
#include "core/status.hpp"

namespace weft::daemon {

struct SsrfGuardConfig {
  bool enabled = false;
  std::vector<std::string> allow;  // CIDR ranges, as written
};

struct Config {
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 8080;  // 0 = an ephemeral port (tests)
  std::string home;                  // absolute when loaded from a file
  std::vector<std::string> connectors;
  std::string workflows;
  int workers = 16;              // a synchronous webhook holds a worker for its whole run
  std::string admin_token_file;  // default <home>/admin.token
  log::Format log_format = log::Format::kText;
  std::chrono::milliseconds drain_timeout{30000};
  std::size_t max_body_bytes = 1024 * 1024;
  SsrfGuardConfig ssrf_guard;
  std::string public_url;  // empty: http://<listen>

  // "HOST:PORT" as it would be written in the config ("[::1]:80" for IPv6).
  std::string listen_address() const;
};

// Parses "HOST:PORT" / "[v6]:PORT". invalid_argument naming what is wrong.
Status parse_listen(std::string_view text, std::string& host, std::uint16_t& port);

// Parses a duration "500ms" / "30s" / "2m" (or bare seconds "30"). invalid_argument otherwise.
Result<std::chrono::milliseconds> parse_duration(std::string_view text);

// Parses config text. source names the file in errors ("weft.yaml:3:9: ..."); relative paths are
// resolved against base_dir; default_home fills `home` when absent. One invalid_argument error
// for the first problem, with line:column and a hint. Thread-safe (no shared state).
Result<Config> parse_config(std::string_view text, const std::string& source, const std::string& base_dir,
                            const std::string& default_home);

// Reads and parses a config file (default_home = paths::default_home()). not_found when missing.
Result<Config> load_config(const std::string& path);

}  // namespace weft::daemon
