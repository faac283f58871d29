// raw_server.hpp — a loopback TCP server whose handler writes raw bytes, for the faults an HTTP
// server library will not produce (hangs, resets, truncated bodies, silently dropped keep-alive).
//
//   RawServer s([](Poco::Net::StreamSocket& c, int n) { read_request(c); c.sendBytes("HTTP/1.1 200
//   OK\r\n...", ...); }); client.send({"GET", s.url("/x")});   EXPECT_EQ(s.connections(), 1);
#pragma once

#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocket.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace weft::test {

class RawServer {
 public:
  // handler runs on its own thread per accepted connection; n counts connections from 0.
  using Handler =
      std::function<void(Poco::Net::StreamSocket& conn, int n, const std::atomic<bool>& stopping)>;
  explicit RawServer(Handler handler);
  ~RawServer();  // stops accepting, lets handlers see `stopping`, joins them, closes every socket
  RawServer(const RawServer&) = delete;
  RawServer& operator=(const RawServer&) = delete;

  std::string url(const std::string& path = "/") const;
  unsigned short port() const;
  int connections() const { return connections_.load(); }

 private:
  Handler handler_;
  Poco::Net::ServerSocket listener_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::mutex mu_;
  std::vector<std::thread> workers_;
  std::thread acceptor_;
};

// Reads one request (head and Content-Length body); returns it, or "" when the peer closed first.
std::string read_request(Poco::Net::StreamSocket& conn);
void send_all(Poco::Net::StreamSocket& conn, const std::string& bytes);
// Closes with SO_LINGER 0, so the peer sees a TCP reset instead of an orderly end.
void reset(Poco::Net::StreamSocket& conn);
// Blocks until stopping (a server that never answers).
void hang(const std::atomic<bool>& stopping);

}  // namespace weft::test

namespace weft::test {

// Collects the log lines written while it lives (process-wide sink; tests run one per process).
class LogCapture {
 public:
  LogCapture();
  ~LogCapture();
  std::vector<std::string> lines() const;
  std::string all() const;
  // Lines containing every needle.
  int count(const std::vector<std::string>& needles) const;

 private:
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
};

}  // namespace weft::test
