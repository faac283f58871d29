// daemon.hpp — the HTTP API of `weft serve` wired to the engine's services.
//
//   daemon::Daemon d(config, services, metrics);
//   if (Status s = d.start(); !s.ok()) return fail(s);   // token created, port bound
//   ... d.stop(config.drain_timeout);
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "core/status.hpp"
#include "daemon/config.hpp"
#include "daemon/http_server.hpp"
#include "daemon/metrics.hpp"
#include "daemon/services.hpp"

namespace weft::daemon {

// True when s may name a workflow or connection in a URL: 1-128 of [A-Za-z0-9_.-], not starting
// with '.', so "../x", "/etc/passwd" and "." never reach a service as a name.
bool valid_name(const std::string& s);

class Daemon {
 public:
  // services and metrics are not owned and must outlive the daemon.
  Daemon(Config config, const Services& services, Metrics& metrics);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Loads or creates the admin token, then binds and serves. The first failure, as a Status ready
  // to print (permission_denied for a token file others can read, unavailable for a busy port).
  Status start();
  // Stops accepting and drains in-flight requests up to drain; true when all finished.
  bool stop(std::chrono::milliseconds drain);
  // Stops accepting and waits up to drain for in-flight requests without joining the workers; true
  // when none is left. stop() afterwards finishes the job.
  bool drain(std::chrono::milliseconds drain);
  std::uint16_t port() const;
  const std::string& admin_token() const { return token_; }
  const Router& router() const { return router_; }

 private:
  void add_routes();
  Config config_;
  Services services_;
  Metrics& metrics_;
  Router router_;
  std::string token_;
  std::unique_ptr<HttpServer> server_;
};

}  // namespace weft::daemon
