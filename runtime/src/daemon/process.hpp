// process.hpp — running as a service: detaching, the pid file, control signals, and watching the
// connectors and workflows directories for changes.
//
//   block_control_signals();                         // before any thread starts
//   auto pid = PidFile::acquire("/run/weft.pid");    // already_exists when a live weft holds it
//   while (true) switch (wait_for_signal(1s)) { case ControlSignal::kReload: ...; case kTerminate: ... }
//
// Why not Poco::Util::ServerApplication: its --daemon forks and lets the parent exit 0 before the
// child has bound its port or read its config, so `weft serve --daemon` could never report "address
// already in use"; it brings its own option parser next to cli::Registrar; and its
// waitForTerminationRequest() knows no SIGHUP. The pieces below are the few lines it would have saved.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/status.hpp"

namespace weft::daemon {

// A pid file owned by this process: created atomically (written to a temp file, then link()ed into
// place, so no reader sees a partial pid), removed on destruction if it still names this process.
class PidFile {
 public:
  // already_exists "… is held by running process N" when the file names a live process; a stale
  // file (its process is gone) is replaced. unavailable when the file cannot be written.
  static Result<PidFile> acquire(const std::string& path);
  PidFile(PidFile&& other) noexcept;
  PidFile& operator=(PidFile&&) = delete;
  PidFile(const PidFile&) = delete;
  ~PidFile();
  const std::string& path() const { return path_; }

 private:
  PidFile(std::string path, int pid) : path_(std::move(path)), pid_(pid) {}
  std::string path_;
  int pid_ = 0;
};

// <home>/serve.json: how other processes of the same home reach the running daemon. Written by
// serve() once the port is bound ({"pid", "url": "http://HOST:PORT", "callback_url"}), removed on a
// clean stop. `weft connections authorize` reads it to finish an authorization through the daemon.
struct RunningDaemon {
  int pid = 0;
  std::string url;           // the listen address as a base URL (a wildcard host as loopback)
  std::string callback_url;  // <public_url or url>/oauth/callback
};
// Written atomically (temp file + rename), mode 0600.
Status write_daemon_file(const std::string& home, const RunningDaemon& d);
void remove_daemon_file(const std::string& home, int pid);
// The daemon serving home, when serve.json names a live process that also holds <home>/serve.pid;
// nullopt otherwise (none started, stopped, killed, or the files disagree).
std::optional<RunningDaemon> find_running_daemon(const std::string& home);

// The detached daemon's line back to the terminal that started it.
class DetachedParent {
 public:
  explicit DetachedParent(int fd) : fd_(fd) {}
  DetachedParent(DetachedParent&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  DetachedParent(const DetachedParent&) = delete;
  ~DetachedParent();
  // The starting process exits 0. Call once the daemon listens.
  void ready();
  // The starting process prints the message to stderr and exits 1.
  void fail(const Status& s);

 private:
  int fd_;
};

// Double fork + setsid; stdin/stdout/stderr go to /dev/null in the daemon (log to a file or journald
// via the config). Returns only in the daemon process; the calling process waits until the daemon
// calls ready() or fail() (or dies) and exits with 0 / 1. unavailable when fork fails (the caller
// keeps running). Call before starting threads: fork keeps only the calling thread.
Result<DetachedParent> detach();

enum class ControlSignal { kNone, kTerminate, kReload };

// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread; threads started afterwards inherit the
// mask, so the signals wait for wait_for_signal instead of killing the process.
void block_control_signals();
// Waits up to timeout for a blocked control signal: SIGTERM/SIGINT → kTerminate, SIGHUP → kReload.
ControlSignal wait_for_signal(std::chrono::milliseconds timeout);

// Polls directories (not recursively) for added, changed (mtime or size) and removed files and
// reports each batch of changes to a callback. Polling, not inotify: it also works on network and
// bind-mounted directories, and a change every second is plenty for deploying workflows.
class DirWatcher {
 public:
  struct Change {
    enum class Kind { kAdded, kChanged, kRemoved } kind;
    std::string path;
  };
  using Callback = std::function<void(const std::vector<Change>&)>;

  // Takes the first snapshot now (existing files are not reported as added). Missing directories
  // are watched until they appear.
  DirWatcher(std::vector<std::string> dirs, Callback callback);
  ~DirWatcher();  // stops the thread
  DirWatcher(const DirWatcher&) = delete;
  DirWatcher& operator=(const DirWatcher&) = delete;

  // Starts a thread calling poll_once() every interval.
  void start(std::chrono::milliseconds interval);
  void stop();
  // Scans once and calls the callback when something changed; returns the changes. Not to be called
  // concurrently with itself (the thread, or a test).
  std::vector<Change> poll_once();

 private:
  struct Stamp {
    long long mtime_ns = 0;
    long long size = 0;
    bool operator==(const Stamp&) const = default;
  };
  std::map<std::string, Stamp> scan() const;

  std::vector<std::string> dirs_;
  Callback callback_;
  std::map<std::string, Stamp> last_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace weft::daemon
