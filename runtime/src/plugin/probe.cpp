#include "plugin/probe.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "plugin/registry.hpp"

extern char** environ;

namespace weft::plugin {
namespace {

constexpr std::string_view kOk = "probe-ok ";
constexpr std::string_view kRefused = "probe-refused: ";

std::string signal_name(int sig) {
  switch (sig) {
    case SIGABRT:
      return "SIGABRT";
    case SIGSEGV:
      return "SIGSEGV";
    case SIGBUS:
      return "SIGBUS";
    case SIGILL:
      return "SIGILL";
    case SIGFPE:
      return "SIGFPE";
    case SIGKILL:
      return "SIGKILL";
    case SIGTERM:
      return "SIGTERM";
    case SIGTRAP:
      return "SIGTRAP";
    default:
      return "signal";
  }
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The child's verdict line, or a short tail of whatever it printed.
std::string reason_from(const std::string& output, int code) {
  std::istringstream lines(output);
  std::string line;
  std::string last;
  while (std::getline(lines, line)) {
    if (line.rfind(kRefused, 0) == 0) return line.substr(kRefused.size());
    if (!line.empty()) last = line;
  }
  std::string r = "connector probe exited with status " + std::to_string(code);
  if (!last.empty()) r += ": " + last.substr(0, 300);
  return r + "; refused";
}

struct Child {
  pid_t pid = -1;
  std::string out_path;
  bool done = false;
  Status status;
};

}  // namespace

int probe_main(const std::string& file, std::ostream& out) {
  // A crash here is expected and reported by the parent; no core file for it.
  struct rlimit no_core {
    0, 0
  };
  setrlimit(RLIMIT_CORE, &no_core);
  Registry registry(nullptr);
  LoadOutcome r = registry.load_file(file, LoadOptions{false, "", {}, false});
  if (!r.status.ok()) {
    std::string reason = r.status.message();
    const std::string prefix = file + ": ";
    if (reason.rfind(prefix, 0) == 0) reason.erase(0, prefix.size());
    out << kRefused << reason << std::endl;
    return 1;
  }
  out << kOk << r.id << " " << r.version << std::endl;
  return 0;
}

namespace {

// The child's environment: the daemon's own. In an AddressSanitizer build the sanitizer's signal
// handlers would turn a connector's crash into a report and exit status 1; the probe must see the
// signal itself to name it, so the child is told to leave those signals alone.
std::vector<std::string> child_environment() {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) env.emplace_back(*e);
#if defined(__SANITIZE_ADDRESS__)
  constexpr const char* kLeaveSignals = "handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_abort=0";
  bool found = false;
  for (auto& v : env) {
    if (v.rfind("ASAN_OPTIONS=", 0) == 0) {
      v += std::string(":") + kLeaveSignals;
      found = true;
    }
  }
  if (!found) env.emplace_back(std::string("ASAN_OPTIONS=") + kLeaveSignals);
#endif
  return env;
}

}  // namespace

std::vector<Status> probe_files(const std::vector<ProbeFile>& files, const ProbeOptions& options) {
  std::vector<Status> result(files.size());
  if (options.command.empty() || files.empty()) return result;
  std::vector<std::string> env_strings = child_environment();
  std::vector<char*> envp;
  for (auto& v : env_strings) envp.push_back(v.data());
  envp.push_back(nullptr);
  std::vector<Child> children(files.size());
  static std::atomic<unsigned> seq{0};

  for (std::size_t i = 0; i < files.size(); ++i) {
    Child& c = children[i];
    c.out_path = (std::filesystem::path(options.scratch_dir.empty() ? "/tmp" : options.scratch_dir) /
                  ("probe-" + std::to_string(getpid()) + "-" + std::to_string(seq++) + ".out"))
                     .string();
    std::vector<std::string> args = options.command;
    args.push_back(files[i].image);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, c.out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    // The daemon blocks its control signals; the child starts with none blocked and default
    // dispositions.
    sigset_t none;
    sigemptyset(&none);
    sigset_t all;
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    const int rc = posix_spawn(&c.pid, argv[0], &fa, &attr, argv.data(), envp.data());
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
      c.done = true;
      c.status = Status(Code::kFailedPrecondition, files[i].name + ": cannot start the connector probe " +
                                                       options.command.front() + ": " + std::strerror(rc));
    }
  }

  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  const auto secs = std::chrono::duration<double>(options.timeout).count();
  std::ostringstream limit;
  limit << secs;
  for (;;) {
    bool pending = false;
    const bool late = std::chrono::steady_clock::now() >= deadline;
    for (std::size_t i = 0; i < files.size(); ++i) {
      Child& c = children[i];
      if (c.done) continue;
      int ws = 0;
      pid_t w = waitpid(c.pid, &ws, WNOHANG);
      if (w == 0 && late) {
        kill(c.pid, SIGKILL);
        waitpid(c.pid, &ws, 0);
        c.status =
            Status(Code::kFailedPrecondition,
                   files[i].name + ": connector init did not return within " + limit.str() + " s; refused");
        c.done = true;
        continue;
      }
      if (w == 0) {
        pending = true;
        continue;
      }
      c.done = true;
      if (w < 0) {
        c.status = Status(Code::kFailedPrecondition,
                          files[i].name + ": connector probe lost: " + std::string(std::strerror(errno)));
      } else if (WIFSIGNALED(ws)) {
        const int sig = WTERMSIG(ws);
        c.status = Status(Code::kFailedPrecondition, files[i].name + ": connector init crashed (signal " +
                                                         std::to_string(sig) + " " + signal_name(sig) +
                                                         "); refused");
      } else if (WIFEXITED(ws) && WEXITSTATUS(ws) != 0) {
        c.status = Status(Code::kFailedPrecondition,
                          files[i].name + ": " + reason_from(read_all(c.out_path), WEXITSTATUS(ws)));
      }
    }
    if (!pending) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  for (std::size_t i = 0; i < files.size(); ++i) {
    std::error_code ec;
    std::filesystem::remove(children[i].out_path, ec);
    result[i] = children[i].status;
  }
  return result;
}

}  // namespace weft::plugin
