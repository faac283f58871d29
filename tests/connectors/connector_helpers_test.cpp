// Pure helpers of the provider connectors, compiled straight from their headers.
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>

#include "ome_api.hpp"
#include "provider_call.hpp"
#include "restream_api.hpp"
#include "signed_policy.hpp"

namespace weft::connectors {
namespace {

TEST(SignedPolicy, MatchesTheDocumentedTestVector) {
  // PROVIDERS.md: key 1kU^b6, URL with policy {"url_expire":1399721581}.
  const std::string url = "ws://192.168.0.100:3333/app/stream?policy=eyJ1cmxfZXhwaXJlIjoxMzk5NzIxNTgxfQ";
  EXPECT_EQ(ome::base64url_nopad(ome::hmac_sha1("1kU^b6", url)), "dvVdBpoxAeCPl94Kt5RoiqLI0YE");
  ome::Signed s = ome::sign("ws://192.168.0.100:3333/app/stream", "1kU^b6", {1399721581, {}, {}, {}});
  EXPECT_EQ(s.policy, "eyJ1cmxfZXhwaXJlIjoxMzk5NzIxNTgxfQ");
  EXPECT_EQ(s.signature, "dvVdBpoxAeCPl94Kt5RoiqLI0YE");
  EXPECT_EQ(s.url, url + "&signature=dvVdBpoxAeCPl94Kt5RoiqLI0YE");
}

TEST(SignedPolicy, PolicyHoldsOptionalFieldsAndHasNoPadding) {
  ome::Policy p{1700000000000, 1690000000000, 1710000000000, std::string("192.168.0.0/24")};
  EXPECT_EQ(
      ome::policy_json(p),
      R"({"url_expire":1700000000000,"url_activate":1690000000000,"stream_expire":1710000000000,"allow_ip":"192.168.0.0/24"})");
  ome::Signed s = ome::sign("https://h/app/s", "k", p);
  EXPECT_EQ(s.policy.find('='), std::string::npos);
  EXPECT_EQ(s.policy.find('+'), std::string::npos);
  EXPECT_EQ(s.signature.find('='), std::string::npos);
  EXPECT_EQ(s.url.rfind("https://h:443/app/s?policy=", 0), 0u);
}

TEST(SignedPolicy, WritesOutTheDefaultPortAndKeepsExistingQuery) {
  EXPECT_EQ(ome::with_explicit_port("ws://h/app/s"), "ws://h:80/app/s");
  EXPECT_EQ(ome::with_explicit_port("wss://h?x=1"), "wss://h:443?x=1");
  EXPECT_EQ(ome::with_explicit_port("http://[::1]/a"), "http://[::1]:80/a");
  EXPECT_EQ(ome::with_explicit_port("http://[::1]:8080/a"), "http://[::1]:8080/a");
  EXPECT_THROW(ome::with_explicit_port("srt://h/a"), std::invalid_argument);
  EXPECT_THROW(ome::with_explicit_port("no-scheme"), std::invalid_argument);
  EXPECT_EQ(ome::sign("ws://h:1/a?x=1", "k", {5, {}, {}, {}}).url.find("?x=1&policy="),
            std::string("ws://h:1/a").size());
  EXPECT_THROW(ome::sign("ws://h:1/a", "", {5, {}, {}, {}}), std::invalid_argument);
  EXPECT_THROW(ome::sign("ws://h:1/a", "k", {0, {}, {}, {}}), std::invalid_argument);
}

TEST(ProviderCall, HttpStatusesMapToWeftErrorCodes) {
  EXPECT_EQ(code_for_status(400), "invalid_argument");
  EXPECT_EQ(code_for_status(401), "unauthenticated");
  EXPECT_EQ(code_for_status(404), "not_found");
  EXPECT_EQ(code_for_status(409), "already_exists");
  EXPECT_EQ(code_for_status(429), "rate_limited");
  EXPECT_EQ(code_for_status(503), "unavailable");
  EXPECT_EQ(code_for_status(418), "failed_precondition");
}

TEST(ProviderCall, PathSegmentsAreFullyEncoded) {
  EXPECT_EQ(url_segment("a/b c?d#e%f"), "a%2Fb%20c%3Fd%23e%25f");
  EXPECT_EQ(url_segment("st_123-x.y~z"), "st_123-x.y~z");
}

TEST(ProviderCall, RestreamErrorBodyBecomesAnErrorQuotingIt) {
  HttpReply r{
      401,
      {},
      R"({"error":{"statusCode":401,"status":401,"code":401,"message":"Invalid token: expired","name":"invalid_token"}})"};
  try {
    check(r, "Restream", restream::error_message);
    FAIL() << "no throw";
  } catch (const sdk::Error& e) {
    EXPECT_EQ(e.code(), "unauthenticated");
    EXPECT_STREQ(e.what(), "Restream answered HTTP 401: Invalid token: expired (invalid_token)");
  }
}

TEST(ProviderCall, OmeErrorBodyAndNonJsonBodiesAreQuoted) {
  EXPECT_EQ(ome::error_message(try_parse(R"({"statusCode":409,"message":"Duplicate ID already exists"})")),
            "Duplicate ID already exists");
  HttpReply html{502, {}, "<html>bad gateway</html>"};
  EXPECT_THROW(check(html, "OvenMediaEngine", ome::error_message), sdk::Error);
  try {
    check(html, "OvenMediaEngine", ome::error_message);
  } catch (const sdk::Error& e) {
    EXPECT_NE(std::string(e.what()).find("HTTP 502: <html>bad gateway</html>"), std::string::npos);
  }
  HttpReply ok{200, {}, "not json"};
  EXPECT_THROW(json_body(ok, "X"), sdk::Error);
}

TEST(ProviderCall, RateLimitedKeepsRetryAfterSeconds) {
  HttpReply r{429, {{"Retry-After", "7"}}, R"({"statusCode":429,"message":"Too Many Requests"})"};
  try {
    check(r, "OvenMediaEngine", ome::error_message);
    FAIL() << "no throw";
  } catch (const sdk::Error& e) {
    EXPECT_EQ(e.code(), "rate_limited");
    EXPECT_EQ(e.retry_after_ms(), 7000);
  }
}

TEST(ProviderCall, RateLimitedKeepsRetryAfterHttpDate) {
  // A date 30 s ahead (IMF-fixdate has whole seconds: between 29 and 30 s remain).
  const std::time_t at = std::time(nullptr) + 30;
  std::tm tm{};
  gmtime_r(&at, &tm);
  char date[64];
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  HttpReply r{429, {{"retry-after", date}}, R"({"message":"slow down"})"};
  try {
    check(r, "Restream", restream::error_message);
    FAIL() << "no throw";
  } catch (const sdk::Error& e) {
    EXPECT_EQ(e.code(), "rate_limited");
    EXPECT_GE(e.retry_after_ms(), 28000) << date;
    EXPECT_LE(e.retry_after_ms(), 30000) << date;
  }
  HttpReply garbage{429, {{"Retry-After", "whenever"}}, "{}"};
  try {
    check(garbage, "Restream", restream::error_message);
    FAIL() << "no throw";
  } catch (const sdk::Error& e) {
    EXPECT_EQ(e.retry_after_ms(), -1);  // unknown: the engine's own backoff applies
  }
}

TEST(RetryAfter, ParsesSecondsAndEveryHttpDateForm) {
  using std::chrono::seconds;
  using std::chrono::system_clock;
  // 1994-11-06 08:49:37 UTC, the RFC's example date.
  const system_clock::time_point example{seconds(784111777)};
  EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
  EXPECT_EQ(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), 784111777);
  EXPECT_EQ(parse_http_date("Sun Nov  6 08:49:37 1994"), 784111777);
  EXPECT_EQ(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
  EXPECT_EQ(parse_http_date("Tue, 29 Feb 2000 23:59:59 GMT"), 951868799);
  EXPECT_EQ(parse_http_date("Tuesday, 01-Jan-30 00:00:00 GMT"), 1893456000);  // 2030
  EXPECT_EQ(retry_after_ms("Sun, 06 Nov 1994 08:49:47 GMT", example), 10000);
  EXPECT_EQ(retry_after_ms("  Sun, 06 Nov 1994 08:49:37 GMT ", example - seconds(2)), 2000);
  EXPECT_EQ(retry_after_ms("Sun, 06 Nov 1994 08:49:30 GMT", example), 0);  // in the past: now
  EXPECT_EQ(retry_after_ms("120", example), 120000);
  EXPECT_EQ(retry_after_ms("0", example), 0);
  EXPECT_EQ(retry_after_ms("99999999999", example), kMaxRetryAfterMs);
  EXPECT_EQ(retry_after_ms("Sun, 06 Nov 2094 08:49:37 GMT", example), kMaxRetryAfterMs);
  for (const char* bad :
       {"", "soon", "-5", "1.5", "Sun, 06 Nov 1994 08:49:37", "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 31 Feb 1994 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 06 Nov 1994 25:49:37 GMT",
        "Sun, 6 Nov 1994 08:49:37 GMT", "Tue, 29 Feb 1900 00:00:00 GMT", "Sun Nov  6 08:49:37 1994 GMT"}) {
    EXPECT_FALSE(retry_after_ms(bad, example).has_value()) << "'" << bad << "'";
  }
}

TEST(ProviderCall, PollEmitsEachIdOnceAndKeepsTheCursorBounded) {
  auto items = [](std::initializer_list<const char*> ids) {
    std::vector<std::pair<std::string, Var>> out;
    for (const char* id : ids) out.emplace_back(id, Var(std::string(id)));
    return out;
  };
  PollResult first = poll_new(items({"a", "b"}), Var());
  EXPECT_EQ(first.items->size(), 0u);  // a new trigger fires on what is new from now on
  PollResult second = poll_new(items({"a", "b", "c"}), Var(first.cursor));
  ASSERT_EQ(second.items->size(), 1u);
  EXPECT_EQ(second.items->get(0).convert<std::string>(), "c");
  EXPECT_EQ(poll_new(items({"a", "b", "c"}), Var(second.cursor)).items->size(), 0u);
  EXPECT_EQ(poll_new(items({"a"}), Var(), true).items->size(), 1u);
  PollResult bounded = poll_new(items({"1", "2", "3", "4"}), Var(), false, 2);
  EXPECT_EQ(bounded.cursor->getArray("seen")->size(), 2u);
  EXPECT_EQ(bounded.cursor->getArray("seen")->get(1).convert<std::string>(), "4");
}

TEST(ProviderCall, OvenStudioSignedUrlIsFoundInEveryAcceptedShape) {
  EXPECT_EQ(ome::signed_url_of("https://cf/x.m3u8?a"), "https://cf/x.m3u8?a");
  EXPECT_EQ(ome::signed_url_of(R"("https://cf/y")"), "https://cf/y");
  EXPECT_EQ(ome::signed_url_of(R"({"url":"https://cf/z"})"), "https://cf/z");
  EXPECT_EQ(ome::signed_url_of(R"({"statusCode":200,"response":{"signedUrl":"https://cf/w"}})"),
            "https://cf/w");
  EXPECT_EQ(ome::signed_url_of(R"({"response":"https://cf/v"})"), "https://cf/v");
  EXPECT_EQ(ome::signed_url_of(R"({"response":{"other":1}})"), "");
}

TEST(ProviderCall, RequestJsonCarriesQueryJsonAndAuthFlag) {
  HttpRequest r;
  r.method = "POST";
  r.url = "http://h/x";
  r.query = {{"a b", "c&d"}};
  r.json = Var(std::string("v"));
  r.has_json = true;
  r.auth = false;
  ObjectPtr o = as_object(try_parse(request_json(r)));
  ASSERT_TRUE(o);
  EXPECT_EQ(o->getValue<std::string>("url"), "http://h/x?a%20b=c%26d");
  EXPECT_EQ(o->getValue<std::string>("json"), "v");
  EXPECT_FALSE(o->getValue<bool>("auth"));
}

}  // namespace
}  // namespace weft::connectors
