// serve.hpp — the whole of `weft serve`: config, optional detach and pid file, the HTTP API, the
// directory watcher, SIGHUP reload and SIGTERM drain. The CLI command calls this once.
//
//   daemon::ServeOptions o{.config_path = "/etc/weft/weft.yaml"};
//   daemon::Services s = engine_services();     // the lead's wiring
//   return daemon::serve(o, s);
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "daemon/config.hpp"
#include "daemon/metrics.hpp"
#include "daemon/services.hpp"

namespace weft::daemon {

struct ServeOptions {
  std::string config_path;  // empty: every default (listen 127.0.0.1:8080, home WEFT_HOME or ~/.weft)
  bool daemonize = false;   // --daemon: detach; the starting process exits 0 once the port is bound
  std::string pidfile;      // --pidfile FILE (optional)
  std::chrono::milliseconds watch_interval{1000};  // connectors/workflows directory polling
  // Called once the config is loaded, the process detached, signals blocked and the pid file held,
  // before the HTTP server starts: open the engine with cfg.home / cfg.connectors and fill Services
  // here (threads started here are the daemon's). A failure stops serve() with exit code 1.
  std::function<Status(const Config&, Services&)> on_config;
  // Called once the HTTP API is bound (so this is the one daemon on its port), before control
  // signals are waited for: resume unfinished runs and start schedules here. May be empty.
  std::function<void()> on_started;
  // SIGTERM/SIGINT received, before the HTTP server stops accepting: stop whatever starts runs on
  // its own (schedules, pollers). May be empty.
  std::function<void()> on_stopping;
  // After the HTTP drain, with what is left of drain_timeout: wait for the runs started without a
  // request still open; true when none is left. May be empty.
  std::function<bool(std::chrono::milliseconds left)> on_drain;
  // drain_timeout expired with requests or runs still going, before anything waits for them:
  // record them (interrupted) and end the process; when it returns, serve() stops the server and
  // returns 0, which waits for handlers still running. May be empty.
  std::function<void()> on_drain_expired;
};

// Runs until SIGTERM/SIGINT. Once bound, writes <home>/serve.json (process.hpp, RunningDaemon);
// removed on stop. SIGTERM: on_stopping, the watcher stops, the HTTP server stops accepting and
// drains, on_drain, and on_drain_expired when drain_timeout ran out. Exit codes: 0 after a drained
// stop (also when drain_timeout expired; logged), 1 for a bad config or when the daemon cannot start (port in
// use, token file mode, pid file held). Errors go to stderr as one line. Call from the main thread before any
// other thread starts (signals are blocked process-wide by inheritance; --daemon forks). metrics may be null.
int serve(const ServeOptions& options, Services services, Metrics* metrics = nullptr);

}  // namespace weft::daemon
