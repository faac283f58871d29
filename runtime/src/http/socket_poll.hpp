// socket_poll.hpp — sockets whose Poco poll() is a single poll(2). Poco 1.11 built with epoll
// makes, registers, waits on and closes a new epoll instance on every Socket::poll: four system
// calls and a kernel file per call, and Poco's HTTP server polls once per keep-alive request, the
// client pool once per reuse. Internal to the http and daemon modules.
//
//   bool ready = poll_socket(sock.impl()->sockfd(), Poco::Timespan(0), Poco::Net::Socket::SELECT_READ);
//   PollServerSocket listener;   // a ServerSocket whose accepted connections poll this way
#pragma once

#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/Socket.h>
#include <Poco/Timespan.h>

namespace weft::http {

// What Poco's SocketImpl::poll answers (true when fd is ready for any of mode's SELECT_READ,
// SELECT_WRITE, SELECT_ERROR within timeout; a hang-up counts as ready), in one poll(2).
// Throws Poco::Net::NetException (or a subclass) when poll fails.
bool poll_socket(poco_socket_t fd, const Poco::Timespan& timeout, int mode);

// A listening socket for Poco's TCPServer/HTTPServer: it polls, and its accepted connections
// poll, with poll_socket; everything else is Poco's.
class PollServerSocket : public Poco::Net::ServerSocket {
 public:
  PollServerSocket();
};

}  // namespace weft::http
