// security.cpp — token file and webhook signatures. Randomness comes from Poco::RandomInputStream
// (the OS generator); HMAC from Poco::HMACEngine<SHA2Engine>.
#include "daemon/security.hpp"

#include <Poco/DigestEngine.h>
#include <Poco/File.h>
#include <Poco/HMACEngine.h>
#include <Poco/Path.h>
#include <Poco/RandomStream.h>
#include <Poco/SHA2Engine.h>
#include <Poco/String.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "daemon/http_server.hpp"

namespace weft::daemon {
namespace {

constexpr std::size_t kTokenBytes = 32;

class Sha256 : public Poco::SHA2Engine {
 public:
  enum { BLOCK_SIZE = 64, DIGEST_SIZE = 32 };
  Sha256() : Poco::SHA2Engine(Poco::SHA2Engine::SHA_256) {}
};

Result<std::string> read_token(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Status(Code::kNotFound, "no admin token file " + path);
  if ((st.st_mode & 077) != 0)
    return Status(Code::kPermissionDenied,
                  "admin token file " + path + " is accessible by group or others; run: chmod 600 " + path);
  std::ifstream in(path);
  std::string token;
  std::getline(in, token);
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
  if (token.size() < 32 || token.size() > 1024)
    return Status(Code::kDataLoss,
                  "admin token file " + path +
                      " does not hold a token (32-1024 characters); delete it to create a new one");
  return token;
}

}  // namespace

Result<std::string> ensure_admin_token(const std::string& path) {
  auto existing = read_token(path);
  if (existing || existing.status().code() != Code::kNotFound) return existing;

  std::array<unsigned char, kTokenBytes> raw{};
  Poco::RandomInputStream rnd;
  rnd.read(reinterpret_cast<char*>(raw.data()), raw.size());
  std::string token = Poco::DigestEngine::digestToHex(Poco::DigestEngine::Digest(raw.begin(), raw.end()));

  // Unique per attempt (threads of one process share the pid): part of the fresh random bytes.
  const std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + token.substr(0, 16);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    return Status(Code::kUnavailable, "cannot create admin token file " + tmp + ": " + std::strerror(errno));
  std::string line = token + "\n";
  bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
  ::close(fd);
  // link() fails when another process won the race: then its token is the one to use.
  if (ok && ::link(tmp.c_str(), path.c_str()) != 0 && errno != EEXIST) ok = false;
  ::unlink(tmp.c_str());
  if (!ok)
    return Status(Code::kUnavailable, "cannot write admin token file " + path + ": " + std::strerror(errno));
  return read_token(path);
}

std::string hmac_sha256_hex(const std::string& key, const std::string& data) {
  Poco::HMACEngine<Sha256> hmac(key);
  hmac.update(data);
  return Poco::DigestEngine::digestToHex(hmac.digest());
}

Status verify_webhook(const WebhookPolicy& policy, const std::string& raw_body,
                      const std::function<std::string(const std::string&)>& header_value) {
  const std::string header = Poco::toLower(policy.header);
  switch (policy.kind) {
    case WebhookPolicy::Kind::kNone:
      return Status::Ok();
    case WebhookPolicy::Kind::kSharedSecret: {
      std::string got = header_value(header);
      if (got.empty()) return {Code::kUnauthenticated, "missing webhook secret header " + header};
      if (!constant_time_equals(got, policy.secret)) return {Code::kUnauthenticated, "wrong webhook secret"};
      return Status::Ok();
    }
    case WebhookPolicy::Kind::kHmacSha256: {
      std::string got = header_value(header);
      if (got.empty()) return {Code::kUnauthenticated, "missing webhook signature header " + header};
      const std::string prefix = "sha256=";
      if (got.rfind(prefix, 0) != 0)
        return {Code::kUnauthenticated,
                "webhook signature must look like sha256=<hex of HMAC-SHA256 of the body>"};
      std::string expected = hmac_sha256_hex(policy.secret, raw_body);
      if (!constant_time_equals(Poco::toLower(got.substr(prefix.size())), expected))
        return {Code::kUnauthenticated, "webhook signature does not match the body"};
      return Status::Ok();
    }
  }
  return {Code::kInternal, "unknown webhook policy"};
}

}  // namespace weft::daemon
