// poll_socket and PollServerSocket: one poll(2) per Poco poll, with Poco's answers (ready for
// data, for an orderly close, for writing; not ready within the timeout; an invalid socket throws).
#include "http/socket_poll.hpp"

#include <Poco/Net/NetException.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

namespace weft::http {
namespace {

using Poco::Net::Socket;

class SocketPair : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds_), 0); }
  void TearDown() override {
    for (int& fd : fds_)
      if (fd >= 0) ::close(fd);
  }
  int fds_[2] = {-1, -1};
};

TEST_F(SocketPair, ReadableOnlyOnceDataOrACloseArrives) {
  EXPECT_FALSE(poll_socket(fds_[0], Poco::Timespan(0), Socket::SELECT_READ));
  EXPECT_FALSE(poll_socket(fds_[0], Poco::Timespan(0, 20000), Socket::SELECT_READ)) << "20 ms, nothing sent";
  ASSERT_EQ(::write(fds_[1], "x", 1), 1);
  EXPECT_TRUE(poll_socket(fds_[0], Poco::Timespan(0), Socket::SELECT_READ));
  char c = 0;
  ASSERT_EQ(::read(fds_[0], &c, 1), 1);
  EXPECT_FALSE(poll_socket(fds_[0], Poco::Timespan(0), Socket::SELECT_READ | Socket::SELECT_ERROR));
  ::close(fds_[1]);
  fds_[1] = -1;
  EXPECT_TRUE(poll_socket(fds_[0], Poco::Timespan(0), Socket::SELECT_READ | Socket::SELECT_ERROR))
      << "an orderly close (EOF) is readable, which is how the client pool sees a dropped connection";
}

TEST_F(SocketPair, WritableWhileTheBufferHasRoom) {
  EXPECT_TRUE(poll_socket(fds_[0], Poco::Timespan(0), Socket::SELECT_WRITE));
}

TEST(PollSocket, AnInvalidSocketThrowsLikePoco) {
  EXPECT_THROW(poll_socket(POCO_INVALID_SOCKET, Poco::Timespan(0), Socket::SELECT_READ),
               Poco::Net::InvalidSocketException);
}

TEST(PollServerSocket, AcceptsConnectionsThatPollWithPocosAnswers) {
  PollServerSocket listener;
  listener.bind(Poco::Net::SocketAddress("127.0.0.1", 0), true, false);
  listener.listen(8);
  EXPECT_FALSE(listener.poll(Poco::Timespan(0), Socket::SELECT_READ)) << "nobody is connecting yet";
  Poco::Net::StreamSocket client(listener.address());
  EXPECT_TRUE(listener.poll(Poco::Timespan(5, 0), Socket::SELECT_READ));
  Poco::Net::SocketAddress peer;
  Poco::Net::StreamSocket accepted = listener.acceptConnection(peer);
  EXPECT_EQ(peer.host().toString(), "127.0.0.1");
  EXPECT_EQ(peer.port(), client.address().port());
  EXPECT_FALSE(accepted.poll(Poco::Timespan(0), Socket::SELECT_READ));
  ASSERT_EQ(client.sendBytes("hi", 2), 2);
  EXPECT_TRUE(accepted.poll(Poco::Timespan(5, 0), Socket::SELECT_READ));
  char buf[2];
  EXPECT_EQ(accepted.receiveBytes(buf, 2), 2);
  client.close();
  EXPECT_TRUE(accepted.poll(Poco::Timespan(5, 0), Socket::SELECT_READ));
  EXPECT_EQ(accepted.receiveBytes(buf, 2), 0) << "the close reads as EOF";
}

// An accepted connection answers its two addresses from accept (Poco's HTTP server asks for both
// with every request) with what getpeername/getsockname say, also once the peer has gone, and
// throws like Poco once closed.
TEST(PollServerSocket, AcceptedConnectionsKnowBothAddresses) {
  PollServerSocket listener;
  listener.bind(Poco::Net::SocketAddress("127.0.0.1", 0), true, false);
  listener.listen(8);
  Poco::Net::StreamSocket client(listener.address());
  Poco::Net::SocketAddress peer;
  Poco::Net::StreamSocket accepted = listener.acceptConnection(peer);
  EXPECT_EQ(accepted.peerAddress().toString(), client.address().toString());
  EXPECT_EQ(accepted.address().toString(), client.peerAddress().toString());
  EXPECT_EQ(accepted.address().toString(), listener.address().toString());
  const std::string client_end = client.address().toString();
  client.close();
  EXPECT_EQ(accepted.peerAddress().toString(), client_end);
  accepted.close();
  EXPECT_THROW(accepted.address(), Poco::Net::InvalidSocketException);
  EXPECT_THROW(accepted.peerAddress(), Poco::Net::InvalidSocketException);
}

}  // namespace
}  // namespace weft::http
