// serve.cpp — the service loop around Daemon.
#include "daemon/serve.hpp"

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <memory>
#include <optional>

#include "core/log.hpp"
#include "core/paths.hpp"
#include "daemon/daemon.hpp"
#include "daemon/process.hpp"

namespace weft::daemon {
namespace {

void reload(const Services& s, const char* why) {
  if (!s.reload) return;
  auto r = s.reload();
  if (r)
    log::info("daemon", "reloaded", {{"reason", why}, {"summary", json::stringify(*r)}});
  else
    log::error("daemon", "reload failed; keeping what was loaded",
               {{"reason", why}, {"error", r.status().message()}});
}

}  // namespace

int serve(const ServeOptions& options, Services services, Metrics* metrics) {
  Result<Config> cfg = options.config_path.empty() ? parse_config("", "(defaults)", "", paths::default_home())
                                                   : load_config(options.config_path);
  if (!cfg) {
    std::cerr << "weft serve: " << cfg.status().message() << "\n";
    return 1;  // a file the user must fix (issue 5: exit 1); 2 stays for bad command-line usage
  }
  log::set_format(cfg->log_format);
  std::optional<DetachedParent> parent;
  if (options.daemonize) {
    auto d = detach();
    if (!d) {
      std::cerr << "weft serve: cannot detach: " << d.status().message() << "\n";
      return 1;
    }
    parent.emplace(std::move(*d));
  }
  auto fail = [&](const Status& s) {
    if (parent)
      parent->fail(s);
    else
      std::cerr << "weft serve: " << s.message() << "\n";
    log::error("daemon", "cannot start", {{"error", s.message()}});
    return 1;
  };

  block_control_signals();
  std::optional<PidFile> pid;
  if (!options.pidfile.empty()) {
    auto p = PidFile::acquire(options.pidfile);
    if (!p) return fail(p.status());
    pid.emplace(std::move(*p));
  }
  if (!cfg->home.empty()) {
    std::string err;
    if (!paths::ensure_private_dir(cfg->home, err)) return fail(Status(Code::kUnavailable, err));
  }

  // The watcher's first snapshot is taken before the engine loads anything, so a file written
  // while it loads (or right after the port answers) is seen as a change and reloaded. Its thread
  // starts once the services are filled in.
  std::vector<std::string> watched = cfg->connectors;
  if (!cfg->workflows.empty()) watched.push_back(cfg->workflows);
  DirWatcher watcher(watched, [&services](const std::vector<DirWatcher::Change>& changes) {
    log::info("daemon", "files changed",
              {{"count", std::to_string(changes.size())}, {"first", changes.front().path}});
    reload(services, "files changed");
  });

  // After detaching and blocking signals: threads the engine starts here live in the daemon process
  // and inherit the signal mask.
  if (options.on_config) {
    if (Status s = options.on_config(*cfg, services); !s.ok()) return fail(s);
  }

  Metrics own_metrics;
  Metrics& m = metrics ? *metrics : own_metrics;
  declare_engine_metrics(m);
  Daemon daemon(*cfg, services, m);
  if (Status s = daemon.start(); !s.ok()) return fail(s);
  const bool has_home = !cfg->home.empty();
  if (has_home) {
    // How `weft connections authorize` on this home reaches the callback: a wildcard listen host is
    // reached on loopback.
    std::string host = cfg->listen_host;
    if (host == "0.0.0.0" || host.empty()) host = "127.0.0.1";
    if (host == "::") host = "::1";
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    RunningDaemon self;
    self.pid = static_cast<int>(::getpid());
    self.url = "http://" + host + ":" + std::to_string(daemon.port());
    self.callback_url = (cfg->public_url.empty() ? self.url : cfg->public_url) + "/oauth/callback";
    if (Status w = write_daemon_file(cfg->home, self); !w.ok())
      log::warn("daemon", "cannot write serve.json; `weft connections authorize` will not find this daemon",
                {{"error", w.message()}});
  }
  // Loading parsed every manifest, workflow and schema; what it freed goes back to the system
  // instead of staying in the heap as free chunks the daemon never uses again.
  ::malloc_trim(0);
  if (parent) parent->ready();
  if (options.on_started) options.on_started();

  watcher.start(options.watch_interval);

  while (true) {
    ControlSignal sig = wait_for_signal(std::chrono::milliseconds(1000));
    if (sig == ControlSignal::kReload) reload(services, "SIGHUP");
    if (sig == ControlSignal::kTerminate) break;
  }
  log::info("daemon", "stopping: triggers stopped, draining in-flight requests and runs",
            {{"drain_timeout_ms", std::to_string(cfg->drain_timeout.count())}});
  const auto deadline = std::chrono::steady_clock::now() + cfg->drain_timeout;
  if (options.on_stopping) options.on_stopping();
  watcher.stop();
  bool drained = daemon.drain(cfg->drain_timeout);
  const auto left = std::max(
      std::chrono::milliseconds(0),
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()));
  if (options.on_drain && !options.on_drain(left)) drained = false;
  if (has_home) remove_daemon_file(cfg->home, static_cast<int>(::getpid()));
  if (!drained) {
    log::warn("daemon", "drain timeout expired with requests or runs still going");
    if (options.on_drain_expired) options.on_drain_expired();
  }
  daemon.stop(std::chrono::milliseconds(0));
  log::info("daemon", "stopped");
  return 0;
}

}  // namespace weft::daemon
