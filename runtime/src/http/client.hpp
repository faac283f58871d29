// client.hpp — the one HTTP client every connector call and token request goes through.
//
//   http::Client client(http::ClientOptions{});
//   http::Request req{"GET", "https://api.example.com/v1/x"};
//   Result<http::Response> r = client.send(req, http::CallOptions{.auth = hook, .limiter_key = "conn:my-rs"});
//
// Responsibilities: keep-alive pooling per origin, timeouts, TLS with verification on, clear errors
// for DNS/connect/TLS failures, retries of 429/503 (and 502/504/connect errors/timeouts for
// idempotent methods) honouring Retry-After / X-RateLimit-Reset / RateLimit-Reset, else
// exponential back-off with full jitter; bounded attempts, one deadline per call; a shared
// per-limiter_key cooldown after a 429 and optional pacing to a declared rate.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/status.hpp"

namespace weft::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method = "GET";
  std::string url;       // absolute http:// or https:// URL, query included
  Headers headers;
  std::string body;
  std::optional<std::chrono::milliseconds> timeout;  // per attempt; default from ClientOptions
};

struct Response {
  int status = 0;
  Headers headers;
  std::string body;
  // First header with this name (case-insensitive), or nullopt.
  std::optional<std::string> header(std::string_view name) const;
};

// Adds credentials to requests of one connection. Implemented by the auth module.
class AuthHook {
 public:
  virtual ~AuthHook() = default;
  // Adds the current credentials to req (refreshing first when the token is about to expire).
  // An error (e.g. the connection needs re-authorization) fails the call without sending it.
  virtual Status apply(Request& req) = 0;
  // Called once after a 401 from a request built with apply(). Returns true when credentials were
  // renewed and the request should be sent once more (apply() is called again first).
  virtual Result<bool> on_unauthorized(const Response& resp) = 0;
};

struct RateSpec {
  int requests = 0;
  double per_seconds = 0;
};

struct CallOptions {
  AuthHook* auth = nullptr;           // not owned; null: no credentials
  std::string limiter_key;            // calls sharing a key share a 429 cooldown and pacing
  std::optional<RateSpec> rate;       // pace calls under this key to this rate
  std::optional<bool> idempotent;     // default: by method (GET, HEAD, PUT, DELETE, OPTIONS)
  std::optional<int> max_attempts;    // default from ClientOptions
  std::optional<std::chrono::steady_clock::time_point> deadline;  // overall, retries included
  // Calls are counted in Client::stats() under this label (the engine passes the connector id, so
  // the set of labels stays small); empty: under limiter_key.
  std::string metrics_label;
};

// Running totals of the calls made under one CallOptions::metrics_label, since the Client started.
struct CallStats {
  // Calls by final outcome: the HTTP status class of the response returned, or an error value
  // (network failure, deadline, rate limited past the deadline, refused input, auth hook error).
  std::uint64_t calls_2xx = 0;
  std::uint64_t calls_3xx = 0;
  std::uint64_t calls_4xx = 0;
  std::uint64_t calls_5xx = 0;
  std::uint64_t calls_error = 0;  // also any status outside 200-599
  // Attempts beyond the first made by the retry policy (429/5xx/transient network faults); the one
  // resend after a 401 with renewed credentials is not a retry.
  std::uint64_t retries = 0;
  // 429 responses that paused calls: started or extended the limiter key's shared cooldown (or,
  // without a limiter key, made this call wait before retrying).
  std::uint64_t cooldowns = 0;
  // Time spent waiting rather than sending: in the limiter (cooldown, pacing) and in back-off.
  std::chrono::milliseconds waited{0};

  std::uint64_t calls() const { return calls_2xx + calls_3xx + calls_4xx + calls_5xx + calls_error; }
};

struct ClientOptions {
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds request_timeout{30000};
  std::chrono::milliseconds overall_deadline{120000};
  int max_attempts = 5;
  std::chrono::milliseconds backoff_base{250};
  std::chrono::milliseconds backoff_cap{30000};
  std::chrono::seconds max_retry_after{300};
  std::size_t max_response_bytes = 64u << 20;
  std::size_t pool_size_per_origin = 16;
  std::string ca_file;  // empty: the system's trust store
  // Opt-in SSRF guard: refuse to connect to loopback, link-local (169.254/16, fe80::/10), private
  // (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7), unspecified and multicast addresses. Checked
  // after DNS resolution on the very address connected to (no second lookup, so no DNS rebinding).
  bool block_private_networks = false;
  // Addresses or CIDR ranges exempt from the guard ("127.0.0.1", "::1", "10.20.0.0/16", "fd00::/8";
  // http::IpRange), matched against the resolved address, never a hostname. A malformed entry is
  // logged and ignored (the daemon's config refuses it up front).
  std::vector<std::string> allowed_private_addresses;
};

// True when an error from Client::send() proves the server did not act on the request: it was never
// sent (connection refused, connect failed or timed out, refused by the SSRF guard, a bad URL or
// header) or the server refused it with 429. False when it may have been processed (a timeout or
// reset after sending): callers holding a non-repeatable request (a rotating refresh) must assume
// the server consumed it.
bool never_processed(const Status& s);

// The client does not follow redirects: a 3xx is returned as the final response (callers that
// follow one must send a new request, which is checked by the SSRF guard again).
// The Retry-After / rate-limit reset parsers are public in http/retry.hpp.
//
// Thread-safe: one Client serves every connector and connection of the process.
class Client {
 public:
  explicit Client(ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends req with retries as above. A value for every HTTP status that is final (2xx-5xx after
  // retries); an error (kUnavailable, kDeadlineExceeded, kRateLimited, kInvalidArgument for a bad
  // URL or header, kPermissionDenied for an address refused by the SSRF guard) when no final
  // response was had. Messages name method, host and path, never the query, headers or body.
  Result<Response> send(Request req, const CallOptions& opts = {});

  // A snapshot of the totals per metrics label (labels with at least one call). Thread-safe;
  // a call is counted when send() returns, so one in flight is not in the snapshot yet.
  std::map<std::string, CallStats> stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace weft::http
