// Network faults and retryable statuses: refused connects, hangs, resets, truncated and oversized
// bodies, stale keep-alive connections, 429/503/502 with every kind of Retry-After.
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/DateTimeParser.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Timestamp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include "http/client.hpp"
#include "http/retry.hpp"
#include "http_fixtures.hpp"
#include "raw_server.hpp"
#include "support/test_support.hpp"

namespace weft::http {
namespace {

using std::chrono::milliseconds;
using test::closed_port;
using test::fast_options;
using test::LocalServer;

// Answers the first `failures` requests with status and headers, then 200 "ok".
LocalServer::Handler fail_then_ok(int failures, int status, Headers headers = {}) {
  auto seen = std::make_shared<std::atomic<int>>(0);
  return [=](Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) {
    test::read_body(req);
    if (seen->fetch_add(1) < failures) {
      resp.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
      for (const auto& [k, v] : headers) resp.set(k, v);
      resp.send() << "try later";
      return;
    }
    resp.send() << "ok";
  };
}

TEST(HttpRetries, ConnectionRefusedIsRetriedABoundedNumberOfTimes) {
  test::LogCapture logs;
  Client client(fast_options());
  const auto port = std::to_string(closed_port());
  auto r = client.send({"GET", "http://127.0.0.1:" + port + "/x"}, CallOptions{.max_attempts = 3});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find("connection refused to 127.0.0.1:" + port), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("after 3 attempts"), std::string::npos) << r.status().message();
  EXPECT_EQ(logs.count({"retrying", "method=GET", "path=/x"}), 2) << logs.all();
}

// A name that resolves nowhere is "cannot resolve host NAME". No packet may leave the machine:
// a plain `x.invalid` is sent to the configured DNS server by glibc (only some resolvers answer
// .invalid locally), so the name has a 64-byte label, which cannot be encoded in a DNS query: the
// resolver refuses it before sending anything (checked with strace: no socket to port 53).
TEST(HttpRetries, UnresolvableHostIsCannotResolveHost) {
  const std::string host = std::string(64, 'a') + ".invalid";
  Client client(fast_options());
  auto r = client.send({"GET", "http://" + host + "/x"}, CallOptions{.max_attempts = 1});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find("cannot resolve host " + host), std::string::npos)
      << r.status().message();
}

TEST(HttpRetries, ConnectionRefusedIsNotRetriedForPost) {
  test::LogCapture logs;
  Client client(fast_options());
  auto r = client.send({"POST", "http://127.0.0.1:" + std::to_string(closed_port()) + "/x", {}, "{}"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(logs.count({"retrying"}), 0) << logs.all();
}

TEST(HttpRetries, HangingServerCannotHoldTheCallPastItsDeadline) {
  test::RawServer server([](Poco::Net::StreamSocket& c, int, const auto& stopping) {
    test::read_request(c);
    test::hang(stopping);
  });
  ClientOptions o = fast_options();
  o.request_timeout = milliseconds(150);
  o.overall_deadline = milliseconds(600);
  o.max_attempts = 100;
  Client client(o);
  const auto start = std::chrono::steady_clock::now();
  auto r = client.send({"GET", server.url("/slow")});
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kDeadlineExceeded) << r.status().message();
  EXPECT_NE(r.status().message().find("timed out after"), std::string::npos) << r.status().message();
  EXPECT_LE(server.connections(), 5);  // ≈ 600 ms / 150 ms, not 100
  EXPECT_LT(took, std::chrono::seconds(5)) << "the deadline must bound the call";
}

TEST(HttpRetries, ResetMidResponseIsRetriedForGetAndReported) {
  test::RawServer server([](Poco::Net::StreamSocket& c, int, const auto&) {
    test::read_request(c);
    test::send_all(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial");
    std::this_thread::sleep_for(milliseconds(20));
    test::reset(c);
  });
  Client client(fast_options());
  auto r = client.send({"GET", server.url("/")}, CallOptions{.max_attempts = 2});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status().message();
  EXPECT_EQ(server.connections(), 2);
}

TEST(HttpRetries, TruncatedBodyIsAnErrorNotAShortResponse) {
  test::RawServer server([](Poco::Net::StreamSocket& c, int, const auto&) {
    test::read_request(c);
    test::send_all(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly-this");
  });
  Client client(fast_options());
  auto r = client.send({"POST", server.url("/"), {}, "{}"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find("closed after 9 of 100 body bytes"), std::string::npos)
      << r.status().message();
  EXPECT_EQ(server.connections(), 1);
}

TEST(HttpRetries, OversizedResponseIsRefusedWithOrWithoutContentLength) {
  LocalServer server([](auto& req, auto& resp) {
    if (req.getURI() == "/chunked") resp.setChunkedTransferEncoding(true);
    resp.send() << std::string(5000, 'x');
  });
  ClientOptions o = fast_options();
  o.max_response_bytes = 1000;
  Client client(o);
  for (const char* path : {"/sized", "/chunked"}) {
    auto r = client.send({"GET", server.url(path)});
    ASSERT_FALSE(r.ok()) << path;
    EXPECT_EQ(r.status().code(), Code::kResourceExhausted);
    EXPECT_EQ(r.status().message(), std::string("GET http://127.0.0.1:") + std::to_string(server.port()) +
                                        path + ": response larger than 1000 bytes");
  }
  EXPECT_EQ(server.requests(), 2) << "a too-large response is not retried";
}

TEST(HttpRetries, StaleKeepAliveConnectionIsRetriedTransparently) {
  // Each connection answers one request, then drops the next one unanswered, like a server whose
  // keep-alive timer fired just as the request arrived.
  test::RawServer server([](Poco::Net::StreamSocket& c, int, const auto&) {
    if (test::read_request(c).empty()) return;
    test::send_all(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok");
    test::read_request(c);
  });
  test::LogCapture logs;
  Client client(fast_options());
  for (int i = 0; i < 3; ++i) {
    auto r = client.send({"POST", server.url("/"), {}, "{}"});  // not idempotent: no ordinary retry
    ASSERT_TRUE(r.ok()) << i << ": " << r.status().to_string();
    EXPECT_EQ(r->body, "ok");
  }
  EXPECT_EQ(server.connections(), 3);
  EXPECT_EQ(logs.count({"pooled connection was closed by the server"}), 2) << logs.all();
}

TEST(HttpRetries, AnIdleConnectionTheServerClosedIsNotReused) {
  // Each connection answers one request with keep-alive, then the server closes it while idle.
  std::atomic<int> closed{0};
  test::RawServer server([&closed](Poco::Net::StreamSocket& c, int, const auto&) {
    if (test::read_request(c).empty()) return;
    test::send_all(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok");
    c.shutdown();
    ++closed;
  });
  test::LogCapture logs;
  Client client(fast_options());
  for (int i = 0; i < 3; ++i) {
    auto r = client.send({"POST", server.url("/"), {}, "{}"});
    ASSERT_TRUE(r.ok()) << i << ": " << r.status().to_string();
    EXPECT_EQ(r->body, "ok");
    // The server's close (its FIN, on loopback at once) is in before the next call takes the
    // connection from the pool.
    for (int spins = 0; closed.load() <= i && spins < 5000; ++spins)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(server.connections(), 3);
  EXPECT_EQ(logs.count({"pooled connection was closed by the server"}), 0)
      << "the pool saw the close (EOF) and opened a new connection, no failed attempt: " << logs.all();
}

// One GET to a server answering 429 with `headers` once, then 200: the wait the client logged
// before its single retry, or -1 when it did not retry exactly once.
long long logged_wait_ms(const Headers& headers, const ClientOptions& options = fast_options()) {
  LocalServer server(fail_then_ok(1, 429, headers));
  test::LogCapture logs;
  Client client(options);
  auto r = client.send({"GET", server.url("/q?token=SECRET")});
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(server.requests(), 2);
  EXPECT_EQ(logs.all().find("SECRET"), std::string::npos) << "the query is never logged: " << logs.all();
  long long wait = -1;
  for (const auto& l : logs.lines()) {
    if (l.find("retrying") == std::string::npos) continue;
    if (wait != -1) return -1;
    EXPECT_NE(l.find("method=GET host=127.0.0.1 path=/q reason=\"status 429\" attempt=1"), std::string::npos)
        << l;
    wait = std::stoll(l.substr(l.find("wait_ms=") + 8));
  }
  return wait;
}

// Row 13: the server's wait plus a small positive jitter (≤ 10 %, ≤ 1 s), never less.
TEST(HttpRetries, TooManyRequestsHonoursRetryAfterSeconds) {
  const long long wait = logged_wait_ms({{"Retry-After", "1"}});
  EXPECT_GE(wait, 1000);
  EXPECT_LE(wait, 1100);
}

TEST(HttpRetries, RetryAfterJitterIsPositiveBoundedAndSpreadsCallers) {
  std::set<long long> seen;
  for (int i = 0; i < 200; ++i) {
    const long long w = http::with_retry_after_jitter(milliseconds(2000)).count();
    EXPECT_GE(w, 2000);
    EXPECT_LE(w, 2200);
    seen.insert(w);
  }
  EXPECT_GT(seen.size(), 20u) << "callers released together would still arrive together";
  for (int i = 0; i < 50; ++i) {
    const long long w = http::with_retry_after_jitter(milliseconds(60000)).count();
    EXPECT_GE(w, 60000);
    EXPECT_LE(w, 61000);  // capped at one second
  }
  EXPECT_EQ(http::with_retry_after_jitter(milliseconds(0)).count(), 0);
}

// The message names when the server will take calls again, not the 300 s clamp.
TEST(HttpRetries, RateLimitedPastTheDeadlineNamesTheServersTimeNotTheClamp) {
  LocalServer server(fail_then_ok(100, 429, {{"Retry-After", "7200"}}));
  ClientOptions o = fast_options();
  o.max_retry_after = std::chrono::seconds(300);
  o.overall_deadline = milliseconds(2000);
  Client client(o);
  const Poco::Timestamp asked_at;
  auto r = client.send({"GET", server.url("/")}, CallOptions{.limiter_key = "conn:b"});
  ASSERT_EQ(r.status().code(), Code::kRateLimited) << r.status().to_string();
  const std::string m = r.status().message();
  const auto at = m.find("rate limited until ");
  ASSERT_NE(at, std::string::npos) << m;
  const std::string when = m.substr(at + 19, 20);  // 2026-12-02T05:43:16Z
  int tzd = 0;
  Poco::DateTime parsed;
  ASSERT_TRUE(Poco::DateTimeParser::tryParse("%Y-%m-%dT%H:%M:%SZ", when, parsed, tzd)) << m;
  const long long ahead_s = (parsed.timestamp() - asked_at) / Poco::Timespan::SECONDS;
  EXPECT_GE(ahead_s, 7200 - 5) << m;  // the clamp would say about 300
}

TEST(HttpRetries, TooManyRequestsHonoursRetryAfterHttpDate) {
  // Three seconds ahead, clamped to one: an ignored date would show a back-off of ≤ 10 ms instead.
  const auto later = Poco::Timestamp() + Poco::Timespan(3, 0);
  ClientOptions o = fast_options();
  o.max_retry_after = std::chrono::seconds(1);
  EXPECT_EQ(
      logged_wait_ms(
          {{"Retry-After", Poco::DateTimeFormatter::format(later, Poco::DateTimeFormat::HTTP_FORMAT)}}, o),
      1000);
}

TEST(HttpRetries, RetryAfterInThePastRetriesAtOnce) {
  EXPECT_EQ(logged_wait_ms({{"Retry-After", "Sun, 06 Nov 1994 08:49:37 GMT"}}), 0);
}

TEST(HttpRetries, GarbageRetryAfterFallsBackToJitteredBackoff) {
  const long long wait = logged_wait_ms({{"Retry-After", "soon-ish"}});  // back-off base 10 ms
  EXPECT_GE(wait, 0);
  EXPECT_LE(wait, 10);
}

TEST(HttpRetries, HugeRetryAfterIsClampedToTheConfiguredMaximum) {
  ClientOptions o = fast_options();
  o.max_retry_after = std::chrono::seconds(1);
  EXPECT_EQ(logged_wait_ms({{"Retry-After", "1000000000"}}, o), 1000);
}

TEST(HttpRetries, RateLimitResetHeaderIsUsedWithoutRetryAfter) {
  for (const char* header : {"X-RateLimit-Reset", "RateLimit-Reset"}) {
    const long long wait = logged_wait_ms({{header, "1"}});
    EXPECT_GE(wait, 1000) << header;
    EXPECT_LE(wait, 1100) << header;
  }
}

TEST(HttpRetries, RetryAfterWinsOverRateLimitReset) {
  EXPECT_EQ(logged_wait_ms({{"Retry-After", "0"}, {"X-RateLimit-Reset", "1"}}), 0);
}

TEST(HttpRetries, WaitPastTheDeadlineFailsAtOnceAsRateLimited) {
  LocalServer server(fail_then_ok(100, 429, {{"Retry-After", "1000000000"}}));
  ClientOptions o = fast_options();
  o.max_retry_after = std::chrono::seconds(300);
  o.overall_deadline = milliseconds(4000);
  Client client(o);
  const auto start = std::chrono::steady_clock::now();
  auto r = client.send({"GET", server.url("/")}, CallOptions{.limiter_key = "conn:a"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kRateLimited);
  EXPECT_NE(r.status().message().find("rate limited until "), std::string::npos) << r.status().message();
  EXPECT_EQ(server.requests(), 1);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3))
      << "must not sleep towards the deadline";
  // The cooldown is remembered: the next call under the key fails without a request.
  auto again = client.send({"GET", server.url("/")}, CallOptions{.limiter_key = "conn:a"});
  EXPECT_EQ(again.status().code(), Code::kRateLimited);
  EXPECT_EQ(server.requests(), 1);
}

TEST(HttpRetries, ServiceUnavailableIsRetriedEvenForPost) {
  LocalServer server(fail_then_ok(2, 503));
  Client client(fast_options());
  auto r = client.send({"POST", server.url("/"), {}, "{}"});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(server.requests(), 3);
}

TEST(HttpRetries, BadGatewayRetriesGetButNotPost) {
  LocalServer server(fail_then_ok(1000, 502));
  Client client(fast_options());
  auto post = client.send({"POST", server.url("/"), {}, "{}"});
  ASSERT_TRUE(post.ok()) << post.status().to_string();
  EXPECT_EQ(post->status, 502);
  EXPECT_EQ(server.requests(), 1);
  auto get = client.send({"GET", server.url("/")}, CallOptions{.max_attempts = 3});
  ASSERT_TRUE(get.ok()) << get.status().to_string();
  EXPECT_EQ(get->status, 502) << "the last response is returned when attempts run out";
  EXPECT_EQ(server.requests(), 4);
  auto marked =
      client.send({"POST", server.url("/"), {}, "{}"}, CallOptions{.idempotent = true, .max_attempts = 2});
  ASSERT_TRUE(marked.ok());
  EXPECT_EQ(server.requests(), 6);
}

}  // namespace
}  // namespace weft::http
