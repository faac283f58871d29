// connection.hpp — opening HTTP(S) connections (DNS, SSRF guard, connect, TLS handshake) and
// keeping idle keep-alive connections per origin. Internal to the http module.
//
//   Result<std::unique_ptr<Connection>> c = pool.take_or_open(origin, connect_timeout);
//   ... use (*c)->session ...;  pool.give_back(origin, std::move(*c));   // or just drop it
#pragma once

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/IPAddress.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/status.hpp"
#include "http/client.hpp"
#include "http/ip_range.hpp"

namespace weft::http {

struct Origin {
  std::string scheme;  // "http" or "https"
  std::string host;    // as in the URL, without brackets
  std::uint16_t port = 0;
  std::string key() const { return scheme + "://" + host + ":" + std::to_string(port); }
  // "host:port" for messages.
  std::string where() const { return host + ":" + std::to_string(port); }
};

struct Connection {
  std::unique_ptr<Poco::Net::HTTPClientSession> session;  // owns the (possibly TLS) socket
  bool reused = false;  // taken from the pool, so the server may have closed it meanwhile
  std::chrono::steady_clock::time_point idle_since{};
  // The send/receive timeout last set on the socket, in microseconds (-1: not set by an exchange).
  // A keep-alive connection's calls mostly want the same one, and each setting is a system call.
  Poco::Timespan::TimeDiff io_timeout_us = -1;
};

// Why addr is refused by the SSRF guard ("loopback", "private", ...), or nullopt when it is public.
std::optional<std::string> non_public_range(const Poco::Net::IPAddress& addr);

// True for a refused or timed-out connect, which idempotent calls retry; false for a DNS failure,
// a TLS handshake failure or an SSRF refusal, which another attempt would not change.
bool is_transient_connect_error(const Status& s);

// Thread-safe. Idle connections are kept per origin up to pool_size_per_origin (more are closed
// when returned); connections in use are not limited, so concurrent callers never wait on the pool.
class Pool {
 public:
  explicit Pool(const ClientOptions& options);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // A live idle connection to origin (reused = true), else a new one. Errors: kUnavailable
  // ("cannot resolve host X", "connection refused to X:port", "TLS handshake with X failed: ...",
  // "connect to X:port timed out after N ms"), kPermissionDenied (SSRF guard).
  Result<std::unique_ptr<Connection>> take_or_open(const Origin& origin,
                                                   std::chrono::milliseconds connect_timeout);
  // Always a new connection (after a stale pooled one failed).
  Result<std::unique_ptr<Connection>> open(const Origin& origin, std::chrono::milliseconds connect_timeout);
  // Keeps conn for reuse (the caller read its whole response and the server allows keep-alive).
  void give_back(const Origin& origin, std::unique_ptr<Connection> conn);

 private:
  // The TLS context, created on first use (a bad ca_file fails https calls, not construction).
  Result<Poco::Net::Context::Ptr> tls_context();

  ClientOptions options_;
  Poco::Net::Context::Ptr tls_;
  std::vector<IpRange> allowed_;  // exempt from the SSRF guard
  std::mutex mu_;
  std::map<std::string, std::vector<std::unique_ptr<Connection>>> idle_;
};

}  // namespace weft::http
