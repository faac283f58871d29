// `weft run` of a one-step workflow, measured as a user sees it: the whole process (exec, loading
// the connectors, opening the home, the run store and the vault, one http.request to a server on
// 127.0.0.1, printing the run, exit). Target: <= 30 ms per process, cold.
//   cli_run_bench                                    # both
//   cli_run_bench --benchmark_filter=FreshHome       # a new --home every run (nothing on disk yet)
//   cli_run_bench --benchmark_filter=WarmHome        # the same --home every run (runs.db, vault exist)
// Each iteration is one child process, waited for; the time reported is wall time per process
// (UseRealTime), as a median over repetitions.
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

extern char** environ;

namespace {

namespace fs = std::filesystem;

// Answers every request with a small JSON document.
class Ok final : public Poco::Net::HTTPRequestHandler {
 public:
  void handleRequest(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& res) override {
    req.stream().ignore(1 << 20);
    res.setContentType("application/json");
    res.send() << R"({"name":"Ada","ok":true})";
  }
};

class Factory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
    return new Ok;
  }
};

// The loopback server, a scratch directory with the workflow, removed at exit.
class Fixture {
 public:
  Fixture()
      : server_(new Factory, Poco::Net::ServerSocket(Poco::Net::SocketAddress("127.0.0.1", 0)),
                new Poco::Net::HTTPServerParams) {
    server_.start();
    dir_ = fs::temp_directory_path() / ("weft-cli-run-bench-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    flow_ = (dir_ / "one.yaml").string();
    std::ofstream(flow_) << "name: one\nsteps:\n  - id: call\n    uses: http.request\n"
                            "    with: {method: GET, url: \"http://127.0.0.1:"
                         << server_.port() << "/profile\"}\n";
  }
  ~Fixture() {
    server_.stop();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  const std::string& flow() const { return flow_; }
  fs::path dir() const { return dir_; }

 private:
  Poco::Net::HTTPServer server_;
  fs::path dir_;
  std::string flow_;
};

// Runs `weft --home HOME run FLOW --json` with stdout/stderr to /dev/null; the exit code, or -1.
int run_weft(const std::string& home, const std::string& flow) {
  std::vector<std::string> args{WEFT_CLI, "--home", home, "run", flow, "--json"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, WEFT_CLI, &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return -1;
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void BM_WeftRunOneStepFreshHome(benchmark::State& state) {
  Fixture fx;
  int n = 0;
  for (auto _ : state) {
    const std::string home = (fx.dir() / ("home-" + std::to_string(n++))).string();
    if (run_weft(home, fx.flow()) != 0) {
      state.SkipWithError("weft run failed");
      break;
    }
    state.PauseTiming();
    std::error_code ec;
    fs::remove_all(home, ec);
    state.ResumeTiming();
  }
}
BENCHMARK(BM_WeftRunOneStepFreshHome)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(1.0)
    ->Repetitions(5)
    ->ReportAggregatesOnly(true);

void BM_WeftRunOneStepWarmHome(benchmark::State& state) {
  Fixture fx;
  const std::string home = (fx.dir() / "home").string();
  if (run_weft(home, fx.flow()) != 0) {  // creates the home, runs.db and the vault key once
    state.SkipWithError("weft run failed");
    return;
  }
  for (auto _ : state) {
    if (run_weft(home, fx.flow()) != 0) {
      state.SkipWithError("weft run failed");
      break;
    }
  }
}
BENCHMARK(BM_WeftRunOneStepWarmHome)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(1.0)
    ->Repetitions(5)
    ->ReportAggregatesOnly(true);

}  // namespace

BENCHMARK_MAIN();
