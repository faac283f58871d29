// Pure parts of the retry policy: header parsers, back-off bounds, header and method validation.
#include "http/retry.hpp"

#include <Poco/Net/IPAddress.h>
#include <gtest/gtest.h>

#include "http/connection.hpp"

namespace weft::http {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// 2015-10-21T07:28:00Z
const auto kNow = std::chrono::system_clock::from_time_t(1445412480);

TEST(RetryAfter, DeltaSecondsAreAWait) {
  EXPECT_EQ(parse_retry_after("120", kNow), milliseconds(120000));
  EXPECT_EQ(parse_retry_after("  0 ", kNow), milliseconds(0));
}

TEST(RetryAfter, HugeDeltaSaturatesInsteadOfOverflowing) {
  EXPECT_EQ(parse_retry_after("1000000000", kNow), kMaxParsedWait);
  EXPECT_EQ(parse_retry_after("99999999999999999999999999999", kNow), kMaxParsedWait);
}

TEST(RetryAfter, HttpDateInTheFutureIsTheTimeUntilIt) {
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", kNow), milliseconds(30000));
  EXPECT_EQ(parse_retry_after("Wednesday, 21-Oct-15 07:29:00 GMT", kNow), milliseconds(60000));
  EXPECT_EQ(parse_retry_after("Wed Oct 21 07:28:05 2015", kNow), milliseconds(5000));
  EXPECT_EQ(parse_retry_after("Sun Nov  6 08:49:37 2016", kNow).has_value(), true);
}

TEST(RetryAfter, HttpDateInThePastMeansNoWait) {
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", kNow), milliseconds(0));
}

TEST(RetryAfter, GarbageIsIgnored) {
  for (const char* v :
       {"", "garbage", "-5", "1.5", "12abc", "Wed, 21 Oct 2015 07:28:00", "Wed, 31 Feb 2015 07:28:00 GMT",
        "Wed, 21 Oct 2015 25:28:00 GMT", "Wed, 21 Oct 2015 07:28:00 GMT trailing", "0x10"}) {
    EXPECT_FALSE(parse_retry_after(v, kNow).has_value()) << v;
  }
}

TEST(RateLimitReset, SmallValuesAreDeltaSeconds) {
  EXPECT_EQ(parse_rate_limit_reset("30", kNow), milliseconds(30000));
  EXPECT_EQ(parse_rate_limit_reset("1.5", kNow), milliseconds(1500));
}

TEST(RateLimitReset, EpochSecondsAreTheTimeUntilThen) {
  EXPECT_EQ(parse_rate_limit_reset("1445412540", kNow), milliseconds(60000));  // now + 60 s
  EXPECT_EQ(parse_rate_limit_reset("1445412000", kNow), milliseconds(0));      // 8 minutes ago
}

TEST(RateLimitReset, GarbageIsIgnored) {
  for (const char* v : {"", "soon", "-1", "1e3", "1.", ".5x", "1.2.3"}) {
    EXPECT_FALSE(parse_rate_limit_reset(v, kNow).has_value()) << v;
  }
}

TEST(Backoff, FullJitterStaysWithinTheExponentialCeilingAndTheCap) {
  for (int attempt = 1; attempt <= 40; ++attempt) {
    for (int i = 0; i < 50; ++i) {
      auto d = backoff_delay(attempt, milliseconds(100), milliseconds(1000));
      EXPECT_GE(d.count(), 0);
      EXPECT_LE(d.count(), std::min<long long>(1000, 100LL << std::min(attempt - 1, 20)));
    }
  }
}

TEST(HeaderValidation, RefusesLineBreaksNulAndBadNames) {
  EXPECT_TRUE(validate_header("X-Request-Id", "abc\tdef").ok());
  EXPECT_EQ(validate_header("X-A", "a\r\nInjected: 1").code(), Code::kInvalidArgument);
  EXPECT_EQ(validate_header("X-A", "a\nb").code(), Code::kInvalidArgument);
  EXPECT_EQ(validate_header("X-A", std::string("a\0b", 3)).code(), Code::kInvalidArgument);
  for (const char* name : {"", "X A", "X:A", "X\r\nA", "Ä"}) {
    EXPECT_EQ(validate_header(name, "v").code(), Code::kInvalidArgument) << name;
  }
}

TEST(HeaderValidation, MessageNamesTheHeaderButNeverItsValue) {
  Status s = validate_header("Authorization", "Bearer SECRET\r\nX: 1");
  EXPECT_NE(s.message().find("Authorization"), std::string::npos);
  EXPECT_NE(s.message().find("CR"), std::string::npos);
  EXPECT_EQ(s.message().find("SECRET"), std::string::npos);
}

TEST(MethodValidation, RefusesNonTokens) {
  EXPECT_TRUE(validate_method("PATCH").ok());
  EXPECT_EQ(validate_method("GET /x HTTP/1.1\r\n").code(), Code::kInvalidArgument);
  EXPECT_EQ(validate_method("").code(), Code::kInvalidArgument);
}

TEST(SsrfRanges, ClassifiesPrivateLoopbackLinkLocalAndPublic) {
  for (const char* a : {"127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
                        "169.254.169.254", "0.0.0.0", "100.64.0.1", "224.0.0.1", "::1", "::", "fe80::1",
                        "fc00::1", "fd12:3456::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254"}) {
    EXPECT_TRUE(non_public_range(Poco::Net::IPAddress(a)).has_value()) << a;
  }
  for (const char* a :
       {"8.8.8.8", "172.32.0.1", "172.15.255.255", "1.1.1.1", "2001:4860:4860::8888", "::ffff:8.8.8.8"}) {
    EXPECT_FALSE(non_public_range(Poco::Net::IPAddress(a)).has_value()) << a;
  }
}

}  // namespace
}  // namespace weft::http
