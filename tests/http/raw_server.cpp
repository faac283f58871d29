#include "raw_server.hpp"

#include <Poco/Net/SocketAddress.h>

#include <chrono>

namespace weft::test {

RawServer::RawServer(Handler handler) : handler_(std::move(handler)) {
  listener_.bind(Poco::Net::SocketAddress("127.0.0.1", 0), true);
  listener_.listen(64);
  acceptor_ = std::thread([this] {
    while (!stopping_) {
      try {
        if (!listener_.poll(Poco::Timespan(0, 20000), Poco::Net::Socket::SELECT_READ)) continue;
        Poco::Net::StreamSocket conn = listener_.acceptConnection();
        int n = connections_.fetch_add(1);
        std::lock_guard lock(mu_);
        workers_.emplace_back([this, conn, n]() mutable {
          try {
            conn.setReceiveTimeout(Poco::Timespan(5, 0));
            handler_(conn, n, stopping_);
          } catch (const Poco::Exception&) {
            // the client went away: fine for a fault server
          }
          try {
            conn.close();
          } catch (const Poco::Exception&) {
          }
        });
      } catch (const Poco::Exception&) {
      }
    }
  });
}

RawServer::~RawServer() {
  stopping_ = true;
  acceptor_.join();
  std::lock_guard lock(mu_);
  for (auto& w : workers_) w.join();
  listener_.close();
}

unsigned short RawServer::port() const { return listener_.address().port(); }

std::string RawServer::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port()) + path;
}

std::string read_request(Poco::Net::StreamSocket& conn) {
  std::string data;
  char buf[4096];
  std::size_t head_end = std::string::npos;
  while ((head_end = data.find("\r\n\r\n")) == std::string::npos) {
    int n = conn.receiveBytes(buf, sizeof buf);
    if (n <= 0) return "";
    data.append(buf, static_cast<std::size_t>(n));
  }
  std::size_t length = 0;
  auto pos = data.find("Content-Length: ");
  if (pos != std::string::npos && pos < head_end) length = std::stoul(data.substr(pos + 16));
  while (data.size() < head_end + 4 + length) {
    int n = conn.receiveBytes(buf, sizeof buf);
    if (n <= 0) break;
    data.append(buf, static_cast<std::size_t>(n));
  }
  return data;
}

void send_all(Poco::Net::StreamSocket& conn, const std::string& bytes) {
  conn.sendBytes(bytes.data(), static_cast<int>(bytes.size()));
}

void reset(Poco::Net::StreamSocket& conn) {
  conn.setLinger(true, 0);
  conn.close();
}

void hang(const std::atomic<bool>& stopping) {
  while (!stopping) std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

}  // namespace weft::test

#include "core/log.hpp"

namespace weft::test {

LogCapture::LogCapture() {
  log::set_level(log::Level::kDebug);
  log::set_sink([this](const std::string& line) {
    std::lock_guard lock(mu_);
    lines_.push_back(line);
  });
}

LogCapture::~LogCapture() { log::reset_sink(); }

std::vector<std::string> LogCapture::lines() const {
  std::lock_guard lock(mu_);
  return lines_;
}

std::string LogCapture::all() const {
  std::string out;
  for (const auto& l : lines()) out += l + "\n";
  return out;
}

int LogCapture::count(const std::vector<std::string>& needles) const {
  int n = 0;
  for (const auto& l : lines()) {
    bool all = true;
    for (const auto& needle : needles) all = all && l.find(needle) != std::string::npos;
    n += all ? 1 : 0;
  }
  return n;
}

}  // namespace weft::test
