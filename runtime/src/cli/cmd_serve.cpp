// `weft serve [--config FILE] [--daemon --pidfile FILE]`: the engine as a daemon. daemon::serve()
// owns the process (config, detach, signals, HTTP API, watcher); this file opens the engine once
// the config is known and wires daemon::EngineServices into it.
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

#include "cli/command.hpp"
#include "core/log.hpp"
#include "daemon/engine_services.hpp"
#include "daemon/process.hpp"
#include "daemon/serve.hpp"
#include "engine/engine.hpp"

namespace weft::cli {
namespace {

int run_serve(Invocation& inv) {
  daemon::ServeOptions opts;
  opts.config_path = inv.take_option("config").value_or("");
  opts.daemonize = inv.take_flag("daemon");
  opts.pidfile = inv.take_option("pidfile").value_or("");
  if (!inv.usage_error.empty()) return inv.usage(inv.usage_error);
  if (!inv.check_positionals(0, 0)) return kExitUsage;
  if (opts.daemonize && opts.pidfile.empty()) return inv.usage("--daemon needs --pidfile FILE");

  // A config without `home:` falls back to paths::default_home(), which reads WEFT_HOME: make
  // --home count there too. No thread runs yet, so setenv is safe.
  ::setenv("WEFT_HOME", inv.global.home.c_str(), 1);

  // Owned here so they outlive serve(); filled on the daemon's side of the fork (on_config).
  daemon::Metrics metrics;
  std::unique_ptr<engine::Engine> engine;
  std::unique_ptr<daemon::EngineServices> services;
  // One daemon per home: a second one would take the first one's running runs for interrupted.
  std::optional<daemon::PidFile> home_lock;
  opts.on_config = [&](const daemon::Config& cfg, daemon::Services& out) -> Status {
    auto lock = daemon::PidFile::acquire(cfg.home + "/serve.pid");
    if (!lock)
      return Status(Code::kFailedPrecondition,
                    "another weft serve is using home " + cfg.home + " (" + lock.status().message() + ")");
    home_lock.emplace(std::move(*lock));
    engine::Options eo;
    eo.home = cfg.home;
    eo.journal = true;
    // The built-in directory next to the binary is trusted and loaded in place; the user's
    // directories (WEFT_CONNECTORS_PATH, --connectors, `connectors:`) are watched and each file is
    // probed in a child process before the daemon loads a private copy of it.
    eo.connector_dirs.assign(inv.global.connector_dirs.begin(), inv.global.connector_dirs.begin() + 1);
    std::vector<std::string> watched(inv.global.connector_dirs.begin() + 1, inv.global.connector_dirs.end());
    watched.insert(watched.end(), cfg.connectors.begin(), cfg.connectors.end());
    eo.http.block_private_networks = cfg.ssrf_guard.enabled;
    // CIDR ranges (checked when the config was parsed) and single addresses, matched after DNS
    // resolution against the address connected to.
    eo.http.allowed_private_addresses = cfg.ssrf_guard.allow;
    // A connection turning needs_reauth is logged once, by the auth module ("auth" component).
    auto e = engine::Engine::open(eo);
    if (!e) return e.status();
    engine = std::move(*e);
    services = std::make_unique<daemon::EngineServices>(*engine, cfg.workflows, &metrics);
    if (!opts.config_path.empty()) services->ignore_file(opts.config_path);
    daemon::ConnectorLoading loading;
    loading.staging_dir = cfg.home + "/connectors.loading";
    std::error_code ec;
    const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) loading.probe.command = {self.string(), "__probe-connector"};
    if (const char* t = std::getenv("WEFT_CONNECTOR_PROBE_TIMEOUT_MS"); t != nullptr && std::atoi(t) > 0)
      loading.probe.timeout = std::chrono::milliseconds(std::atoi(t));
    services->watch_connectors(std::move(watched), std::move(loading));
    auto loaded = services->reload();
    if (!loaded) return loaded.status();
    log::info("daemon", "workflows loaded", {{"summary", json::stringify(*loaded)}});
    out = services->services();
    return Status::Ok();
  };
  // After the port is bound: runs left `running` by a killed daemon are ours to resume.
  opts.on_started = [&] {
    const int found = services->resume_unfinished();
    if (found > 0) log::info("daemon", "unfinished runs found at start", {{"count", std::to_string(found)}});
    services->start_scheduler();
    services->start_poller();
    // Tokens are renewed ahead of expiry even when no run uses them (the engine also refreshes
    // on use with a 60 s skew): every 30 s, whatever expires within 5 minutes.
    services->start_refresher(std::chrono::seconds(30), std::chrono::seconds(300));
  };
  opts.on_stopping = [&] {
    if (services) services->stop_triggers();
  };
  opts.on_drain = [&](std::chrono::milliseconds left) { return !services || services->shutdown(left); };
  // A run that outlives drain_timeout (a step stuck on a provider that never answers) must not
  // hold the process: it is recorded interrupted (or left for the next start to resume) and the
  // process exits now, without joining the threads still inside it.
  opts.on_drain_expired = [&] {
    const int n = services
                      ? services->interrupt_unfinished(
                            "the daemon stopped (SIGTERM) and drain_timeout expired before this run finished")
                      : 0;
    log::warn("daemon", "exiting without waiting for the runs still going",
              {{"interrupted", std::to_string(n)}});
    std::cout.flush();
    std::cerr.flush();
    std::_Exit(0);
  };
  int rc = daemon::serve(opts, daemon::Services{}, &metrics);
  return rc;
}

const Registrar reg("serve", "[--config FILE] [--daemon --pidfile FILE]",
                    "Run the daemon: HTTP API, webhooks, schedules, OAuth callback", run_serve);

}  // namespace
}  // namespace weft::cli
