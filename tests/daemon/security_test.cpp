#include "daemon/security.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <thread>
#include <vector>

#include "support/test_support.hpp"

namespace weft::daemon {
namespace {

TEST(AdminToken, CreatedOnceAsSixtyFourHexCharsWithModeSixHundred) {
  test::TempDir dir;
  const std::string path = dir.path() + "/admin.token";
  auto first = ensure_admin_token(path);
  ASSERT_TRUE(first) << first.status().message();
  EXPECT_EQ(first->size(), 64u);
  EXPECT_EQ(first->find_first_not_of("0123456789abcdef"), std::string::npos);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto second = ensure_admin_token(path);
  ASSERT_TRUE(second);
  EXPECT_EQ(*first, *second);
}

TEST(AdminToken, ConcurrentFirstStartsAgreeOnOneToken) {
  test::TempDir dir;
  const std::string path = dir.path() + "/admin.token";
  std::vector<std::string> got(8);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&, i] {
      auto t = ensure_admin_token(path);
      if (t) got[static_cast<std::size_t>(i)] = *t;
    });
  for (auto& t : threads) t.join();
  for (const auto& g : got) EXPECT_EQ(g, got[0]);
  EXPECT_EQ(got[0].size(), 64u);
}

TEST(AdminToken, FileReadableByOthersIsRefusedWithTheFix) {
  test::TempDir dir;
  std::string path = dir.write("admin.token", std::string(64, 'a') + "\n");
  ::chmod(path.c_str(), 0644);
  auto t = ensure_admin_token(path);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.status().code(), Code::kPermissionDenied);
  EXPECT_NE(t.status().message().find("chmod 600"), std::string::npos);
  EXPECT_EQ(t.status().message().find(std::string(64, 'a')), std::string::npos);  // never printed
  ::chmod(path.c_str(), 0600);
  EXPECT_TRUE(ensure_admin_token(path));
}

TEST(AdminToken, EmptyFileIsRefusedNotReplaced) {
  test::TempDir dir;
  std::string path = dir.write("admin.token", "");
  ::chmod(path.c_str(), 0600);
  auto t = ensure_admin_token(path);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.status().code(), Code::kDataLoss);
}

TEST(Webhook, HmacSignatureOfTheRawBodyIsAcceptedAndAnyChangeRefused) {
  WebhookPolicy p{WebhookPolicy::Kind::kHmacSha256, "It's a Secret to Everybody", "X-Hub-Signature-256"};
  // The published GitHub example (docs.github.com, "Validating webhook deliveries").
  EXPECT_EQ(hmac_sha256_hex(p.secret, "Hello, World!"),
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
  const std::string body = R"({"a":1})";
  std::string good = "sha256=" + hmac_sha256_hex(p.secret, body);
  auto with = [](std::string v) {
    return [v](const std::string& h) { return h == "x-hub-signature-256" ? v : ""; };
  };
  EXPECT_TRUE(verify_webhook(p, body, with(good)).ok());
  EXPECT_EQ(verify_webhook(p, body + " ", with(good)).code(), Code::kUnauthenticated);
  EXPECT_EQ(verify_webhook(p, body, with("")).code(), Code::kUnauthenticated);
  EXPECT_EQ(verify_webhook(p, body, with(good.substr(7))).code(), Code::kUnauthenticated);
  Status bad = verify_webhook(p, body, with("sha256=00"));
  EXPECT_EQ(bad.code(), Code::kUnauthenticated);
  EXPECT_EQ(bad.message().find(p.secret), std::string::npos);
  EXPECT_EQ(bad.message().find(good.substr(7)), std::string::npos);
}

TEST(Webhook, SharedSecretHeaderMustMatchExactly) {
  WebhookPolicy p{WebhookPolicy::Kind::kSharedSecret, "s3cret", "X-Token"};
  auto with = [](std::string v) { return [v](const std::string& h) { return h == "x-token" ? v : ""; }; };
  EXPECT_TRUE(verify_webhook(p, "", with("s3cret")).ok());
  EXPECT_FALSE(verify_webhook(p, "", with("s3cret ")).ok());
  EXPECT_FALSE(verify_webhook(p, "", with("s3cre")).ok());
  EXPECT_FALSE(verify_webhook(p, "", with("")).ok());
  EXPECT_TRUE(verify_webhook(WebhookPolicy{}, "", with("")).ok());
}

}  // namespace
}  // namespace weft::daemon
