// Shared 429 cooldown and pacing under one limiter_key, with many concurrent callers.
#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <thread>

#include "http/client.hpp"
#include "raw_server.hpp"
#include "support/test_support.hpp"

namespace weft::http {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

TEST(HttpLimits, OneTooManyRequestsPausesEveryCallerUnderTheKeyWithoutAStorm) {
  // The server rate-limits for one second after its first request; any request inside that
  // window is a caller that did not wait for the shared cooldown.
  std::mutex mu;
  std::optional<Clock::time_point> window_end;
  int refused = 0;
  test::LocalServer server(
      [&](auto&, auto& resp) {
        std::unique_lock lock(mu);
        const auto now = Clock::now();
        if (!window_end || now < *window_end) {
          if (!window_end) window_end = now + std::chrono::seconds(1);
          ++refused;
          lock.unlock();
          resp.setStatus(Poco::Net::HTTPResponse::HTTP_TOO_MANY_REQUESTS);
          resp.set("Retry-After", "1");
          resp.send() << "slow down";
          return;
        }
        lock.unlock();
        resp.send() << "ok";
      },
      64);
  test::LogCapture logs;
  ClientOptions o;
  o.request_timeout = milliseconds(5000);
  o.max_retry_after = std::chrono::seconds(5);
  Client client(o);
  const CallOptions call{.limiter_key = "conn:shared"};

  std::vector<Result<Response>> results(50, Status(Code::kInternal, "not run"));
  std::vector<std::thread> callers;
  callers.emplace_back([&] { results[0] = client.send({"GET", server.url("/a")}, call); });
  for (int i = 0; i < 500 && logs.count({"rate limited; pausing"}) == 0; ++i)
    std::this_thread::sleep_for(milliseconds(10));
  ASSERT_EQ(logs.count({"rate limited; pausing", "key=conn:shared"}), 1) << logs.all();
  for (int i = 1; i < 50; ++i) {
    callers.emplace_back([&, i] { results[i] = client.send({"GET", server.url("/b")}, call); });
  }
  for (auto& t : callers) t.join();

  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->status, 200);
  }
  EXPECT_EQ(refused, 1) << "callers sent requests during the cooldown";
  EXPECT_EQ(server.requests(), 51);  // the 429, its retry, and 49 first tries
  EXPECT_EQ(logs.count({"rate limited; pausing"}), 1) << "one cooldown is logged once";
}

TEST(HttpLimits, CallsWithoutTheKeyAreNotPausedByItsCooldown) {
  std::atomic<int> seen{0};
  test::LocalServer server([&](auto&, auto& resp) {
    if (seen.fetch_add(1) == 0) {
      resp.setStatus(Poco::Net::HTTPResponse::HTTP_TOO_MANY_REQUESTS);
      resp.set("Retry-After", "300");
      resp.send();
      return;
    }
    resp.send() << "ok";
  });
  ClientOptions o;
  o.overall_deadline = milliseconds(2000);
  Client client(o);
  auto limited = client.send({"GET", server.url("/")}, CallOptions{.limiter_key = "conn:a"});
  EXPECT_EQ(limited.status().code(), Code::kRateLimited);
  auto other = client.send({"GET", server.url("/")}, CallOptions{.limiter_key = "conn:b"});
  ASSERT_TRUE(other.ok()) << other.status().to_string();
  EXPECT_EQ(other->status, 200);
}

TEST(HttpLimits, PacingNeverExceedsTheDeclaredRate) {
  std::mutex mu;
  std::vector<Clock::time_point> arrivals;
  test::LocalServer server([&](auto&, auto& resp) {
    {
      std::lock_guard lock(mu);
      arrivals.push_back(Clock::now());
    }
    resp.send() << "ok";
  });
  Client client;
  const RateSpec rate{4, 0.5};  // at most 4 requests in any half second
  const Clock::time_point start = Clock::now();
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&] {
      for (int i = 0; i < 3; ++i) {
        auto r =
            client.send({"GET", server.url("/")}, CallOptions{.limiter_key = "conn:paced", .rate = rate});
        EXPECT_TRUE(r.ok()) << r.status().to_string();
      }
    });
  }
  for (auto& t : callers) t.join();
  ASSERT_EQ(arrivals.size(), 12u);
  std::sort(arrivals.begin(), arrivals.end());
  // A sliding window of 4 per half second admits request k (counting from 0) no earlier than
  // (k / 4) half seconds after the first call began, and a request reaches the server only after
  // its admission, so the k-th arrival is a lower bound that needs no slack however loaded the
  // machine is: a limiter that let a fifth request into any half second fails here.
  for (std::size_t k = 0; k < arrivals.size(); ++k) {
    EXPECT_GE(arrivals[k] - start, milliseconds(500) * static_cast<int>(k / 4)) << "at request " << k;
  }
}

TEST(HttpLimits, PacingThatCannotFitTheDeadlineFailsAtOnce) {
  test::LocalServer server([](auto&, auto& resp) { resp.send() << "ok"; });
  Client client;
  const CallOptions call{.limiter_key = "conn:slow",
                         .rate = RateSpec{1, 60},
                         .deadline = Clock::now() + std::chrono::seconds(2)};
  ASSERT_TRUE(client.send({"GET", server.url("/")}, call).ok());
  auto second = client.send({"GET", server.url("/")}, call);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kRateLimited);
  EXPECT_NE(second.status().message().find("rate limited until"), std::string::npos);
  EXPECT_EQ(server.requests(), 1);
}

}  // namespace
}  // namespace weft::http
