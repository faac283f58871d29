// process.cpp — POSIX process control.
#include "daemon/process.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "core/json.hpp"
#include "core/log.hpp"

namespace weft::daemon {
namespace {

bool process_alive(int pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM); }

int read_pid(const std::string& path) {
  std::ifstream in(path);
  long pid = 0;
  if (!(in >> pid) || pid <= 0 || pid > 4194304) return 0;
  return static_cast<int>(pid);
}

bool write_all(int fd, const std::string& s) {
  std::size_t done = 0;
  while (done < s.size()) {
    ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

Status write_daemon_file(const std::string& home, const RunningDaemon& d) {
  const std::string path = home + "/serve.json";
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status(Code::kUnavailable, "cannot write " + path + ": " + std::strerror(errno));
  const std::string text =
      json::stringify(json::object({{"pid", d.pid}, {"url", d.url}, {"callback_url", d.callback_url}})) +
      "\n";
  const bool ok = write_all(fd, text);
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return Status(Code::kUnavailable, "cannot write " + path);
  }
  return Status::Ok();
}

void remove_daemon_file(const std::string& home, int pid) {
  std::ifstream in(home + "/serve.json");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto doc = json::parse(text);
  if (doc && json::get(*doc, "pid").isInteger() && json::get(*doc, "pid").convert<int>() == pid)
    ::unlink((home + "/serve.json").c_str());
}

std::optional<RunningDaemon> find_running_daemon(const std::string& home) {
  std::ifstream in(home + "/serve.json");
  if (!in) return std::nullopt;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto doc = json::parse(text);
  if (!doc || !json::is_object(*doc)) return std::nullopt;
  RunningDaemon d;
  Json pid = json::get(*doc, "pid");
  if (pid.isEmpty() || !pid.isInteger()) return std::nullopt;
  d.pid = pid.convert<int>();
  d.url = json::get_string(*doc, "url");
  d.callback_url = json::get_string(*doc, "callback_url");
  if (d.url.empty() || d.callback_url.empty() || !process_alive(d.pid)) return std::nullopt;
  if (read_pid(home + "/serve.pid") != d.pid) return std::nullopt;  // not the home's daemon
  return d;
}

Result<PidFile> PidFile::acquire(const std::string& path) {
  const int self = static_cast<int>(::getpid());
  const std::string tmp = path + ".tmp." + std::to_string(self);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return Status(Code::kUnavailable, "cannot write pid file " + path + ": " + std::strerror(errno));
  bool ok = write_all(fd, std::to_string(self) + "\n");
  ::close(fd);
  if (!ok) {
    ::unlink(tmp.c_str());
    return Status(Code::kUnavailable, "cannot write pid file " + path);
  }
  // Two attempts: the second after removing a stale file left by a process that is gone.
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (::link(tmp.c_str(), path.c_str()) == 0) {
      ::unlink(tmp.c_str());
      return PidFile(path, self);
    }
    if (errno != EEXIST) break;
    int holder = read_pid(path);
    if (holder != 0 && holder != self && process_alive(holder)) {
      ::unlink(tmp.c_str());
      return Status(Code::kAlreadyExists, "pid file " + path + " is held by running process " +
                                              std::to_string(holder) +
                                              "; stop it first or use another --pidfile");
    }
    log::warn("daemon", "replacing stale pid file", {{"path", path}, {"pid", std::to_string(holder)}});
    ::unlink(path.c_str());
  }
  int err = errno;
  ::unlink(tmp.c_str());
  return Status(Code::kUnavailable, "cannot create pid file " + path + ": " + std::strerror(err));
}

PidFile::PidFile(PidFile&& other) noexcept : path_(std::move(other.path_)), pid_(other.pid_) {
  other.pid_ = 0;
}

PidFile::~PidFile() {
  if (pid_ != 0 && read_pid(path_) == pid_) ::unlink(path_.c_str());
}

DetachedParent::~DetachedParent() {
  if (fd_ >= 0) ::close(fd_);
}

void DetachedParent::ready() {
  if (fd_ < 0) return;
  (void)write_all(fd_, "ok");
  ::close(fd_);
  fd_ = -1;
}

void DetachedParent::fail(const Status& s) {
  if (fd_ < 0) return;
  (void)write_all(fd_, "error:" + s.message());
  ::close(fd_);
  fd_ = -1;
}

Result<DetachedParent> detach() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    return Status(Code::kUnavailable, std::string("pipe: ") + std::strerror(errno));
  pid_t child = ::fork();
  if (child < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return Status(Code::kUnavailable, std::string("fork: ") + std::strerror(errno));
  }
  if (child > 0) {
    // The starting process: report what the daemon says, then leave without running destructors
    // or atexit handlers that belong to the daemon now.
    ::close(fds[1]);
    std::string msg;
    char buf[512];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof buf)) != 0) {
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) break;
      msg.append(buf, static_cast<std::size_t>(n));
    }
    int st = 0;
    while (::waitpid(child, &st, 0) < 0 && errno == EINTR) {
    }
    if (msg == "ok") ::_exit(0);
    std::string text = msg.rfind("error:", 0) == 0 ? msg.substr(6) : "the daemon exited before it was ready";
    text += "\n";
    (void)write_all(STDERR_FILENO, text);
    ::_exit(1);
  }
  ::close(fds[0]);
  if (::setsid() < 0) ::_exit(1);
  pid_t grandchild = ::fork();  // the session leader exits, so the daemon can never regain a terminal
  if (grandchild < 0) ::_exit(1);
  if (grandchild > 0) ::_exit(0);
  ::umask(027);
  if (::chdir("/") != 0) {
    // Not fatal: relative paths were resolved when the config was loaded.
  }
  int null = ::open("/dev/null", O_RDWR);
  if (null >= 0) {
    ::dup2(null, STDIN_FILENO);
    ::dup2(null, STDOUT_FILENO);
    ::dup2(null, STDERR_FILENO);
    if (null > STDERR_FILENO) ::close(null);
  }
  return DetachedParent(fds[1]);
}

void block_control_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

ControlSignal wait_for_signal(std::chrono::milliseconds timeout) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  ts.tv_nsec = static_cast<long>((timeout.count() % 1000) * 1000000);
  int sig = ::sigtimedwait(&set, nullptr, &ts);
  if (sig == SIGHUP) return ControlSignal::kReload;
  if (sig == SIGTERM || sig == SIGINT) return ControlSignal::kTerminate;
  return ControlSignal::kNone;
}

DirWatcher::DirWatcher(std::vector<std::string> dirs, Callback callback)
    : dirs_(std::move(dirs)), callback_(std::move(callback)), last_(scan()) {}

DirWatcher::~DirWatcher() { stop(); }

std::map<std::string, DirWatcher::Stamp> DirWatcher::scan() const {
  std::map<std::string, Stamp> out;
  for (const auto& dir : dirs_) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) continue;
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] == '.') continue;  // hidden files and editors' temp files
      std::string path = dir + "/" + e->d_name;
      struct stat st {};
      if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      out[path] = Stamp{static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec,
                        static_cast<long long>(st.st_size)};
    }
    ::closedir(d);
  }
  return out;
}

std::vector<DirWatcher::Change> DirWatcher::poll_once() {
  std::map<std::string, Stamp> now = scan();
  std::vector<Change> changes;
  for (const auto& [path, stamp] : now) {
    auto it = last_.find(path);
    if (it == last_.end())
      changes.push_back({Change::Kind::kAdded, path});
    else if (!(it->second == stamp))
      changes.push_back({Change::Kind::kChanged, path});
  }
  for (const auto& [path, stamp] : last_)
    if (!now.count(path)) changes.push_back({Change::Kind::kRemoved, path});
  last_ = std::move(now);
  if (!changes.empty() && callback_) callback_(changes);
  return changes;
}

void DirWatcher::start(std::chrono::milliseconds interval) {
  if (thread_.joinable()) return;
  thread_ = std::thread([this, interval] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, interval, [this] { return stopping_; })) {
      lock.unlock();
      try {
        poll_once();
      } catch (const std::exception& e) {
        log::error("daemon", "directory watcher callback failed", {{"error", e.what()}});
      }
      lock.lock();
    }
  });
}

void DirWatcher::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace weft::daemon
