#include "daemon/http_server.hpp"

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/Net/NetException.h>
#include <gtest/gtest.h>

#include <atomic>

namespace weft::daemon {
namespace {

TEST(Router, MatchesParamsDecodesThemAndTellsNotFoundFromWrongMethod) {
  Router r;
  r.add("GET", "/v1/runs/{id}", [](const Request&) { return Response{}; });
  r.add("POST", "/v1/workflows/{name}/runs", [](const Request&) { return Response{}; });
  auto m = r.match("GET", "/v1/runs/r%2D1");
  ASSERT_EQ(m.kind, Router::Match::Kind::kFound);
  EXPECT_EQ(m.params["id"], "r-1");
  EXPECT_EQ(m.pattern, "/v1/runs/{id}");
  EXPECT_EQ(r.match("GET", "/v1/runs/a/b").kind, Router::Match::Kind::kNotFound);
  EXPECT_EQ(r.match("GET", "/v1/runs").kind, Router::Match::Kind::kNotFound);
  auto na = r.match("DELETE", "/v1/runs/x");
  EXPECT_EQ(na.kind, Router::Match::Kind::kMethodNotAllowed);
  EXPECT_EQ(na.allowed, std::vector<std::string>{"GET"});
  EXPECT_EQ(r.match("POST", "/v1/workflows/..%2F..%2Fetc/runs").params["name"], "../../etc");
}

TEST(ConstantTimeEquals, ComparesWholeStrings) {
  EXPECT_TRUE(constant_time_equals("abc", "abc"));
  EXPECT_FALSE(constant_time_equals("abc", "abd"));
  EXPECT_FALSE(constant_time_equals("abc", "abcd"));
  EXPECT_FALSE(constant_time_equals("", "a"));
  EXPECT_TRUE(constant_time_equals("", ""));
}

// Hundreds of clients that connect and send nothing hold at most `workers` threads and
// `max_queued` queued sockets; the rest are closed at once, and the server serves again as soon as
// the stalled ones time out.
TEST(HttpServer, SilentClientsAreBoundedAndDoNotKeepTheServerDown) {
  Router r;
  r.add(
      "GET", "/healthz",
      [](const Request&) {
        return Response::json(200, json::object({{"ok", true}}));
      },
      Auth::kNone);
  ServerOptions o;
  o.port = 0;
  o.workers = 2;
  o.max_queued = 4;
  o.io_timeout = std::chrono::seconds(1);
  o.keep_alive_timeout = std::chrono::seconds(1);
  auto server = HttpServer::start(o, r, nullptr);
  ASSERT_TRUE(server) << server.status().message();
  const Poco::Net::SocketAddress addr("127.0.0.1", (*server)->port());

  constexpr int kClients = 200;
  std::vector<Poco::Net::StreamSocket> clients;
  for (int i = 0; i < kClients; ++i) clients.emplace_back(addr);
  int closed_by_server = 0;
  for (auto& c : clients) {
    c.setReceiveTimeout(Poco::Timespan(10, 0));
    char buf[256];
    try {
      // 0 bytes = orderly close; a 408 from a timed-out worker is also the server hanging up.
      while (c.receiveBytes(buf, sizeof buf) > 0) {
      }
      ++closed_by_server;
    } catch (const Poco::Exception&) {
      ++closed_by_server;  // reset
    }
  }
  EXPECT_EQ(closed_by_server, kClients);

  Poco::Net::HTTPClientSession session("127.0.0.1", (*server)->port());
  session.setTimeout(Poco::Timespan(10, 0));
  Poco::Net::HTTPRequest req("GET", "/healthz", Poco::Net::HTTPMessage::HTTP_1_1);
  session.sendRequest(req);
  Poco::Net::HTTPResponse resp;
  std::string body;
  Poco::StreamCopier::copyToString(session.receiveResponse(resp), body);
  EXPECT_EQ(resp.getStatus(), 200);
  EXPECT_EQ(body, R"({"ok":true})");
}

// Poco's server polls the connection between keep-alive requests (through weft's one-poll(2)
// socket): many requests on one connection are all answered, and a connection left idle past the
// keep-alive timeout is closed by the server.
TEST(HttpServer, ServesManyRequestsOnOneKeepAliveConnectionAndClosesItWhenIdle) {
  Router r;
  std::atomic<int> calls{0};
  r.add(
      "GET", "/n",
      [&calls](const Request&) { return Response::json(200, json::object({{"n", ++calls}})); },
      Auth::kNone);
  ServerOptions o;
  o.port = 0;
  o.keep_alive_timeout = std::chrono::seconds(1);
  auto server = HttpServer::start(o, r, nullptr);
  ASSERT_TRUE(server) << server.status().message();
  Poco::Net::HTTPClientSession session("127.0.0.1", (*server)->port());
  session.setTimeout(Poco::Timespan(10, 0));
  session.setKeepAlive(true);
  Poco::Net::StreamSocket* first = nullptr;
  for (int i = 1; i <= 50; ++i) {
    Poco::Net::HTTPRequest req("GET", "/n", Poco::Net::HTTPMessage::HTTP_1_1);
    session.sendRequest(req);
    Poco::Net::HTTPResponse resp;
    std::string body;
    Poco::StreamCopier::copyToString(session.receiveResponse(resp), body);
    ASSERT_EQ(resp.getStatus(), 200) << i;
    EXPECT_EQ(body, R"({"n":)" + std::to_string(i) + "}");
    EXPECT_TRUE(resp.getKeepAlive()) << i;
    if (i == 1) first = &session.socket();
  }
  EXPECT_EQ(&session.socket(), first);
  // Idle past the keep-alive timeout: the server hangs up (EOF, or a reset).
  Poco::Net::StreamSocket& s = session.socket();
  s.setReceiveTimeout(Poco::Timespan(10, 0));
  char buf[64];
  int got = -1;
  try {
    got = s.receiveBytes(buf, sizeof buf);
  } catch (const Poco::Net::ConnectionResetException&) {
    got = 0;
  }
  EXPECT_EQ(got, 0);
}

TEST(HttpServer, BodiesGoOutWholeWithTheirLengthAndAHeadGetsTheHeaderAlone) {
  // A body far past the server's 4 KB stream buffer, with bytes that are not text, then a HEAD of
  // it and another GET on the same connection: a body sent for the HEAD would be read as the
  // next response's start.
  std::string big(300 * 1024, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 131) % 251);
  Router r;
  auto handler = [&big](const Request&) {
    Response out;
    out.status = 200;
    out.content_type = "application/octet-stream";
    out.body = big;
    return out;
  };
  r.add("GET", "/big", handler, Auth::kNone);
  r.add("HEAD", "/big", handler, Auth::kNone);
  ServerOptions o;
  o.port = 0;
  auto server = HttpServer::start(o, r, nullptr);
  ASSERT_TRUE(server) << server.status().message();
  Poco::Net::HTTPClientSession session("127.0.0.1", (*server)->port());
  session.setTimeout(Poco::Timespan(10, 0));
  session.setKeepAlive(true);
  for (const char* method : {"GET", "HEAD", "GET"}) {
    Poco::Net::HTTPRequest req(method, "/big", Poco::Net::HTTPMessage::HTTP_1_1);
    session.sendRequest(req);
    Poco::Net::HTTPResponse resp;
    std::string body;
    Poco::StreamCopier::copyToString(session.receiveResponse(resp), body);
    ASSERT_EQ(resp.getStatus(), 200) << method;
    EXPECT_EQ(resp.getContentLength64(), static_cast<Poco::Int64>(big.size())) << method;
    EXPECT_EQ(resp.getContentType(), "application/octet-stream") << method;
    if (std::string(method) == "HEAD")
      EXPECT_TRUE(body.empty()) << body.size();
    else
      EXPECT_TRUE(body == big) << method << ": " << body.size() << " bytes";
  }
}

TEST(HttpServer, QueryIsDecodedInOrderAndABadOneIsA400) {
  Router r;
  r.add(
      "GET", "/q",
      [](const Request& q) {
        std::string seen;
        for (const auto& [k, v] : q.query) seen += k + "=" + v + ";";
        return Response::text(200, seen);
      },
      Auth::kNone);
  ServerOptions o;
  o.port = 0;
  auto server = HttpServer::start(o, r, nullptr);
  ASSERT_TRUE(server) << server.status().message();
  auto get = [&](const std::string& uri, std::string& body) {
    Poco::Net::HTTPClientSession session("127.0.0.1", (*server)->port());
    session.setTimeout(Poco::Timespan(10, 0));
    Poco::Net::HTTPRequest req("GET", uri, Poco::Net::HTTPMessage::HTTP_1_1);
    session.sendRequest(req);
    Poco::Net::HTTPResponse resp;
    body.clear();
    Poco::StreamCopier::copyToString(session.receiveResponse(resp), body);
    return static_cast<int>(resp.getStatus());
  };
  std::string body;
  EXPECT_EQ(get("/q?b=2&a=%20x", body), 200);
  EXPECT_EQ(body, "b=2;a= x;");
  EXPECT_EQ(get("/q", body), 200);
  EXPECT_EQ(body, "");
  EXPECT_EQ(get("/q?x=%zz", body), 400);
  EXPECT_NE(body.find("bad query string"), std::string::npos) << body;
}

TEST(HttpServer, HandlerExceptionsBecomeA500WithoutDetails) {
  Router r;
  r.add(
      "GET", "/boom", [](const Request&) -> Response { throw std::runtime_error("secret detail"); },
      Auth::kNone);
  ServerOptions o;
  o.port = 0;
  auto server = HttpServer::start(o, r, nullptr);
  ASSERT_TRUE(server);
  Poco::Net::HTTPClientSession session("127.0.0.1", (*server)->port());
  Poco::Net::HTTPRequest req("GET", "/boom", Poco::Net::HTTPMessage::HTTP_1_1);
  session.sendRequest(req);
  Poco::Net::HTTPResponse resp;
  std::string body;
  Poco::StreamCopier::copyToString(session.receiveResponse(resp), body);
  EXPECT_EQ(resp.getStatus(), 500);
  EXPECT_EQ(body.find("secret detail"), std::string::npos);
  EXPECT_NE(body.find(R"("code":"internal")"), std::string::npos);
}

TEST(HttpServer, UnresolvableHostIsOneClearError) {
  Router r;
  ServerOptions o;
  o.host = "no-such-host.invalid";
  o.port = 0;
  auto server = HttpServer::start(o, r, nullptr);
  ASSERT_FALSE(server);
  EXPECT_NE(server.status().message().find("cannot listen on no-such-host.invalid:0: "), std::string::npos)
      << server.status().message();
}

}  // namespace
}  // namespace weft::daemon
