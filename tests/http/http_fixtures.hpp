// http_fixtures.hpp — client settings and addresses shared by the http tests.
//
//   Client client(test::fast_options());                       // short timeouts and back-off
//   client.send({"GET", "http://127.0.0.1:" + std::to_string(test::closed_port()) + "/"});  // refused
#pragma once

#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>

#include "http/client.hpp"

namespace weft::test {

// Timeouts, back-off and Retry-After clamps small enough that the whole area runs in seconds.
inline http::ClientOptions fast_options() {
  http::ClientOptions o;
  o.connect_timeout = std::chrono::milliseconds(1000);
  o.request_timeout = std::chrono::milliseconds(2000);
  o.overall_deadline = std::chrono::milliseconds(8000);
  o.backoff_base = std::chrono::milliseconds(10);
  o.backoff_cap = std::chrono::milliseconds(50);
  o.max_retry_after = std::chrono::seconds(2);
  return o;
}

// A loopback port nothing listens on (bound, then released), so connects are refused.
inline unsigned short closed_port() {
  Poco::Net::ServerSocket s(Poco::Net::SocketAddress("127.0.0.1", 0));
  unsigned short port = s.address().port();
  s.close();
  return port;
}

}  // namespace weft::test
