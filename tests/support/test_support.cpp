#include "support/test_support.hpp"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/ThreadPool.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>

namespace weft::test {

namespace {
class Dispatch : public Poco::Net::HTTPRequestHandler {
 public:
  Dispatch(const LocalServer::Handler& h, std::shared_ptr<std::atomic<int>> count) : h_(h), count_(std::move(count)) {}
  void handleRequest(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) override {
    count_->fetch_add(1);
    h_(req, resp);
  }

 private:
  const LocalServer::Handler& h_;
  std::shared_ptr<std::atomic<int>> count_;
};

class Factory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  Factory(const LocalServer::Handler& h, std::shared_ptr<std::atomic<int>> count) : h_(h), count_(std::move(count)) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
    return new Dispatch(h_, count_);  // Poco takes ownership
  }

 private:
  const LocalServer::Handler& h_;
  std::shared_ptr<std::atomic<int>> count_;
};
}  // namespace

struct LocalServer::Impl {
  Handler handler;
  Poco::ThreadPool pool;
  Poco::Net::ServerSocket socket;
  std::unique_ptr<Poco::Net::HTTPServer> server;
  Impl(Handler h, int threads) : handler(std::move(h)), pool(2, threads) {}
};

LocalServer::LocalServer(Handler handler, int max_threads)
    : requests_(std::make_shared<std::atomic<int>>(0)), impl_(std::make_unique<Impl>(std::move(handler), max_threads)) {
  impl_->socket.bind(Poco::Net::SocketAddress("127.0.0.1", 0), true);
  impl_->socket.listen(256);
  auto* params = new Poco::Net::HTTPServerParams;  // Poco takes ownership
  params->setMaxThreads(max_threads);
  params->setMaxQueued(1024);
  params->setKeepAlive(true);
  impl_->server = std::make_unique<Poco::Net::HTTPServer>(new Factory(impl_->handler, requests_), impl_->pool,
                                                          impl_->socket, params);
  impl_->server->start();
}

LocalServer::~LocalServer() {
  impl_->server->stopAll(true);
  impl_->pool.joinAll();
}

unsigned short LocalServer::port() const { return impl_->socket.address().port(); }

std::string LocalServer::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port()) + path;
}

std::string read_body(Poco::Net::HTTPServerRequest& req) {
  std::string body;
  Poco::StreamCopier::copyToString(req.stream(), body);
  return body;
}

TempDir::TempDir() {
  std::random_device rd;
  auto base = std::filesystem::temp_directory_path();
  for (int i = 0; i < 100; ++i) {
    auto p = base / ("weft-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::error_code ec;
    if (std::filesystem::create_directory(p, ec)) {
      path_ = p.string();
      return;
    }
  }
  throw std::runtime_error("cannot create a temporary directory");
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::write(const std::string& name, const std::string& content) const {
  auto p = std::filesystem::path(path_) / name;
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << content;
  return p.string();
}

namespace {
// Reads what is available on both pipes until both close or the deadline passes.
void drain(int out_fd, int err_fd, ProcessResult& r, pid_t pid, int timeout_ms, const std::string& input, int in_fd) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::size_t written = 0;
  if (input.empty() && in_fd >= 0) {
    ::close(in_fd);
    in_fd = -1;
  }
  bool out_open = true, err_open = true;
  char buf[65536];
  while (out_open || err_open) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) {
      ::kill(pid, SIGKILL);
      r.err += "\n[test_support: killed after timeout]";
      break;
    }
    pollfd fds[3];
    int n = 0;
    if (out_open) fds[n++] = {out_fd, POLLIN, 0};
    if (err_open) fds[n++] = {err_fd, POLLIN, 0};
    if (in_fd >= 0) fds[n++] = {in_fd, POLLOUT, 0};
    if (::poll(fds, n, static_cast<int>(std::min<long long>(left, 200))) < 0) continue;
    for (int i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == in_fd) {
        ssize_t w = ::write(in_fd, input.data() + written, input.size() - written);
        if (w > 0) written += static_cast<std::size_t>(w);
        if (w < 0 || written >= input.size()) {
          ::close(in_fd);
          in_fd = -1;
        }
        continue;
      }
      ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      if (got <= 0) {
        (fds[i].fd == out_fd ? out_open : err_open) = false;
      } else {
        (fds[i].fd == out_fd ? r.out : r.err).append(buf, static_cast<std::size_t>(got));
      }
    }
  }
  if (in_fd >= 0) ::close(in_fd);
}
}  // namespace

ProcessResult run_process(const std::string& program, const std::vector<std::string>& args,
                          const std::map<std::string, std::string>& env, const std::string& input, int timeout_ms) {
  int out_pipe[2], err_pipe[2], in_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0 || ::pipe2(in_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  std::vector<std::string> argv_s{program};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::dup2(in_pipe[0], 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    ::execv(program.c_str(), argv.data());
    std::fprintf(stderr, "exec %s: %s\n", program.c_str(), std::strerror(errno));
    ::_exit(127);
  }
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  ProcessResult r;
  ::signal(SIGPIPE, SIG_IGN);
  drain(out_pipe[0], err_pipe[0], r, pid, timeout_ms, input, in_pipe[1]);
  ::close(out_pipe[0]);
  ::close(err_pipe[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

ProcessResult run_weft(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
                       const std::string& input, int timeout_ms) {
  return run_process(WEFT_CLI, args, env, input, timeout_ms);
}

std::string connector_dir() { return WEFT_CONNECTOR_DIR; }
std::string source_dir() { return WEFT_SOURCE_DIR; }

}  // namespace weft::test
