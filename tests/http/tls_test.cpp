// TLS with verification on: a loopback HTTPS server with a self-signed certificate for
// IP 127.0.0.1 (tests/http/data, valid until 2126) is trusted only through ClientOptions::ca_file.
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureServerSocket.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>

#include "http/client.hpp"
#include "http_fixtures.hpp"
#include "support/test_support.hpp"

namespace weft::http {
namespace {

std::string data_file(const std::string& name) { return test::source_dir() + "/tests/http/data/" + name; }

class Hello : public Poco::Net::HTTPRequestHandler {
 public:
  void handleRequest(Poco::Net::HTTPServerRequest&, Poco::Net::HTTPServerResponse& resp) override {
    resp.sendBuffer("secure", 6);
  }
};

class HelloFactory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit HelloFactory(std::atomic<int>& served) : served_(served) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
    ++served_;
    return new Hello;  // Poco takes ownership
  }

 private:
  std::atomic<int>& served_;
};

// An HTTPS server on 127.0.0.1 serving "secure".
class TlsServer {
 public:
  TlsServer() {
    Poco::Net::initializeSSL();
    context_ = new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE,
                                      data_file("localhost.key"),  // AutoPtr owns
                                      data_file("localhost.crt"), "", Poco::Net::Context::VERIFY_NONE);
    socket_ = std::make_unique<Poco::Net::SecureServerSocket>(Poco::Net::SocketAddress("127.0.0.1", 0), 64,
                                                              context_);
    auto* params = new Poco::Net::HTTPServerParams;  // Poco takes ownership
    params->setKeepAlive(true);
    server_ = std::make_unique<Poco::Net::HTTPServer>(new HelloFactory(served_), *socket_, params);
    server_->start();
  }
  ~TlsServer() {
    server_->stopAll(true);
    server_.reset();
    socket_.reset();
    context_ = nullptr;
    Poco::Net::uninitializeSSL();
  }
  std::string url(const std::string& host, const std::string& path = "/") const {
    return "https://" + host + ":" + std::to_string(socket_->address().port()) + path;
  }
  int served() const { return served_.load(); }

 private:
  std::atomic<int> served_{0};
  Poco::Net::Context::Ptr context_;
  std::unique_ptr<Poco::Net::SecureServerSocket> socket_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
};

TEST(HttpTls, TrustedCertificateFromCaFileIsAccepted) {
  TlsServer server;
  ClientOptions o = test::fast_options();
  o.ca_file = data_file("localhost.crt");
  Client client(o);
  for (int i = 0; i < 3; ++i) {
    auto r = client.send({"GET", server.url("127.0.0.1")});
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->body, "secure");
  }
  EXPECT_EQ(server.served(), 3);
}

TEST(HttpTls, UntrustedCertificateIsRefused) {
  TlsServer server;
  Client client(test::fast_options());  // system trust store: does not know the test certificate
  auto r = client.send({"GET", server.url("127.0.0.1")});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find("TLS handshake with 127.0.0.1 failed"), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("certificate verify failed"), std::string::npos)
      << r.status().message();
  EXPECT_EQ(server.served(), 0);
}

TEST(HttpTls, CertificateForAnotherNameIsRefused) {
  TlsServer server;
  ClientOptions o = test::fast_options();
  o.ca_file = data_file("localhost.crt");  // trusted, but issued for IP 127.0.0.1 only
  Client client(o);
  auto r = client.send({"GET", server.url("localhost")});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("TLS handshake with localhost failed"), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("Unacceptable certificate from localhost"), std::string::npos)
      << r.status().message();
  EXPECT_EQ(server.served(), 0);
}

}  // namespace
}  // namespace weft::http
