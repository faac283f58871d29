#include "http/socket_poll.hpp"

#include <Poco/Net/NetException.h>
#include <Poco/Net/ServerSocketImpl.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocketImpl.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

namespace weft::http {

namespace {

[[noreturn]] void fail(const char* what, int err) {
  throw Poco::Net::NetException(std::string(what) + ": " + std::strerror(err), err);
}

// An accepted connection. Its two addresses are known from accept and cannot change, so they are
// kept: Poco's HTTP server asks for both with every request it reads (getpeername and
// getsockname, two system calls a request).
class PollStreamSocketImpl final : public Poco::Net::StreamSocketImpl {
 public:
  PollStreamSocketImpl(poco_socket_t fd, const Poco::Net::SocketAddress& peer)
      : Poco::Net::StreamSocketImpl(fd), peer_(peer), local_(Poco::Net::StreamSocketImpl::address()) {}
  bool poll(const Poco::Timespan& timeout, int mode) override { return poll_socket(sockfd(), timeout, mode); }
  Poco::Net::SocketAddress address() override {
    if (sockfd() == POCO_INVALID_SOCKET) throw Poco::Net::InvalidSocketException();
    return local_;
  }
  Poco::Net::SocketAddress peerAddress() override {
    if (sockfd() == POCO_INVALID_SOCKET) throw Poco::Net::InvalidSocketException();
    return peer_;
  }

 protected:
  ~PollStreamSocketImpl() override = default;  // reference counted, like every SocketImpl

 private:
  const Poco::Net::SocketAddress peer_, local_;
};

class PollServerSocketImpl final : public Poco::Net::ServerSocketImpl {
 public:
  bool poll(const Poco::Timespan& timeout, int mode) override { return poll_socket(sockfd(), timeout, mode); }

  // What Poco's SocketImpl::acceptConnection does, with the connection in a PollStreamSocketImpl.
  Poco::Net::SocketImpl* acceptConnection(Poco::Net::SocketAddress& client) override {
    if (sockfd() == POCO_INVALID_SOCKET) throw Poco::Net::InvalidSocketException();
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    int fd = -1;
    do {
      len = sizeof addr;
      fd = ::accept4(sockfd(), reinterpret_cast<sockaddr*>(&addr), &len, SOCK_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) fail("accept", errno);
    client = Poco::Net::SocketAddress(reinterpret_cast<const sockaddr*>(&addr), len);
    return new PollStreamSocketImpl(fd, client);  // if getsockname throws, the base closes fd
  }

 protected:
  ~PollServerSocketImpl() override = default;
};

}  // namespace

bool poll_socket(poco_socket_t fd, const Poco::Timespan& timeout, int mode) {
  if (fd == POCO_INVALID_SOCKET) throw Poco::Net::InvalidSocketException();
  pollfd p{};
  p.fd = fd;
  if (mode & Poco::Net::Socket::SELECT_READ) p.events |= POLLIN;
  if (mode & Poco::Net::Socket::SELECT_WRITE) p.events |= POLLOUT;
  if (mode & Poco::Net::Socket::SELECT_ERROR) p.events |= POLLPRI;
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::microseconds(timeout.totalMicroseconds());
  Poco::Timespan::TimeDiff wait_ms = timeout.totalMilliseconds();
  for (;;) {
    const int rc = ::poll(&p, 1, static_cast<int>(wait_ms));
    if (rc >= 0) return rc > 0;
    if (errno != EINTR) fail("poll", errno);
    // Interrupted by a signal: wait for what is left of the timeout.
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    wait_ms = left > 0 ? left : 0;
  }
}

PollServerSocket::PollServerSocket() : Poco::Net::ServerSocket(new PollServerSocketImpl, true) {}

}  // namespace weft::http
