#include "daemon/config.hpp"

#include <gtest/gtest.h>

#include "support/test_support.hpp"

namespace weft::daemon {
namespace {

Result<Config> parse(const std::string& text) {
  return parse_config(text, "weft.yaml", "/etc/weft", "/var/lib/weft");
}

TEST(Config, EmptyFileGivesTheDocumentedDefaults) {
  auto c = parse("");
  ASSERT_TRUE(c) << c.status().message();
  EXPECT_EQ(c->listen_host, "127.0.0.1");
  EXPECT_EQ(c->listen_port, 8080);
  EXPECT_EQ(c->home, "/var/lib/weft");
  EXPECT_EQ(c->admin_token_file, "/var/lib/weft/admin.token");
  EXPECT_EQ(c->workers, 16);
  EXPECT_EQ(c->max_body_bytes, 1024u * 1024u);
  EXPECT_EQ(c->drain_timeout, std::chrono::seconds(30));
  EXPECT_EQ(c->log_format, log::Format::kText);
  EXPECT_FALSE(c->ssrf_guard.enabled);
}

TEST(Config, EveryKeyIsReadAndRelativePathsResolveAgainstTheConfigDirectory) {
  auto c = parse(R"(listen: "[::1]:9000"
home: state
connectors: [plugins, /opt/weft/connectors]
workflows: flows
workers: 8
admin_token_file: /run/weft/token
log_format: json
drain_timeout: 500ms
max_body_bytes: 2048
ssrf_guard: {enabled: true, allow: [10.1.0.0/16]}
public_url: https://weft.example.com/
)");
  ASSERT_TRUE(c) << c.status().message();
  EXPECT_EQ(c->listen_host, "::1");
  EXPECT_EQ(c->listen_port, 9000);
  EXPECT_EQ(c->listen_address(), "[::1]:9000");
  EXPECT_EQ(c->home, "/etc/weft/state");
  EXPECT_EQ(c->connectors, (std::vector<std::string>{"/etc/weft/plugins", "/opt/weft/connectors"}));
  EXPECT_EQ(c->workflows, "/etc/weft/flows");
  EXPECT_EQ(c->workers, 8);
  EXPECT_EQ(c->admin_token_file, "/run/weft/token");
  EXPECT_EQ(c->log_format, log::Format::kJson);
  EXPECT_EQ(c->drain_timeout, std::chrono::milliseconds(500));
  EXPECT_EQ(c->max_body_bytes, 2048u);
  EXPECT_TRUE(c->ssrf_guard.enabled);
  EXPECT_EQ(c->ssrf_guard.allow, std::vector<std::string>{"10.1.0.0/16"});
  EXPECT_EQ(c->public_url, "https://weft.example.com");
}

TEST(Config, UnknownKeyIsOneErrorWithLineColumnAndTheAllowedKeys) {
  auto c = parse("listen: 127.0.0.1:8080\nlistn: 1\n");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.status().code(), Code::kInvalidArgument);
  EXPECT_NE(c.status().message().find("weft.yaml:2:1: unknown key 'listn'; did you mean 'listen'?"),
            std::string::npos)
      << c.status().message();
  EXPECT_NE(c.status().message().find("allowed: admin_token_file, connectors"), std::string::npos)
      << c.status().message();
}

TEST(Config, WrongTypeNamesTheKeyTheValueAndThePosition) {
  auto c = parse("workers: four\n");
  ASSERT_FALSE(c);
  EXPECT_NE(c.status().message().find("weft.yaml:1:10: workers (got 'four')"), std::string::npos)
      << c.status().message();
}

TEST(Config, QuotedNumberIsAStringAndRefusedForAnIntegerKey) {
  auto c = parse("max_body_bytes: \"1024\"\n");
  ASSERT_FALSE(c);
  EXPECT_NE(c.status().message().find("max_body_bytes"), std::string::npos) << c.status().message();
}

TEST(Config, NestedErrorPointsAtTheNestedValue) {
  auto c = parse("ssrf_guard:\n  enabled: yes please\n");
  ASSERT_FALSE(c);
  EXPECT_NE(c.status().message().find("weft.yaml:2:12: ssrf_guard.enabled"), std::string::npos)
      << c.status().message();
  auto d = parse("ssrf_guard:\n  allow: [10.0.0.0/8, nonsense]\n");
  ASSERT_FALSE(d);
  EXPECT_NE(d.status().message().find("ssrf_guard.allow[1] (got 'nonsense')"), std::string::npos)
      << d.status().message();
}

TEST(Config, BadListenAddressesAreRefusedWithAHint) {
  for (const char* bad :
       {"8080", "localhost:", ":8080", "127.0.0.1:99999", "127.0.0.1:80x", "::1:80", "[::1]80"}) {
    auto c = parse(std::string("listen: \"") + bad + "\"\n");
    ASSERT_FALSE(c) << bad;
    EXPECT_NE(c.status().message().find("weft.yaml:1:9: bad listen address"), std::string::npos)
        << c.status().message();
  }
}

TEST(Config, BadDurationAndLogFormatAreRefused) {
  EXPECT_FALSE(parse("drain_timeout: 10 minutes\n"));
  EXPECT_FALSE(parse("drain_timeout: -1\n"));
  auto c = parse("log_format: xml\n");
  ASSERT_FALSE(c);
  EXPECT_NE(c.status().message().find("log_format (got 'xml')"), std::string::npos) << c.status().message();
  auto ok = parse("drain_timeout: 5\n");
  ASSERT_TRUE(ok) << ok.status().message();
  EXPECT_EQ(ok->drain_timeout, std::chrono::seconds(5));
}

TEST(Config, SyntaxErrorHasLineAndColumn) {
  auto c = parse("listen: [unclosed\nworkers: 2\n");
  ASSERT_FALSE(c);
  EXPECT_NE(c.status().message().find("weft.yaml:"), std::string::npos);
  EXPECT_NE(c.status().message().find("YAML syntax error"), std::string::npos) << c.status().message();
}

TEST(Config, NonMappingAndBombsAreRefused) {
  EXPECT_FALSE(parse("- a\n- b\n"));
  // Billion laughs inside a known key: 10^9 nodes once aliases are expanded.
  std::string bomb = "connectors: [&a0 [x, x, x, x, x, x, x, x, x, x]";
  for (int i = 1; i < 9; ++i) {
    std::string prev = "*a" + std::to_string(i - 1);
    bomb += ", &a" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) bomb += (j ? ", " : "") + prev;
    bomb += "]";
  }
  bomb += "]\n";
  auto c = parse(bomb);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.status().code(), Code::kResourceExhausted) << c.status().message();
  std::string nested = "connectors: " + std::string(100, '[') + std::string(100, ']') + "\n";
  auto d = parse(nested);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.status().code(), Code::kResourceExhausted);
}

TEST(Config, LoadConfigReadsAFileAndReportsAMissingOne) {
  test::TempDir dir;
  std::string path = dir.write("weft.yaml", "workflows: flows\nhome: h\n");
  auto c = load_config(path);
  ASSERT_TRUE(c) << c.status().message();
  EXPECT_EQ(c->workflows, dir.path() + "/flows");
  EXPECT_EQ(c->admin_token_file, dir.path() + "/h/admin.token");
  auto missing = load_config(dir.path() + "/nope.yaml");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
}

TEST(Config, ExampleConfigIsValid) {
  auto c = load_config(test::source_dir() + "/examples/weft.yaml");
  ASSERT_TRUE(c) << c.status().message();
  EXPECT_EQ(c->listen_address(), "127.0.0.1:8080");
}

}  // namespace
}  // namespace weft::daemon
