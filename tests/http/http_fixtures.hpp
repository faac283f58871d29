// http_fixtures.hpp — client settings and addresses shared by the http tests.
//
//   Client client(test::fast_options());                       // short timeouts and back-off
//   client.send({"GET", "http://127.0.0.1:" + std::to_string(test::closed_port()) + "/"});  // refused
#pragma once

#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>

#include <mutex>
#include <vector>

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

// A loopback port nothing listens on, so connects are refused. It stays bound (without listen, and
// without SO_REUSEADDR) for the rest of the process: a port released at once could be handed to a
// test server of another test process running beside this one (ctest -j), which would then take
// this test's refused connects as its own connections.
inline unsigned short closed_port() {
  static std::mutex mu;
  static std::vector<Poco::Net::ServerSocket> held;
  Poco::Net::ServerSocket s;
  s.bind(Poco::Net::SocketAddress("127.0.0.1", 0), false);
  const unsigned short port = s.address().port();
  std::lock_guard lock(mu);
  held.push_back(s);
  return port;
}

}  // namespace weft::test
