#include "core/paths.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace weft::paths {

std::string default_home() {
  if (const char* h = std::getenv("WEFT_HOME"); h != nullptr && *h != '\0') return h;
  if (const char* h = std::getenv("HOME"); h != nullptr && *h != '\0') return std::string(h) + "/.weft";
  return ".weft";
}

std::string executable_dir() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  buf[n] = '\0';
  return std::filesystem::path(buf).parent_path().string();
}

std::vector<std::string> default_connector_dirs() {
  std::vector<std::string> dirs;
  auto builtin = std::filesystem::path(executable_dir()) / ".." / "lib" / "weft" / "connectors";
  std::error_code ec;
  auto canon = std::filesystem::weakly_canonical(builtin, ec);
  dirs.push_back(ec ? builtin.string() : canon.string());
  if (const char* p = std::getenv("WEFT_CONNECTORS_PATH"); p != nullptr) {
    std::string s(p);
    std::size_t start = 0;
    while (start <= s.size()) {
      std::size_t end = s.find(':', start);
      if (end == std::string::npos) end = s.size();
      if (end > start) dirs.push_back(s.substr(start, end - start));
      start = end + 1;
    }
  }
  return dirs;
}

bool ensure_private_dir(const std::string& dir, std::string& error) {
  std::error_code ec;
  if (std::filesystem::is_directory(dir, ec)) return true;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    error = "cannot create directory " + dir + ": " + ec.message();
    return false;
  }
  if (::chmod(dir.c_str(), 0700) != 0) {
    error = "cannot set permissions of " + dir + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

}  // namespace weft::paths
