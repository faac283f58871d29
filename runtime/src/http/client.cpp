#include "http/client.hpp"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/String.h>
#include <Poco/URI.h>
#include <signal.h>

#include <algorithm>
#include <istream>
#include <mutex>
#include <ostream>
#include <thread>

#include "core/log.hpp"
#include "http/connection.hpp"
#include "http/limiter.hpp"
#include "http/retry.hpp"

namespace weft::http {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::size_t kReadChunk = 16 * 1024;

long long ms_until(Clock::time_point t) {
  return std::max<long long>(0, std::chrono::duration_cast<milliseconds>(t - Clock::now()).count());
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// Where a request goes, and how to name it in messages and logs (never with the query).
struct Target {
  Origin origin;
  std::string request_target;  // path and query, exactly as given (no re-encoding)
  std::string path;            // path only, for messages
  std::string label;           // "GET https://host:port/path"
};

Result<Target> parse_target(const std::string& method, const std::string& url) {
  for (char c : url) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) {
      return Status(Code::kInvalidArgument, "URL contains a space or control character; percent-encode it");
    }
  }
  Poco::URI uri;
  try {
    uri = Poco::URI(url);
  } catch (const Poco::Exception&) {
    return Status(Code::kInvalidArgument, "invalid URL: expected http(s)://host[:port]/path");
  }
  Target t;
  t.origin.scheme = Poco::toLower(uri.getScheme());
  if (t.origin.scheme != "http" && t.origin.scheme != "https") {
    return Status(Code::kInvalidArgument,
                  "unsupported URL scheme \"" + t.origin.scheme + "\": use http:// or https://");
  }
  t.origin.host = uri.getHost();
  if (t.origin.host.empty())
    return Status(Code::kInvalidArgument, "URL has no host: expected http(s)://host/path");
  if (!uri.getUserInfo().empty()) {
    return Status(Code::kInvalidArgument,
                  "URL carries user info (user:password@); send credentials in a header");
  }
  t.origin.port = uri.getPort();
  // Poco::URI decodes and re-encodes the path, which turns %2F into '/'; send the raw text.
  auto after_scheme = url.find("://") + 3;
  auto start = url.find_first_of("/?#", after_scheme);
  std::string raw = start == std::string::npos ? "" : url.substr(start);
  if (auto hash = raw.find('#'); hash != std::string::npos) raw.resize(hash);
  if (raw.empty() || raw.front() == '?') raw = "/" + raw;
  t.request_target = raw;
  t.path = raw.substr(0, raw.find('?'));
  t.label = method + " " + t.origin.scheme + "://" + t.origin.where() + t.path;
  return t;
}

// One attempt's failure, and whether it is a transient network fault (connect error, timeout,
// reset) that idempotent requests retry.
struct Failure {
  Status status;
  bool transient = false;
};

struct Outcome {
  std::optional<Response> response;
  Failure failure;
  bool reusable = false;  // the whole response was read and the server keeps the connection open
};

// What one send() did besides its outcome, added to the label's CallStats once when it returns
// (one lock per call, not per attempt).
struct Tally {
  std::uint64_t retries = 0;
  std::uint64_t cooldowns = 0;
  Clock::duration waited{0};
};

}  // namespace

std::optional<std::string> Response::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) return v;
  }
  return std::nullopt;
}

struct Client::Impl {
  ClientOptions options;
  Pool pool;
  Limiter limiter;
  mutable std::mutex stats_mu;
  std::map<std::string, CallStats, std::less<>> stats;  // guarded by stats_mu; by metrics label
  explicit Impl(ClientOptions o) : options(std::move(o)), pool(options) {}

  Result<Response> send(Request req, const CallOptions& opts, Tally& tally);
  void record(const std::string& label, const Result<Response>& result, const Tally& tally);
  Outcome try_once(const Target& t, const Request& req, Clock::time_point attempt_deadline,
                   milliseconds budget);
  Outcome exchange(Connection& conn, const Target& t, const Request& req, Clock::time_point attempt_deadline,
                   milliseconds budget, bool& stale);
};

Outcome Client::Impl::try_once(const Target& t, const Request& req, Clock::time_point attempt_deadline,
                               milliseconds budget) {
  auto connect_timeout =
      milliseconds(std::min<long long>(options.connect_timeout.count(), ms_until(attempt_deadline)));
  auto conn = pool.take_or_open(t.origin, connect_timeout);
  for (int round = 0;; ++round) {
    if (!conn) {
      return {std::nullopt, {conn.status(), is_transient_connect_error(conn.status())}};
    }
    bool stale = false;
    const bool reused = (*conn)->reused;
    Outcome out = exchange(**conn, t, req, attempt_deadline, budget, stale);
    if (out.response) {
      if (out.reusable) pool.give_back(t.origin, std::move(*conn));
      return out;
    }
    // A pooled connection the server closed meanwhile: once, transparently, on a fresh one.
    if (stale && reused && round == 0) {
      log::debug("http", "pooled connection was closed by the server; reconnecting",
                 {{"host", t.origin.host}, {"path", t.path}});
      conn = pool.open(t.origin, milliseconds(std::min<long long>(options.connect_timeout.count(),
                                                                  ms_until(attempt_deadline))));
      continue;
    }
    return out;
  }
}

Outcome Client::Impl::exchange(Connection& conn, const Target& t, const Request& req,
                               Clock::time_point attempt_deadline, milliseconds budget, bool& stale) {
  auto timed_out = [&] {
    return Outcome{
        std::nullopt,
        {Status(Code::kDeadlineExceeded, "timed out after " + std::to_string(budget.count()) + " ms"), true}};
  };
  const long long left = ms_until(attempt_deadline);
  if (left <= 0) return timed_out();
  auto& session = *conn.session;
  const Poco::Timespan io_timeout(left * 1000);
  bool response_started = false;
  try {
    if (conn.io_timeout_us != io_timeout.totalMicroseconds()) {
      session.socket().setReceiveTimeout(io_timeout);
      session.socket().setSendTimeout(io_timeout);
      conn.io_timeout_us = io_timeout.totalMicroseconds();
    }
    session.setTimeout(io_timeout, io_timeout, io_timeout);

    Poco::Net::HTTPRequest preq(req.method, t.request_target, Poco::Net::HTTPMessage::HTTP_1_1);
    bool has_host = false;
    for (const auto& [k, v] : req.headers) {
      if (iequals(k, "Host")) has_host = true;
      preq.add(k, v);
    }
    if (!has_host) preq.setHost(t.origin.host, t.origin.port);
    const bool body_method = req.method == "POST" || req.method == "PUT" || req.method == "PATCH";
    if (!req.body.empty() || body_method)
      preq.setContentLength(static_cast<std::streamsize>(req.body.size()));
    preq.setKeepAlive(true);

    std::ostream& os = session.sendRequest(preq);
    os.write(req.body.data(), static_cast<std::streamsize>(req.body.size()));

    Poco::Net::HTTPResponse presp;
    std::istream& is = session.receiveResponse(presp);
    response_started = true;

    Response resp;
    resp.status = static_cast<int>(presp.getStatus());
    for (const auto& [k, v] : presp) resp.headers.emplace_back(k, v);
    const std::size_t cap = options.max_response_bytes;
    auto too_large = [&] {
      return Outcome{
          std::nullopt,
          {Status(Code::kResourceExhausted, "response larger than " + std::to_string(cap) + " bytes"),
           false}};
    };
    const bool has_length = presp.hasContentLength();
    const auto declared = has_length ? presp.getContentLength64() : 0;
    if (has_length && declared > 0 && static_cast<unsigned long long>(declared) > cap) return too_large();

    // Read through a buffer on the stack: a heap one, zeroed, cost more per call than the rest of
    // reading a small response. A small declared body gets its room at once (a big one grows as it
    // comes, so a length that is never sent reserves nothing much).
    if (has_length && declared > 0 && static_cast<unsigned long long>(declared) <= 4 * kReadChunk)
      resp.body.reserve(static_cast<std::size_t>(declared));
    char chunk[kReadChunk];
    while (is) {
      is.read(chunk, static_cast<std::streamsize>(sizeof chunk));
      const auto got = static_cast<std::size_t>(is.gcount());
      if (got == 0) break;
      if (resp.body.size() + got > cap) return too_large();
      resp.body.append(chunk, got);
      if (Clock::now() > attempt_deadline) return timed_out();
    }
    const bool bodiless =
        req.method == "HEAD" || resp.status < 200 || resp.status == 204 || resp.status == 304;
    if (has_length && !bodiless && resp.body.size() < static_cast<std::size_t>(declared)) {
      return {std::nullopt,
              {Status(Code::kUnavailable, "connection to " + t.origin.where() + " closed after " +
                                              std::to_string(resp.body.size()) + " of " +
                                              std::to_string(declared) + " body bytes (truncated response)"),
               true}};
    }
    // Without a length or chunking the body ended with the connection: nothing left to reuse.
    const bool delimited = has_length || presp.getChunkedTransferEncoding() || bodiless;
    return {std::move(resp), {}, delimited && presp.getKeepAlive()};
  } catch (const Poco::TimeoutException&) {
    return timed_out();
  } catch (const Poco::Net::ConnectionResetException&) {
    stale = !response_started;
    return {std::nullopt, {Status(Code::kUnavailable, "connection reset by " + t.origin.where()), true}};
  } catch (const Poco::Net::NoMessageException&) {
    stale = true;
    return {
        std::nullopt,
        {Status(Code::kUnavailable, t.origin.where() + " closed the connection without a response"), true}};
  } catch (const Poco::Exception& e) {
    stale = !response_started;
    return {
        std::nullopt,
        {Status(Code::kUnavailable, "HTTP exchange with " + t.origin.where() + " failed: " + e.displayText()),
         true}};
  }
}

Client::Client(ClientOptions options) {
  // A peer closing a socket mid-write must be an error value, not a process-killing SIGPIPE.
  struct sigaction current {};
  if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL)
    ::signal(SIGPIPE, SIG_IGN);
  impl_ = std::make_unique<Impl>(std::move(options));
}

Client::~Client() = default;

namespace {

// The wait a retryable response asks for: Retry-After, else a rate-limit reset header.
std::optional<milliseconds> server_wait(const Response& r) {
  const auto now = std::chrono::system_clock::now();
  if (auto v = r.header("Retry-After")) {
    if (auto w = parse_retry_after(*v, now)) return w;
  }
  for (const char* name : {"X-RateLimit-Reset", "RateLimit-Reset"}) {
    if (auto v = r.header(name)) {
      if (auto w = parse_rate_limit_reset(*v, now)) return w;
    }
  }
  return std::nullopt;
}

}  // namespace

Result<Response> Client::send(Request req, const CallOptions& opts) {
  Tally tally;
  // The module's edge: an exception from Poco or from an AuthHook becomes a value here.
  Result<Response> result = [&]() -> Result<Response> {
    try {
      return impl_->send(std::move(req), opts, tally);
    } catch (const Poco::Exception& e) {
      return Status(Code::kInternal, "HTTP client: unexpected error: " + e.displayText());
    } catch (const std::exception& e) {
      return Status(Code::kInternal, std::string("HTTP client: unexpected error: ") + e.what());
    }
  }();
  impl_->record(opts.metrics_label.empty() ? opts.limiter_key : opts.metrics_label, result, tally);
  return result;
}

std::map<std::string, CallStats> Client::stats() const {
  std::lock_guard lock(impl_->stats_mu);
  return {impl_->stats.begin(), impl_->stats.end()};
}

void Client::Impl::record(const std::string& label, const Result<Response>& result, const Tally& tally) {
  std::lock_guard lock(stats_mu);
  auto it = stats.find(label);
  if (it == stats.end()) it = stats.emplace(label, CallStats{}).first;  // the one allocation per label
  CallStats& s = it->second;
  switch (result.ok() ? result->status / 100 : 0) {
    case 2:
      ++s.calls_2xx;
      break;
    case 3:
      ++s.calls_3xx;
      break;
    case 4:
      ++s.calls_4xx;
      break;
    case 5:
      ++s.calls_5xx;
      break;
    default:
      ++s.calls_error;
  }
  s.retries += tally.retries;
  s.cooldowns += tally.cooldowns;
  s.waited += std::chrono::duration_cast<milliseconds>(tally.waited);
}

Result<Response> Client::Impl::send(Request req, const CallOptions& opts, Tally& tally) {
  const ClientOptions& o = options;
  const auto start = Clock::now();
  Clock::time_point deadline = start + o.overall_deadline;
  if (opts.deadline) deadline = std::min(deadline, *opts.deadline);
  const long long deadline_ms =
      std::max<long long>(0, std::chrono::duration_cast<milliseconds>(deadline - start).count());

  WEFT_RETURN_IF_ERROR(validate_method(req.method));
  auto target = parse_target(req.method, req.url);
  if (!target) return target.status();
  const Target& t = *target;
  for (const auto& [k, v] : req.headers) WEFT_RETURN_IF_ERROR(validate_header(k, v).with_context(t.label));
  for (const auto& [k, v] : req.headers) {
    if (iequals(k, "Content-Length") || iequals(k, "Transfer-Encoding")) {
      return Status(Code::kInvalidArgument,
                    t.label + ": header " + k + " is set by the client from the body; remove it");
    }
  }

  const bool idempotent = opts.idempotent.value_or(is_idempotent_method(req.method));
  const int max_attempts = std::max(1, opts.max_attempts.value_or(o.max_attempts));
  const milliseconds attempt_timeout = req.timeout.value_or(o.request_timeout);
  bool auth_retried = false;
  int attempt = 1;

  auto log_fields = [&](const std::string& what, milliseconds wait) {
    return log::Fields{{"method", req.method},
                       {"host", t.origin.host},
                       {"path", t.path},
                       {"reason", what},
                       {"attempt", std::to_string(attempt)},
                       {"wait_ms", std::to_string(wait.count())}};
  };

  for (;;) {
    const auto admit_start = Clock::now();
    Status admitted = limiter.acquire(opts.limiter_key, opts.rate, deadline);
    tally.waited += Clock::now() - admit_start;
    WEFT_RETURN_IF_ERROR(admitted.with_context(t.label));
    if (Clock::now() >= deadline) {
      return Status(Code::kDeadlineExceeded,
                    t.label + ": timed out after " + std::to_string(deadline_ms) + " ms");
    }

    Request sent = req;
    if (opts.auth != nullptr) {
      WEFT_RETURN_IF_ERROR(opts.auth->apply(sent).with_context(t.label));
      for (const auto& [k, v] : sent.headers)
        WEFT_RETURN_IF_ERROR(validate_header(k, v).with_context(t.label));
    }

    const auto attempt_start = Clock::now();
    const auto attempt_deadline = std::min(deadline, attempt_start + attempt_timeout);
    const auto budget = std::chrono::duration_cast<milliseconds>(attempt_deadline - attempt_start);
    Outcome out = try_once(t, sent, attempt_deadline, budget);

    milliseconds wait{0};
    std::string reason;
    bool from_server = false;
    if (!out.response) {
      const Failure& f = out.failure;
      if (!f.transient || !idempotent || attempt >= max_attempts) {
        std::string suffix = attempt > 1 ? " (after " + std::to_string(attempt) + " attempts)" : "";
        return Status(f.status.code(), t.label + ": " + f.status.message() + suffix);
      }
      wait = backoff_delay(attempt, o.backoff_base, o.backoff_cap);
      reason = f.status.message();
    } else {
      Response& r = *out.response;
      if (r.status == 401 && opts.auth != nullptr && !auth_retried) {
        auth_retried = true;
        auto renewed = opts.auth->on_unauthorized(r);
        if (!renewed) return renewed.status().with_context(t.label);
        if (*renewed) {
          log::info("http", "credentials renewed after 401; resending once",
                    {{"method", req.method}, {"host", t.origin.host}, {"path", t.path}});
          continue;
        }
        return std::move(*out.response);
      }
      const bool retryable =
          r.status == 429 || r.status == 503 || (idempotent && (r.status == 502 || r.status == 504));
      if (!retryable) return std::move(*out.response);
      std::optional<Clock::time_point> server_until;  // what the server asked, before the clamp
      if (auto w = server_wait(r)) {
        server_until = Clock::now() + *w;
        wait = std::min<milliseconds>(with_retry_after_jitter(*w), o.max_retry_after);
        from_server = true;
      } else {
        wait = backoff_delay(attempt, o.backoff_base, o.backoff_cap);
      }
      reason = "status " + std::to_string(r.status);
      const auto resume = Clock::now() + wait;
      if (r.status == 429 && !opts.limiter_key.empty() && limiter.cool_down(opts.limiter_key, resume)) {
        ++tally.cooldowns;
        log::warn("http", "rate limited; pausing every call under this key",
                  {{"key", opts.limiter_key},
                   {"host", t.origin.host},
                   {"until", format_wall_time(resume)},
                   {"wait_ms", std::to_string(wait.count())}});
      }
      if (attempt >= max_attempts) return std::move(*out.response);
      if (resume > deadline) {
        if (r.status == 429 || from_server) {
          // The server's time, not the clamped wait: that is when the provider will take calls again.
          return Status(Code::kRateLimited, t.label + ": rate limited until " +
                                                format_wall_time(server_until.value_or(resume)) +
                                                ", past the call's deadline");
        }
        return std::move(*out.response);
      }
    }
    if (!out.response && Clock::now() + wait > deadline) {
      return Status(out.failure.status.code(),
                    t.label + ": " + out.failure.status.message() + " (no time left for another attempt)");
    }
    log::info("http", "retrying", log_fields(reason, wait));
    // A 429 under a key waits in the limiter (shared with every caller); anything else here.
    const bool waits_in_limiter = out.response && out.response->status == 429 && !opts.limiter_key.empty();
    if (!waits_in_limiter) {
      if (out.response && out.response->status == 429) ++tally.cooldowns;  // no key: this call's own pause
      const auto sleep_start = Clock::now();
      std::this_thread::sleep_for(wait);
      tally.waited += Clock::now() - sleep_start;
    }
    ++attempt;
    ++tally.retries;
  }
}

}  // namespace weft::http
