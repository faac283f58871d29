// http::Client against real loopback servers: keep-alive reuse, input refused before sending,
// TLS failures, the AuthHook flow, the SSRF guard and resource hygiene.
#include "http/client.hpp"

#include <Poco/Net/NetException.h>
#include <Poco/Net/ServerSocket.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <mutex>
#include <set>

#include "http/ip_range.hpp"
#include "http_fixtures.hpp"
#include "raw_server.hpp"
#include "support/test_support.hpp"

namespace weft::http {
namespace {

using std::chrono::milliseconds;
using test::closed_port;
using test::fast_options;
using test::LocalServer;

TEST(HttpClient, GetAndPostShareOneKeepAliveConnection) {
  std::mutex mu;
  std::set<std::string> client_ends;
  LocalServer server([&](auto& req, auto& resp) {
    {
      std::lock_guard lock(mu);
      client_ends.insert(req.clientAddress().toString());
    }
    std::string body = req.getMethod() + " " + req.getURI() + " " + test::read_body(req);
    resp.setContentType("text/plain");
    resp.setContentLength(static_cast<std::streamsize>(body.size()));  // else Poco closes the connection
    resp.send() << body;
  });
  Client client(fast_options());
  for (int i = 0; i < 3; ++i) {
    auto r = client.send({"GET", server.url("/items?page=" + std::to_string(i))});
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "GET /items?page=" + std::to_string(i) + " ");
    EXPECT_EQ(r->header("content-type"), "text/plain");
  }
  for (int i = 0; i < 2; ++i) {
    auto r =
        client.send({"POST", server.url("/items"), {{"Content-Type", "application/json"}}, R"({"a":1})"});
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->body, R"(POST /items {"a":1})");
  }
  EXPECT_EQ(server.requests(), 5);
  EXPECT_EQ(client_ends.size(), 1u) << "every call should reuse the first connection";
}

TEST(HttpClient, HeadAndNoContentResponsesHaveNoBodyAndKeepTheConnection) {
  std::mutex mu;
  std::set<std::string> client_ends;
  LocalServer server([&](auto& req, auto& resp) {
    {
      std::lock_guard lock(mu);
      client_ends.insert(req.clientAddress().toString());
    }
    if (req.getURI() == "/empty") {
      resp.setStatus(Poco::Net::HTTPResponse::HTTP_NO_CONTENT);
      resp.send();
      return;
    }
    resp.setContentLength(1000);  // a HEAD answer announces the GET body without sending it
    if (req.getMethod() == "HEAD") {
      resp.send();
      return;
    }
    resp.send() << std::string(1000, 'x');
  });
  Client client(fast_options());
  auto head = client.send({"HEAD", server.url("/doc")});
  ASSERT_TRUE(head.ok()) << head.status().to_string();
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->body, "");
  auto empty = client.send({"DELETE", server.url("/empty")});
  ASSERT_TRUE(empty.ok()) << empty.status().to_string();
  EXPECT_EQ(empty->status, 204);
  auto get = client.send({"GET", server.url("/doc")});
  ASSERT_TRUE(get.ok()) << get.status().to_string();
  EXPECT_EQ(get->body.size(), 1000u);
  EXPECT_EQ(client_ends.size(), 1u);
}

TEST(HttpClient, SendsThePathAndQueryExactlyAsGivenWithoutTheFragment) {
  LocalServer server([](auto& req, auto& resp) { resp.send() << req.getURI(); });
  Client client(fast_options());
  auto r = client.send({"GET", server.url("/projects/group%2Fname?q=a%20b#frag")});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->body, "/projects/group%2Fname?q=a%20b");
}

TEST(HttpClient, UnsupportedSchemeAndBadUrlsAreInvalidArgument) {
  Client client(fast_options());
  for (const char* url : {"ftp://example.com/x", "file:///etc/passwd", "not a url", "http:///no-host", "",
                          "http://user:pw@127.0.0.1/"}) {
    auto r = client.send({"GET", url});
    ASSERT_FALSE(r.ok()) << url;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << url << ": " << r.status().message();
  }
  auto r = client.send({"GET", "gopher://example.com/"});
  EXPECT_NE(r.status().message().find("unsupported URL scheme \"gopher\""), std::string::npos)
      << r.status().message();
}

TEST(HttpClient, HeaderInjectionIsRefusedAndNothingReachesTheServer) {
  test::RawServer server([](Poco::Net::StreamSocket& c, int, const auto&) { test::read_request(c); });
  Client client(fast_options());
  const std::vector<Headers> bad = {
      {{"X-Title", "hello\r\nX-Injected: 1"}},
      {{"X-Title", "hello\nX-Injected: 1"}},
      {{"X-Title", std::string("a\0b", 3)}},
      {{"X-Bad Name", "v"}},
      {{"X-Bad:Name", "v"}},
      {{"X-Ok\r\nX-Injected", "v"}},
      {{"Content-Length", "5"}},
  };
  for (const auto& headers : bad) {
    auto r = client.send({"POST", server.url("/x"), headers, "body"});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << r.status().message();
  }
  auto r = client.send({"GET\r\nX: 1", server.url("/x")});
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  auto url = client.send({"GET", server.url("/x\r\nX-Injected: 1")});
  EXPECT_EQ(url.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(server.connections(), 0);
}

TEST(HttpClient, TlsHandshakeFailureIsReportedClearly) {
  // A plain-text server that answers at once, whatever the client sent: an HTTP server library would
  // parse the ClientHello as a request line and, when its random bytes hold a space, wait for the
  // rest, turning the handshake failure into a timeout.
  weft::test::RawServer plain([](Poco::Net::StreamSocket& conn, int, const std::atomic<bool>&) {
    weft::test::send_all(conn, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    conn.shutdownSend();
  });
  // Generous timeouts: on a loaded machine a short one would turn the handshake failure into a
  // timeout, which is a different (also clear) error than the one this test is about.
  ClientOptions o = fast_options();
  o.connect_timeout = std::chrono::milliseconds(10000);
  o.request_timeout = std::chrono::milliseconds(10000);
  o.overall_deadline = std::chrono::milliseconds(20000);
  Client client(o);
  auto r = client.send({"GET", "https://127.0.0.1:" + std::to_string(plain.port()) + "/"},
                       CallOptions{.max_attempts = 1});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find("TLS handshake with 127.0.0.1 failed"), std::string::npos)
      << r.status().message();
}

TEST(HttpClient, MissingCaFileFailsHttpsCallsWithAClearError) {
  LocalServer plain([](auto&, auto& resp) { resp.send() << "x"; });
  ClientOptions o = fast_options();
  o.ca_file = "/nonexistent/ca.pem";
  Client client(o);
  auto r = client.send({"GET", "https://127.0.0.1:" + std::to_string(plain.port()) + "/"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("/nonexistent/ca.pem"), std::string::npos) << r.status().message();
}

// An AuthHook whose token "renews" to the one the server accepts.
class FakeAuth : public AuthHook {
 public:
  explicit FakeAuth(bool renews) : renews_(renews) {}
  Status apply(Request& req) override {
    ++applied;
    req.headers.emplace_back("Authorization", "Bearer " + token_);
    return Status::Ok();
  }
  Result<bool> on_unauthorized(const Response&) override {
    ++unauthorized;
    if (renews_) token_ = "fresh-SECRET";
    return renews_;
  }
  int applied = 0;
  int unauthorized = 0;

 private:
  bool renews_;
  std::string token_ = "stale-SECRET";
};

void auth_server_handler(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) {
  if (req.get("Authorization", "") != "Bearer fresh-SECRET") {
    resp.setStatus(Poco::Net::HTTPResponse::HTTP_UNAUTHORIZED);
    resp.send() << "expired";
    return;
  }
  resp.send() << "ok";
}

TEST(HttpClient, UnauthorizedRenewsCredentialsOnceAndResends) {
  LocalServer server(auth_server_handler);
  test::LogCapture logs;
  Client client(fast_options());
  FakeAuth auth(true);
  auto r = client.send({"GET", server.url("/me?api_key=SECRET")}, CallOptions{.auth = &auth});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(auth.applied, 2);
  EXPECT_EQ(auth.unauthorized, 1);
  EXPECT_EQ(server.requests(), 2);
  EXPECT_EQ(logs.all().find("SECRET"), std::string::npos) << logs.all();
}

TEST(HttpClient, UnauthorizedNeverLoopsWhenRenewalDoesNotHelp) {
  LocalServer server([](auto&, auto& resp) {
    resp.setStatus(Poco::Net::HTTPResponse::HTTP_UNAUTHORIZED);
    resp.send() << "no";
  });
  Client client(fast_options());
  FakeAuth renews(true);
  auto r = client.send({"GET", server.url("/me")}, CallOptions{.auth = &renews});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(renews.unauthorized, 1);
  EXPECT_EQ(server.requests(), 2);

  FakeAuth gives_up(false);
  auto r2 = client.send({"GET", server.url("/me")}, CallOptions{.auth = &gives_up});
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->status, 401);
  EXPECT_EQ(gives_up.applied, 1);
  EXPECT_EQ(server.requests(), 3);
}

class FailingAuth : public AuthHook {
 public:
  Status apply(Request&) override { return {Code::kFailedPrecondition, "connection needs re-authorization"}; }
  Result<bool> on_unauthorized(const Response&) override { return false; }
};

TEST(HttpClient, AuthApplyErrorFailsTheCallWithoutSendingIt) {
  LocalServer server([](auto&, auto& resp) { resp.send() << "x"; });
  Client client(fast_options());
  FailingAuth auth;
  auto r = client.send({"GET", server.url("/")}, CallOptions{.auth = &auth});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(server.requests(), 0);
}

TEST(HttpClient, SsrfGuardRefusesLoopbackUnlessAllowListed) {
  LocalServer server([](auto&, auto& resp) { resp.send() << "internal"; });
  ClientOptions o = fast_options();
  o.block_private_networks = true;
  {
    Client client(o);
    for (const std::string host : {"127.0.0.1", "localhost"}) {
      auto r = client.send({"GET", "http://" + host + ":" + std::to_string(server.port()) + "/"});
      ASSERT_FALSE(r.ok()) << host;
      EXPECT_EQ(r.status().code(), Code::kPermissionDenied) << r.status().message();
      EXPECT_NE(r.status().message().find("loopback"), std::string::npos) << r.status().message();
    }
    EXPECT_EQ(server.requests(), 0);
  }
  o.allowed_private_addresses = {"127.0.0.1"};
  Client allowed(o);
  auto r = allowed.send({"GET", server.url("/")});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->body, "internal");
}

TEST(HttpClient, SsrfGuardExemptsWholeCidrRangesNotTheirNeighbours) {
  LocalServer server([](auto&, auto& resp) { resp.send() << "internal"; });
  ClientOptions o = fast_options();
  o.block_private_networks = true;
  o.allowed_private_addresses = {"127.0.0.0/30", "10.20.0.0/16"};  // 127.0.0.1 is inside the /30
  Client allowed(o);
  auto r = allowed.send({"GET", server.url("/")});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->body, "internal");
  o.allowed_private_addresses = {"127.0.0.4/30", "::1/128"};  // 127.0.0.4-7: not 127.0.0.1
  Client outside(o);
  auto refused = outside.send({"GET", server.url("/")});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kPermissionDenied) << refused.status().message();
  EXPECT_EQ(server.requests(), 1);
}

TEST(IpRange, ParsesV4AndV6PrefixesAndClassifiesWithoutAnyTraffic) {
  using Poco::Net::IPAddress;
  auto in = [](const std::string& range, const std::string& addr) {
    auto r = IpRange::parse(range);
    EXPECT_TRUE(r.ok()) << range << ": " << r.status().message();
    return r.ok() && r->contains(IPAddress(addr));
  };
  EXPECT_TRUE(in("10.20.0.0/16", "10.20.0.1"));
  EXPECT_TRUE(in("10.20.0.0/16", "10.20.255.254"));
  EXPECT_FALSE(in("10.20.0.0/16", "10.21.0.1"));
  EXPECT_FALSE(in("10.20.0.0/16", "10.19.255.255"));
  EXPECT_TRUE(in("10.20.1.0/16", "10.20.200.1"));  // host bits past the prefix are ignored
  EXPECT_TRUE(in("172.16.0.0/12", "172.31.1.1"));
  EXPECT_FALSE(in("172.16.0.0/12", "172.32.0.1"));
  EXPECT_TRUE(in("192.168.1.128/25", "192.168.1.200"));
  EXPECT_FALSE(in("192.168.1.128/25", "192.168.1.127"));
  EXPECT_TRUE(in("169.254.169.254/32", "169.254.169.254"));
  EXPECT_FALSE(in("169.254.169.254/32", "169.254.169.253"));
  EXPECT_TRUE(in("169.254.169.254", "169.254.169.254"));  // a single address is a /32
  EXPECT_TRUE(in("0.0.0.0/0", "8.8.8.8"));
  EXPECT_TRUE(in("10.0.0.0/8", "::ffff:10.1.2.3"));  // IPv4-mapped IPv6 matches the v4 range
  EXPECT_FALSE(in("10.0.0.0/8", "fd00::1"));
  EXPECT_TRUE(in("fd00::/8", "fd12:3456::1"));
  EXPECT_FALSE(in("fd00::/8", "fe80::1"));
  EXPECT_TRUE(in("fe80::/10", "febf::1"));
  EXPECT_FALSE(in("fe80::/10", "fec0::1"));
  EXPECT_TRUE(in("2001:db8::/32", "2001:db8:ffff::1"));
  EXPECT_FALSE(in("2001:db8::/32", "2001:db9::1"));
  EXPECT_TRUE(in("::1/128", "::1"));
  EXPECT_TRUE(in("::1", "::1"));
  EXPECT_FALSE(in("::1/128", "::2"));
  EXPECT_FALSE(in("fd00::/8", "10.0.0.1"));  // families never mix
  EXPECT_TRUE(in("::/0", "2a00::1"));

  for (const std::string bad :
       {"10.20.0.0/33", "fd00::/129", "10.20.0.0/", "10.20.0.0/x", "10.20.0.0/-1", "10.300.0.0/16", "/16", "",
        "example.com/24", "10.20.0.0/16/1", "10.20.0.0/0016"}) {
    auto r = IpRange::parse(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << bad;
      EXPECT_NE(r.status().message().find("not a CIDR range"), std::string::npos) << r.status().message();
    }
  }
  EXPECT_EQ(IpRange::parse("10.20.0.0/16")->prefix(), 16u);
  EXPECT_TRUE(IpRange::parse("fd00::/8")->v6());
}

int open_fds() {
  int n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

TEST(HttpClient, ManyFailingCallsLeakNoFileDescriptors) {
  ClientOptions o = fast_options();
  o.request_timeout = milliseconds(50);
  Client client(o);
  const std::string refused = "http://127.0.0.1:" + std::to_string(closed_port()) + "/";
  (void)client.send({"GET", refused}, CallOptions{.max_attempts = 1});  // warm-up
  const int before = open_fds();
  {
    test::RawServer faulty([](Poco::Net::StreamSocket& c, int n, const auto& stopping) {
      test::read_request(c);
      if (n % 2 == 0) {
        test::send_all(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort");
        test::reset(c);
      } else {
        test::hang(stopping);
      }
    });
    for (int i = 0; i < 20; ++i) {
      auto a = client.send({"GET", refused}, CallOptions{.max_attempts = 2});
      EXPECT_FALSE(a.ok());
      auto b = client.send({"GET", faulty.url("/")}, CallOptions{.max_attempts = 1});
      EXPECT_FALSE(b.ok());
    }
  }
  EXPECT_EQ(open_fds(), before);
}

}  // namespace
}  // namespace weft::http
