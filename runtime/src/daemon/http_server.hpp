// http_server.hpp — the daemon's HTTP front: a router of (method, path pattern) to handlers, admin
// bearer-token auth, bounded request bodies, stable JSON error bodies, on Poco::Net::HTTPServer.
//
//   Router r;
//   r.add("GET", "/v1/runs/{id}", [](const Request& q) { return Response::json(200, get(q.param("id"))); });
//   auto server = HttpServer::start({.host = "127.0.0.1", .port = 8080, .admin_token = tok}, r, &metrics);
//   if (!server) return fail(server.status());   // "cannot listen on 127.0.0.1:8080: address already in use"
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/json.hpp"
#include "core/status.hpp"
#include "daemon/metrics.hpp"

namespace weft::daemon {

// One request as handlers see it: the body is already read (and bounded), names are lowercase.
struct Request {
  std::string method;
  std::string path;                                          // raw (still percent-encoded) path
  std::map<std::string, std::string> params;                 // decoded path parameters ({id} → "r-1")
  std::vector<std::pair<std::string, std::string>> query;    // decoded, in order
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased, in order
  std::string body;

  std::string param(const std::string& name) const;
  std::string header(const std::string& lowercase_name) const;  // "" when absent
  std::string query_param(const std::string& name) const;       // "" when absent
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  static Response json(int status, const Json& value);
  // {"error": {"code": code, "message": message}} — the one error shape of the API.
  static Response error(int status, const std::string& code, const std::string& message);
  // Maps a Status to its HTTP status (invalid_argument → 400, not_found → 404, ...) and error body.
  static Response from_status(const Status& s);
  static Response text(int status, std::string body, std::string content_type = "text/plain; charset=utf-8");
};

using Handler = std::function<Response(const Request&)>;

enum class Auth { kAdmin, kNone };

// Routes are matched segment by segment; "{name}" matches one non-empty segment, percent-decoded.
// Not thread-safe to modify; add every route before the server starts (then reads are concurrent).
class Router {
 public:
  void add(const std::string& method, const std::string& pattern, Handler handler, Auth auth = Auth::kAdmin);

  struct Match {
    enum class Kind { kFound, kNotFound, kMethodNotAllowed } kind = Kind::kNotFound;
    const Handler* handler = nullptr;
    Auth auth = Auth::kAdmin;
    std::string pattern;
    std::map<std::string, std::string> params;
    std::vector<std::string> allowed;  // for 405's Allow header
  };
  Match match(const std::string& method, const std::string& raw_path) const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    Handler handler;
    Auth auth;
  };
  std::vector<Route> routes_;
};

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;  // 0: an ephemeral port, see HttpServer::port()
  int workers = 16;           // threads handling requests
  int max_queued = 64;        // accepted connections waiting for a worker; beyond it they are closed
  std::size_t max_body_bytes = 1024 * 1024;
  std::chrono::seconds io_timeout{15};         // a client that stalls reading or writing is dropped
  std::chrono::seconds keep_alive_timeout{5};  // an idle keep-alive connection is closed
  // Requests on one connection before the server closes it (nginx's default, keepalive_requests,
  // is 1,000 too). Slow or idle clients are bounded by the timeouts above, not by this; at 100, a
  // busy client reconnected every 100 requests and those requests made the latency's 99th percentile.
  int max_keep_alive_requests = 1000;
  std::string admin_token;  // required as "Authorization: Bearer <token>" on Auth::kAdmin routes
};

// A running server. Requests are served on its own worker pool until stop() or destruction.
class HttpServer {
 public:
  // Binds and starts. unavailable "cannot listen on HOST:PORT: <reason>" when the bind fails.
  // The router and metrics (may be null) must outlive the server.
  static Result<std::unique_ptr<HttpServer>> start(const ServerOptions& options, const Router& router,
                                                   Metrics* metrics);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  std::uint16_t port() const;
  // Stops accepting, then waits up to drain for in-flight requests. True when all finished in time.
  bool stop(std::chrono::milliseconds drain);
  // The first half of stop(): stops accepting and waits up to drain for in-flight requests, without
  // joining the workers (so a handler that never returns cannot hold the caller). True when none is
  // left. stop() afterwards closes connections and joins.
  bool drain(std::chrono::milliseconds drain);

  struct Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Equality of two secrets in time independent of where they differ (length differences still show).
bool constant_time_equals(const std::string& a, const std::string& b);

}  // namespace weft::daemon
