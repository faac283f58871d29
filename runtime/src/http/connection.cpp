#include "http/connection.hpp"

#include <Poco/Exception.h>
#include <Poco/Net/DNS.h>
#include <Poco/Net/HostEntry.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SSLException.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <netinet/in.h>

#include <array>
#include <cstring>

#include "core/log.hpp"
#include "http/socket_poll.hpp"

namespace weft::http {

namespace {

using std::chrono::milliseconds;

// Idle connections older than this are closed rather than reused: servers commonly drop
// keep-alive connections after 5–60 s, and a fresh connect is cheaper than a failed attempt.
constexpr auto kMaxIdle = std::chrono::seconds(30);

std::optional<std::string> v4_range(const unsigned char* b) {
  if (b[0] == 0) return "unspecified";
  if (b[0] == 10) return "private";
  if (b[0] == 100 && (b[1] & 0xc0) == 64) return "shared (carrier-grade NAT)";
  if (b[0] == 127) return "loopback";
  if (b[0] == 169 && b[1] == 254) return "link-local";
  if (b[0] == 172 && (b[1] & 0xf0) == 16) return "private";
  if (b[0] == 192 && b[1] == 168) return "private";
  if (b[0] >= 224) return "multicast or reserved";
  return std::nullopt;
}

// HTTP over an established TLS socket. Many servers end a close-delimited body without a TLS
// close_notify; like HTTPSClientSession, treat that as the end of the body rather than an error
// (truncation of a length-delimited body is still detected by the caller).
class TlsSession : public Poco::Net::HTTPClientSession {
 public:
  explicit TlsSession(const Poco::Net::SecureStreamSocket& socket) : HTTPClientSession(socket) {}

 protected:
  int read(char* buffer, std::streamsize length) override {
    try {
      return HTTPClientSession::read(buffer, length);
    } catch (const Poco::Net::SSLConnectionUnexpectedlyClosedException&) {
      return 0;
    }
  }
};

}  // namespace

std::optional<std::string> non_public_range(const Poco::Net::IPAddress& addr) {
  if (addr.family() == Poco::Net::IPAddress::IPv4) {
    std::array<unsigned char, 4> b{};
    std::memcpy(b.data(), addr.addr(), b.size());
    return v4_range(b.data());
  }
  std::array<unsigned char, 16> b{};
  std::memcpy(b.data(), addr.addr(), b.size());
  static constexpr std::array<unsigned char, 12> kMappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(b.data(), kMappedPrefix.data(), kMappedPrefix.size()) == 0) return v4_range(b.data() + 12);
  bool zero_prefix = std::all_of(b.begin(), b.begin() + 15, [](unsigned char c) { return c == 0; });
  if (zero_prefix && b[15] == 0) return "unspecified";
  if (zero_prefix && b[15] == 1) return "loopback";
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return "link-local";
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return "site-local";
  if ((b[0] & 0xfe) == 0xfc) return "private (unique local)";
  if (b[0] == 0xff) return "multicast";
  return std::nullopt;
}

namespace {
constexpr std::string_view kRefused = "connection refused to ";
constexpr std::string_view kCannotConnect = "cannot connect to ";
constexpr std::string_view kConnectTimedOut = "connect to ";
}  // namespace

bool is_transient_connect_error(const Status& s) {
  const auto& m = s.message();
  return s.code() == Code::kDeadlineExceeded ||
         (s.code() == Code::kUnavailable && (m.rfind(kRefused, 0) == 0 || m.rfind(kCannotConnect, 0) == 0));
}

bool never_processed(const Status& s) {
  const auto& m = s.message();
  switch (s.code()) {
    case Code::kInvalidArgument:
    case Code::kPermissionDenied:
    case Code::kRateLimited:
      return true;
    case Code::kUnavailable:
      return m.find(kRefused) != std::string::npos || m.find(kCannotConnect) != std::string::npos;
    case Code::kDeadlineExceeded:
      return m.find(kConnectTimedOut) != std::string::npos;
    default:
      return false;
  }
}

Pool::Pool(const ClientOptions& options) : options_(options) {
  for (const auto& a : options_.allowed_private_addresses) {
    if (auto r = IpRange::parse(a)) {
      allowed_.push_back(*r);
    } else {
      log::warn("http", "ignoring allowed_private_addresses entry",
                {{"entry", a}, {"error", r.status().message()}});
    }
  }
}

Pool::~Pool() {
  idle_.clear();
  if (tls_) {
    tls_ = nullptr;
    Poco::Net::uninitializeSSL();
  }
}

Result<Poco::Net::Context::Ptr> Pool::tls_context() {
  std::lock_guard lock(mu_);
  if (tls_) return tls_;
  // OpenSSL's TLS side (its error strings, every cipher and digest) is set up with the first https
  // origin, not before: a daemon that only calls plain-HTTP services never pays its memory.
  Poco::Net::initializeSSL();
  try {
    // Verification on: the server's chain must lead to a trusted CA and its name must match
    // (Poco's extended verification, on by default, checks the host name).
    const bool system_store = options_.ca_file.empty();
    Poco::Net::Context::Ptr ctx = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, "", "",
                                                         options_.ca_file,  // Poco owns (AutoPtr)
                                                         Poco::Net::Context::VERIFY_STRICT, 9, system_store);
    ctx->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
    tls_ = ctx;  // set only once it is whole: the destructor undoes initializeSSL when tls_ is set
    return tls_;
  } catch (const Poco::Exception& e) {
    Poco::Net::uninitializeSSL();
    return Status(Code::kInvalidArgument,
                  "cannot set up TLS" +
                      (options_.ca_file.empty() ? std::string() : " with CA file " + options_.ca_file) +
                      ": " + e.displayText());
  }
}

Result<std::unique_ptr<Connection>> Pool::take_or_open(const Origin& origin, milliseconds connect_timeout) {
  const std::string key = origin.key();
  for (;;) {
    std::unique_ptr<Connection> conn;
    {
      std::lock_guard lock(mu_);
      auto it = idle_.find(key);
      if (it == idle_.end() || it->second.empty()) break;
      conn = std::move(it->second.back());
      it->second.pop_back();
    }
    // Checked outside the lock, so callers for other origins (and this one) do not queue behind
    // the system call.
    const bool too_old = std::chrono::steady_clock::now() - conn->idle_since > kMaxIdle;
    bool closed = false;
    try {
      // Readable while idle means the server closed it (EOF) or sent something unasked.
      closed = poll_socket(conn->session->socket().impl()->sockfd(), Poco::Timespan(0),
                           Poco::Net::Socket::SELECT_READ | Poco::Net::Socket::SELECT_ERROR);
    } catch (const Poco::Exception&) {
      closed = true;
    }
    if (too_old || closed) continue;  // dropped here: its socket closes
    conn->reused = true;
    return conn;
  }
  return open(origin, connect_timeout);
}

void Pool::give_back(const Origin& origin, std::unique_ptr<Connection> conn) {
  conn->idle_since = std::chrono::steady_clock::now();
  std::lock_guard lock(mu_);
  auto& list = idle_[origin.key()];
  if (list.size() < options_.pool_size_per_origin) list.push_back(std::move(conn));
}

Result<std::unique_ptr<Connection>> Pool::open(const Origin& origin, milliseconds connect_timeout) {
  // Resolve once and connect to exactly the addresses checked, so a second lookup cannot swap in
  // a private address (DNS rebinding).
  std::vector<Poco::Net::IPAddress> addresses;
  Poco::Net::IPAddress literal;
  if (Poco::Net::IPAddress::tryParse(origin.host, literal)) {
    addresses.push_back(literal);
  } else {
    try {
      addresses = Poco::Net::DNS::hostByName(origin.host).addresses();
    } catch (const Poco::Exception& e) {
      return Status(Code::kUnavailable, "cannot resolve host " + origin.host + " (" + e.displayText() + ")");
    }
    if (addresses.empty()) return Status(Code::kUnavailable, "cannot resolve host " + origin.host);
  }

  std::vector<Poco::Net::IPAddress> candidates;
  std::string refused;
  for (const auto& a : addresses) {
    auto range = options_.block_private_networks ? non_public_range(a) : std::nullopt;
    bool allowed =
        std::any_of(allowed_.begin(), allowed_.end(), [&a](const IpRange& r) { return r.contains(a); });
    if (range && !allowed) {
      if (refused.empty()) refused = a.toString() + " is a " + *range + " address";
      continue;
    }
    candidates.push_back(a);
  }
  if (candidates.empty()) {
    return Status(Code::kPermissionDenied,
                  "refusing to connect to " + origin.host + ": " + refused +
                      " and block_private_networks is on (add the address or its range to "
                      "allowed_private_addresses / ssrf_guard.allow to allow it)");
  }

  Status last(Code::kUnavailable, std::string(kCannotConnect) + origin.where());
  for (const auto& a : candidates) {
    Poco::Net::StreamSocket socket;
    try {
      socket.connect(Poco::Net::SocketAddress(a, origin.port),
                     Poco::Timespan(connect_timeout.count() * 1000));
      socket.setNoDelay(true);
    } catch (const Poco::Net::ConnectionRefusedException&) {
      last = Status(Code::kUnavailable, std::string(kRefused) + origin.where());
      continue;
    } catch (const Poco::TimeoutException&) {
      last = Status(Code::kDeadlineExceeded, "connect to " + origin.where() + " timed out after " +
                                                 std::to_string(connect_timeout.count()) + " ms");
      continue;
    } catch (const Poco::Exception& e) {
      last =
          Status(Code::kUnavailable, std::string(kCannotConnect) + origin.where() + ": " + e.displayText());
      continue;
    }
    auto conn = std::make_unique<Connection>();
    if (origin.scheme == "http") {
      conn->session = std::make_unique<Poco::Net::HTTPClientSession>(socket);
      conn->session->setKeepAlive(true);
      return conn;
    }
    auto ctx = tls_context();
    if (!ctx) return ctx.status();
    try {
      const Poco::Timespan handshake(connect_timeout.count() * 1000);
      socket.setReceiveTimeout(handshake);
      socket.setSendTimeout(handshake);
      Poco::Net::SecureStreamSocket secure = Poco::Net::SecureStreamSocket::attach(socket, origin.host, *ctx);
      // Not HTTPSClientSession: its socket constructor refuses an already connected socket, and
      // the handshake (on the address the SSRF guard checked) is done.
      conn->session = std::make_unique<TlsSession>(secure);
      conn->session->setKeepAlive(true);
      return conn;
    } catch (const Poco::Exception& e) {
      // A handshake failure is about this server, not this address: do not try the others.
      return Status(Code::kUnavailable, "TLS handshake with " + origin.host + " failed: " + e.displayText());
    }
  }
  return last;
}

}  // namespace weft::http
