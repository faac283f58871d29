// http_server.cpp — Poco HTTPServer plumbing. Bounds: `workers` threads, `max_queued` accepted
// connections waiting (the rest are closed by Poco's dispatcher), per-connection I/O timeouts and
// keep-alive limits, and request bodies refused from Content-Length before any byte is read.
#include "daemon/http_server.hpp"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/String.h>
#include <Poco/ThreadPool.h>
#include <Poco/URI.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

#include "core/log.hpp"
#include "http/socket_poll.hpp"

namespace weft::daemon {
namespace {

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i <= path.size()) {
    std::size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

int http_status_of(Code c) {
  switch (c) {
    case Code::kOk:
      return 200;
    case Code::kInvalidArgument:
      return 400;
    case Code::kNotFound:
      return 404;
    case Code::kAlreadyExists:
      return 409;
    case Code::kFailedPrecondition:
      return 409;
    case Code::kUnauthenticated:
      return 401;
    case Code::kPermissionDenied:
      return 403;
    case Code::kUnavailable:
      return 503;
    case Code::kDeadlineExceeded:
      return 504;
    case Code::kRateLimited:
      return 429;
    case Code::kResourceExhausted:
      return 413;
    case Code::kDataLoss:
      return 500;
    case Code::kInternal:
      return 500;
  }
  return 500;
}

}  // namespace

std::string Request::param(const std::string& name) const {
  auto it = params.find(name);
  return it == params.end() ? "" : it->second;
}
std::string Request::header(const std::string& lowercase_name) const {
  for (const auto& [k, v] : headers)
    if (k == lowercase_name) return v;
  return "";
}
std::string Request::query_param(const std::string& name) const {
  for (const auto& [k, v] : query)
    if (k == name) return v;
  return "";
}

Response Response::json(int status, const Json& value) {
  Response r;
  r.status = status;
  r.body = json::stringify(value);
  return r;
}

Response Response::error(int status, const std::string& code, const std::string& message) {
  return json(status, json::object({{"error", json::object({{"code", code}, {"message", message}})}}));
}

Response Response::from_status(const Status& s) {
  if (s.ok()) return json(200, json::object());
  int status = http_status_of(s.code());
  // Internal details stay in the log; the client gets a stable message.
  if (status == 500) {
    log::error("daemon", "internal error", {{"error", s.message()}});
    return error(500, code_name(s.code()), "internal error; see the daemon log");
  }
  return error(status, code_name(s.code()), s.message());
}

Response Response::text(int status, std::string body, std::string content_type) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.content_type = std::move(content_type);
  return r;
}

bool constant_time_equals(const std::string& a, const std::string& b) {
  volatile unsigned char diff = a.size() == b.size() ? 0 : 1;
  const std::size_t n = std::max(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff = static_cast<unsigned char>(diff | (x ^ y));
  }
  return diff == 0;
}

void Router::add(const std::string& method, const std::string& pattern, Handler handler, Auth auth) {
  routes_.push_back({method, pattern, split_path(pattern), std::move(handler), auth});
}

Router::Match Router::match(const std::string& method, const std::string& raw_path) const {
  Match m;
  const std::vector<std::string> segs = split_path(raw_path);
  for (const Route& r : routes_) {
    if (r.segments.size() != segs.size()) continue;
    std::map<std::string, std::string> params;
    bool ok = true;
    for (std::size_t i = 0; i < segs.size() && ok; ++i) {
      const std::string& p = r.segments[i];
      if (p.size() > 2 && p.front() == '{' && p.back() == '}') {
        std::string decoded;
        try {
          Poco::URI::decode(segs[i], decoded);
        } catch (const Poco::Exception&) {
          ok = false;
        }
        params[p.substr(1, p.size() - 2)] = decoded;
      } else {
        ok = p == segs[i];
      }
    }
    if (!ok) continue;
    if (r.method != method) {
      m.kind = Match::Kind::kMethodNotAllowed;
      m.allowed.push_back(r.method);
      m.pattern = r.pattern;
      continue;
    }
    m.kind = Match::Kind::kFound;
    m.handler = &r.handler;
    m.auth = r.auth;
    m.pattern = r.pattern;
    m.params = std::move(params);
    return m;
  }
  return m;
}

struct HttpServer::Impl {
  ServerOptions options;
  const Router* router = nullptr;
  Metrics* metrics = nullptr;
  std::atomic<int> in_flight{0};
  // Declared before the server: the server must be destroyed (joining its threads) first.
  std::unique_ptr<Poco::ThreadPool> pool;
  std::unique_ptr<Poco::Net::HTTPServer> server;
  http::PollServerSocket socket;  // one poll(2) per keep-alive request, not a new epoll instance
  bool stopped = false;
  bool accepting_stopped = false;

  Response handle(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp, std::string& route);
};

namespace {

class RequestHandler : public Poco::Net::HTTPRequestHandler {
 public:
  explicit RequestHandler(HttpServer::Impl& impl) : impl_(impl) {}
  void handleRequest(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) override {
    ++impl_.in_flight;
    std::string route = "unmatched";
    Response r;
    try {
      r = impl_.handle(req, resp, route);
    } catch (const std::exception& e) {
      log::error("daemon", "handler failed", {{"route", route}, {"error", e.what()}});
      r = Response::error(500, "internal", "internal error; see the daemon log");
    }
    if (impl_.metrics)
      impl_.metrics->counter("weft_api_requests_total", "", {"route", "code"})
          .inc({route, std::to_string(r.status)});
    try {
      resp.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(r.status));
      resp.setContentType(r.content_type);
      for (const auto& [k, v] : r.headers) resp.set(k, v);
      // Sets Content-Length and writes the header once (send() writes it twice, the first time
      // only to count its bytes); a HEAD request gets the header alone.
      resp.sendBuffer(r.body.data(), r.body.size());
    } catch (const std::exception& e) {
      log::debug("daemon", "client went away", {{"error", e.what()}});
    }
    --impl_.in_flight;
  }

 private:
  HttpServer::Impl& impl_;
};

class HandlerFactory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit HandlerFactory(HttpServer::Impl& impl) : impl_(impl) {}
  // Poco takes ownership of the returned handler and deletes it after the request.
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
    return new RequestHandler(impl_);
  }

 private:
  HttpServer::Impl& impl_;
};

}  // namespace

Response HttpServer::Impl::handle(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp,
                                  std::string& route) {
  std::string uri = req.getURI();
  std::string raw_path = uri.substr(0, uri.find_first_of("?#"));
  Router::Match m = router->match(req.getMethod(), raw_path);
  route = m.pattern.empty() ? "unmatched" : m.pattern;

  const bool needs_auth =
      m.kind == Router::Match::Kind::kFound ? m.auth == Auth::kAdmin : raw_path.rfind("/v1/", 0) == 0;
  if (needs_auth) {
    const std::string auth = req.get("Authorization", "");
    const std::string prefix = "Bearer ";
    bool ok = auth.size() > prefix.size() && Poco::icompare(auth.substr(0, prefix.size()), prefix) == 0 &&
              !options.admin_token.empty() &&
              constant_time_equals(auth.substr(prefix.size()), options.admin_token);
    if (!ok) {
      resp.setKeepAlive(false);  // the body (if any) is not read
      Response r = Response::error(401, "unauthenticated", "missing or wrong admin token");
      r.headers.emplace_back("WWW-Authenticate", "Bearer");
      return r;
    }
  }
  if (m.kind == Router::Match::Kind::kNotFound) {
    resp.setKeepAlive(false);
    return Response::error(404, "not_found", "no such endpoint: " + req.getMethod() + " " + raw_path);
  }
  if (m.kind == Router::Match::Kind::kMethodNotAllowed) {
    resp.setKeepAlive(false);
    std::string allow;
    for (const auto& a : m.allowed) allow += (allow.empty() ? "" : ", ") + a;
    Response r = Response::error(405, "method_not_allowed",
                                 req.getMethod() + " is not allowed on " + raw_path + "; allowed: " + allow);
    r.headers.emplace_back("Allow", allow);
    return r;
  }

  Request q;
  q.method = req.getMethod();
  q.path = raw_path;
  q.params = std::move(m.params);
  for (const auto& [k, v] : req) q.headers.emplace_back(Poco::toLower(k), v);
  if (uri.find('?') != std::string::npos) {
    try {
      for (auto& kv : Poco::URI(uri).getQueryParameters()) q.query.push_back(std::move(kv));
    } catch (const Poco::Exception& e) {
      return Response::error(400, "invalid_argument", "bad query string: " + e.message());
    }
  }

  // The body: refused from its declared length before reading, or as soon as a chunked body passes
  // the limit, so a 100 MB upload costs one 64 KiB buffer. The connection is closed afterwards because
  // the rest of the body is still on the wire.
  const auto too_big = [&] {
    return "request body is larger than max_body_bytes (" + std::to_string(options.max_body_bytes) +
           " bytes); raise max_body_bytes in the config to accept it";
  };
  if (req.hasContentLength() && req.getContentLength64() > static_cast<Poco::Int64>(options.max_body_bytes)) {
    resp.setKeepAlive(false);
    return Response::error(413, "resource_exhausted", too_big());
  }
  std::istream& in = req.stream();
  char buf[65536];
  while (in) {
    in.read(buf, sizeof buf);
    std::size_t n = static_cast<std::size_t>(in.gcount());
    if (n == 0) break;
    if (q.body.size() + n > options.max_body_bytes) {
      resp.setKeepAlive(false);
      return Response::error(413, "resource_exhausted", too_big());
    }
    q.body.append(buf, n);
  }
  return (*m.handler)(q);
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { stop(std::chrono::milliseconds(0)); }

Result<std::unique_ptr<HttpServer>> HttpServer::start(const ServerOptions& options, const Router& router,
                                                      Metrics* metrics) {
  const bool v6 = options.host.find(':') != std::string::npos;
  const std::string shown =
      (v6 ? "[" + options.host + "]" : options.host) + ":" + std::to_string(options.port);
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->router = &router;
  impl->metrics = metrics;
  try {
    Poco::Net::SocketAddress addr(options.host, options.port);
    // reuseAddress (quick restarts after TIME_WAIT) but never reusePort: a second daemon on the same
    // port must fail, not silently share it.
    impl->socket.bind(addr, true, false);
    impl->socket.listen(128);
  } catch (const Poco::Exception& e) {
    std::string reason = e.message().empty() ? e.displayText() : e.message();
    if (dynamic_cast<const Poco::Net::HostNotFoundException*>(&e) ||
        dynamic_cast<const Poco::Net::NoAddressFoundException*>(&e))
      reason = "cannot resolve host '" + options.host + "'";
    else if (e.code() == EADDRINUSE || reason.find("already in use") != std::string::npos)
      reason = "address already in use";
    else if (e.code() == EACCES || reason.find("denied") != std::string::npos)
      reason = "permission denied (ports below 1024 need privileges)";
    else if (e.code() == EADDRNOTAVAIL || reason.find("assign requested") != std::string::npos)
      reason = "no such local address";
    return Status(Code::kUnavailable, "cannot listen on " + shown + ": " + Poco::toLower(reason));
  }

  const int workers = std::max(1, options.workers);
  auto* params = new Poco::Net::HTTPServerParams;  // Poco takes ownership (reference counted)
  params->setMaxThreads(workers);
  params->setMaxQueued(std::max(1, options.max_queued));
  params->setTimeout(Poco::Timespan(static_cast<long>(options.io_timeout.count()), 0));
  params->setKeepAlive(true);
  params->setKeepAliveTimeout(Poco::Timespan(static_cast<long>(options.keep_alive_timeout.count()), 0));
  params->setMaxKeepAliveRequests(options.max_keep_alive_requests);
  params->setServerName("weft");
  impl->pool = std::make_unique<Poco::ThreadPool>(1, workers);
  Impl& ref = *impl;
  impl->server =
      std::make_unique<Poco::Net::HTTPServer>(new HandlerFactory(ref), *impl->pool, impl->socket, params);
  impl->server->start();
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

std::uint16_t HttpServer::port() const { return impl_->socket.address().port(); }

bool HttpServer::drain(std::chrono::milliseconds drain) {
  if (!impl_->accepting_stopped) {
    impl_->accepting_stopped = true;
    impl_->server->stop();  // stop accepting; in-flight requests continue
  }
  const auto deadline = std::chrono::steady_clock::now() + drain;
  while (impl_->in_flight.load() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return impl_->in_flight.load() == 0;
}

bool HttpServer::stop(std::chrono::milliseconds drain) {
  if (impl_->stopped) return true;
  const bool drained = this->drain(drain);
  impl_->stopped = true;
  impl_->server->stopAll(true);  // close idle keep-alive connections and abort what is left
  impl_->pool->joinAll();
  return drained;
}

}  // namespace weft::daemon
