#include "vault/internal/key_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace weft::vault::internal {
namespace {

std::string errno_text() { return std::strerror(errno); }

std::string dir_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

Status sync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return {Code::kUnavailable, "cannot open directory " + dir + ": " + errno_text()};
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return {Code::kUnavailable, "cannot sync directory " + dir + ": " + errno_text()};
  return Status::Ok();
}

// Writes key to a new, uniquely named 0600 file beside path and syncs it. Returns the temp path.
Result<std::string> write_temp(const std::string& path, const MasterKey& key) {
  auto suffix = random_hex(6);
  if (!suffix) return suffix.status();
  const std::string tmp = path + ".tmp-" + *suffix;
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return {Code::kUnavailable, "cannot create " + tmp + ": " + errno_text()};
  const std::string text = key.to_base64() + "\n";
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  // fchmod: the umask may have removed bits we want, never added any; be explicit anyway.
  ok = ok && ::fchmod(fd, 0600) == 0 && ::fsync(fd) == 0;
  const std::string why = ok ? "" : errno_text();
  ::close(fd);
  if (!ok) {
    ::unlink(tmp.c_str());
    return {Code::kUnavailable, "cannot write " + tmp + ": " + why};
  }
  return tmp;
}

}  // namespace

Result<std::optional<MasterKey>> read_key_file(const std::string& path) {
  // Symlinks are followed (secret mounts are often links); the permissions checked are the target's.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<MasterKey>();
    return {Code::kUnavailable, "cannot read master key file " + path + ": " + errno_text()};
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const std::string why = errno_text();
    ::close(fd);
    return {Code::kUnavailable, "cannot stat master key file " + path + ": " + why};
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return {Code::kPermissionDenied,
            path + " is readable by others (mode " + mode + "); run chmod 600 " + path};
  }
  std::string text;
  char buf[256];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const std::string why = errno_text();
      ::close(fd);
      return {Code::kUnavailable, "cannot read master key file " + path + ": " + why};
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > 4096) break;  // a key file is 45 bytes; do not slurp a wrong file
  }
  ::close(fd);
  auto key = MasterKey::from_base64(text, "master key file " + path);
  std::fill(text.begin(), text.end(), '\0');
  if (!key) return key.status();
  return std::optional<MasterKey>(*key);
}

Result<MasterKey> create_key_file(const std::string& path) {
  auto key = MasterKey::generate();
  if (!key) return key.status();
  auto tmp = write_temp(path, *key);
  if (!tmp) return tmp.status();
  // link() fails with EEXIST instead of replacing: whoever links first wins, the rest read theirs.
  const int rc = ::link(tmp->c_str(), path.c_str());
  const int link_errno = errno;
  ::unlink(tmp->c_str());
  if (rc != 0) {
    if (link_errno != EEXIST) {
      return {Code::kUnavailable, "cannot create master key file " + path + ": " + std::strerror(link_errno)};
    }
    auto existing = read_key_file(path);
    if (!existing) return existing.status();
    if (!*existing) return {Code::kUnavailable, "master key file " + path + " vanished while being created"};
    return **existing;
  }
  WEFT_RETURN_IF_ERROR(sync_dir(dir_of(path)));
  return *key;
}

Status write_key_file(const std::string& path, const MasterKey& key) {
  auto tmp = write_temp(path, key);
  if (!tmp) return tmp.status();
  if (::rename(tmp->c_str(), path.c_str()) != 0) {
    const std::string why = errno_text();
    ::unlink(tmp->c_str());
    return {Code::kUnavailable, "cannot replace " + path + ": " + why};
  }
  return sync_dir(dir_of(path));
}

Status remove_key_file(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return {Code::kUnavailable, "cannot remove " + path + ": " + errno_text()};
  }
  return sync_dir(dir_of(path));
}

}  // namespace weft::vault::internal
