// Client::stats(): what each call under a metrics label did (outcome, retries, 429 cooldowns,
// time waited), counted against real loopback servers.
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "http/client.hpp"
#include "http_fixtures.hpp"
#include "support/test_support.hpp"

namespace weft::http {
namespace {

using test::fast_options;
using test::LocalServer;

// Answers the first `failures` requests with status (and Retry-After when given), then 200 "ok".
LocalServer::Handler fail_then_ok(int failures, int status, std::string retry_after = "") {
  auto seen = std::make_shared<std::atomic<int>>(0);
  return [=](Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) {
    test::read_body(req);
    if (seen->fetch_add(1) < failures) {
      resp.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
      if (!retry_after.empty()) resp.set("Retry-After", retry_after);
      resp.send() << "try later";
      return;
    }
    resp.send() << "ok";
  };
}

CallStats stats_of(const Client& client, const std::string& label) {
  auto all = client.stats();
  auto it = all.find(label);
  EXPECT_NE(it, all.end()) << "no stats under label '" << label << "'";
  return it == all.end() ? CallStats{} : it->second;
}

TEST(HttpStats, RateLimitedOnceThenOkIsOneCallOneRetryOneCooldown) {
  LocalServer server(fail_then_ok(1, 429, "0"));
  Client client(fast_options());
  auto r = client.send({"GET", server.url("/x")},
                       CallOptions{.limiter_key = "conn:acme-1", .metrics_label = "acme"});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->status, 200);
  const CallStats s = stats_of(client, "acme");
  EXPECT_EQ(s.calls(), 1u);
  EXPECT_EQ(s.calls_2xx, 1u);
  EXPECT_EQ(s.retries, 1u);
  EXPECT_EQ(s.cooldowns, 1u);
  EXPECT_EQ(client.stats().count("conn:acme-1"), 0u) << "the label replaces the limiter key";
}

TEST(HttpStats, RateLimitedWithoutALimiterKeyStillCountsTheCooldown) {
  LocalServer server(fail_then_ok(1, 429, "0"));
  Client client(fast_options());
  auto r = client.send({"GET", server.url("/x")}, CallOptions{.metrics_label = "acme"});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  const CallStats s = stats_of(client, "acme");
  EXPECT_EQ(s.calls_2xx, 1u);
  EXPECT_EQ(s.retries, 1u);
  EXPECT_EQ(s.cooldowns, 1u);
}

TEST(HttpStats, UnavailableEveryTimeCountsEachRetryAndTheFinal5xx) {
  LocalServer server(fail_then_ok(100, 503));
  Client client(fast_options());
  auto r = client.send({"GET", server.url("/x")},
                       CallOptions{.limiter_key = "conn:a", .max_attempts = 3, .metrics_label = "svc"});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(server.requests(), 3);
  const CallStats s = stats_of(client, "svc");
  EXPECT_EQ(s.calls(), 1u);
  EXPECT_EQ(s.calls_5xx, 1u);
  EXPECT_EQ(s.retries, 2u);
  EXPECT_EQ(s.cooldowns, 0u) << "a 503 backs off this call only; it starts no shared cooldown";
  EXPECT_GT(s.waited.count(), 0) << "two back-offs of at least 1 ms each were slept";
}

TEST(HttpStats, PlainSuccessIsOneCallWithoutRetriesUnderTheLimiterKeyWhenNoLabel) {
  LocalServer server(fail_then_ok(0, 200));
  Client client(fast_options());
  auto r = client.send({"GET", server.url("/x")}, CallOptions{.limiter_key = "oauth-token"});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  const auto all = client.stats();
  ASSERT_EQ(all.size(), 1u);
  const CallStats& s = all.at("oauth-token");
  EXPECT_EQ(s.calls(), 1u);
  EXPECT_EQ(s.calls_2xx, 1u);
  EXPECT_EQ(s.retries, 0u);
  EXPECT_EQ(s.cooldowns, 0u);
}

TEST(HttpStats, ClientErrorsAndFailuresAreCountedByOutcome) {
  LocalServer server([](Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) {
    test::read_body(req);
    resp.setStatus(Poco::Net::HTTPResponse::HTTP_NOT_FOUND);
    resp.send() << "no such thing";
  });
  Client client(fast_options());
  const CallOptions opts{.max_attempts = 2, .metrics_label = "svc"};
  ASSERT_TRUE(client.send({"GET", server.url("/missing")}, opts).ok());
  // Refused before sending, and a connection refused twice: both are error outcomes.
  EXPECT_FALSE(client.send({"GET", "ftp://127.0.0.1/x"}, opts).ok());
  const auto port = std::to_string(test::closed_port());
  EXPECT_FALSE(client.send({"GET", "http://127.0.0.1:" + port + "/x"}, opts).ok());
  const CallStats s = stats_of(client, "svc");
  EXPECT_EQ(s.calls(), 3u);
  EXPECT_EQ(s.calls_4xx, 1u);
  EXPECT_EQ(s.calls_error, 2u);
  EXPECT_EQ(s.retries, 1u) << "only the refused connection was retried";
}

TEST(HttpStats, ConcurrentCallsFromManyThreadsAreAllCounted) {
  LocalServer server(fail_then_ok(0, 200));
  Client client(fast_options());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        auto r = client.send({"GET", server.url("/x")}, CallOptions{.metrics_label = "svc"});
        EXPECT_TRUE(r.ok()) << r.status().to_string();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(stats_of(client, "svc").calls_2xx, 40u);
}

}  // namespace
}  // namespace weft::http
