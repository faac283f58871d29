// `weft serve` end to end: the real binary on 127.0.0.1 with the real engine, the built http
// connector calling a test::LocalServer, the run store under a TempDir home.
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Pipe.h>
#include <Poco/PipeStream.h>
#include <Poco/Process.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "core/json.hpp"
#include "daemon/security.hpp"
#include "sandbox.hpp"
#include "support/test_support.hpp"

namespace weft {
namespace {

unsigned short free_port() {
  Poco::Net::ServerSocket s(Poco::Net::SocketAddress("127.0.0.1", 0));
  return s.address().port();
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

template <class F>
bool eventually(F f, int tries = 1000) {
  for (int i = 0; i < tries; ++i) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

struct Reply {
  int status = 0;  // 0: no answer (not listening)
  std::string body;
  Json json() const {
    auto j = json::parse(body);
    return j ? *j : Json();
  }
};

Reply call(unsigned short port, const std::string& method, const std::string& path,
           const std::string& token = "", const std::string& body = "",
           const std::map<std::string, std::string>& headers = {}) {
  try {
    Poco::Net::HTTPClientSession session("127.0.0.1", port);
    session.setTimeout(Poco::Timespan(20, 0));
    Poco::Net::HTTPRequest req(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    if (!token.empty()) req.set("Authorization", "Bearer " + token);
    for (const auto& [k, v] : headers) req.set(k, v);
    if (!body.empty() || method == "POST") {
      req.setContentType("application/json");
      req.setContentLength(static_cast<std::streamsize>(body.size()));
    }
    session.sendRequest(req) << body;
    Poco::Net::HTTPResponse resp;
    Reply r;
    Poco::StreamCopier::copyToString(session.receiveResponse(resp), r.body);
    r.status = resp.getStatus();
    return r;
  } catch (const std::exception&) {
    return {};
  }
}

// `weft serve` in a child process, stdout/stderr into files.
class ServeProcess {
 public:
  ServeProcess(const std::string& home, const std::string& config, const std::string& logs)
      : err_path_(logs + "/serve.err") {
    pid_ = ::fork();
    if (pid_ == 0) {
      int fd = ::open(err_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      ::dup2(fd, 2);
      ::dup2(fd, 1);
      ::execl(WEFT_CLI, WEFT_CLI, "--home", home.c_str(), "serve", "--config", config.c_str(), nullptr);
      ::_exit(127);
    }
  }
  ~ServeProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  // Sends sig and waits (bounded) for the exit; the exit code, 128+signal when killed, -1 on timeout.
  int stop(int sig) {
    ::kill(pid_, sig);
    for (int i = 0; i < 3000; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }
  std::string log() const { return slurp(err_path_); }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  std::string err_path_;
};

// A home, a workflows directory and a config with an ephemeral port.
struct DaemonDir {
  test::TempDir dir;
  unsigned short port = free_port();
  std::string home = dir.path() + "/home";
  std::string config;
  explicit DaemonDir(const std::string& extra = "drain_timeout: 10s\n") {
    config = dir.write("weft.yaml", "listen: 127.0.0.1:" + std::to_string(port) +
                                        "\nhome: home\nworkflows: flows\nconnectors: [" +
                                        test::connector_dir() + "]\n" + extra);
    dir.write("flows/.keep", "");
  }
  std::unique_ptr<ServeProcess> start() {
    auto p = std::make_unique<ServeProcess>(home, config, dir.path());
    bool up = eventually([&] { return call(port, "GET", "/healthz").status == 200; });
    EXPECT_TRUE(up) << p->log();
    return p;
  }
  std::string token() const {
    std::string t = slurp(home + "/admin.token");
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
    return t;
  }
};

std::string http_workflow(const std::string& name, const std::string& url, const std::string& on,
                          const std::string& extra = "") {
  return "name: " + name + "\n" + extra + "on:\n" + on +
         "steps:\n"
         "  - id: fetch\n"
         "    uses: http.request\n"
         "    with:\n"
         "      method: GET\n"
         "      url: " +
         url +
         "\n"
         "      query:\n"
         "        who: ${{ trigger.body.who }}\n";
}

TEST(ServeE2E, BadConfigIsOneClearErrorNamingTheLineAndExitsOne) {
  test::TempDir dir;
  std::string cfg = dir.write("weft.yaml", "listen: 127.0.0.1:8080\nworkers: many\n");
  auto r = test::run_weft({"--home", dir.path() + "/home", "serve", "--config", cfg}, {}, "", 20000);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("weft.yaml:2:10"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST(ServeE2E, WebhookRunsTheHttpActionRecordsTheRunAndSigtermExitsZero) {
  test::LocalServer upstream([](Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) {
    resp.setContentType("application/json");
    resp.send() << R"({"hello":")" << Poco::URI(req.getURI()).getRawQuery() << R"("})";
  });
  DaemonDir s;
  s.dir.write("flows/greet.yaml", http_workflow("greet", upstream.url("/greet"), "  webhook: {}\n"));
  s.dir.write("flows/signed.yaml",
              http_workflow("signed", upstream.url("/signed"), "  webhook:\n    secret: s3cr3t\n"));
  s.dir.write("flows/broken.yaml", "name: broken\nsteps: 3\n");
  auto daemon = s.start();
  const std::string token = s.token();
  ASSERT_EQ(token.size(), 64u);

  EXPECT_EQ(call(s.port, "GET", "/v1/workflows").status, 401);
  EXPECT_EQ(call(s.port, "GET", "/v1/workflows", std::string(64, '0')).status, 401);
  Reply wfs = call(s.port, "GET", "/v1/workflows", token);
  ASSERT_EQ(wfs.status, 200) << wfs.body;
  EXPECT_NE(wfs.body.find("\"greet\""), std::string::npos) << wfs.body;
  EXPECT_NE(wfs.body.find("\"signed\""), std::string::npos) << wfs.body;
  EXPECT_EQ(wfs.body.find("\"broken\""), std::string::npos) << wfs.body;
  Reply connectors = call(s.port, "GET", "/v1/connectors", token);
  EXPECT_NE(connectors.body.find("\"http.request\""), std::string::npos) << connectors.body;

  Reply run = call(s.port, "POST", "/hooks/greet", "", R"({"who":"ada"})");
  ASSERT_EQ(run.status, 200) << run.body << daemon->log();
  EXPECT_EQ(json::get_string(run.json(), "status"), "succeeded") << run.body;
  EXPECT_NE(run.body.find(R"("hello":"who=ada")"), std::string::npos) << run.body;
  EXPECT_EQ(upstream.requests(), 1);

  const std::string id = json::get_string(run.json(), "id");
  Reply one = call(s.port, "GET", "/v1/runs/" + id, token);
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_NE(one.body.find(R"("id":"fetch")"), std::string::npos) << one.body;
  Reply list = call(s.port, "GET", "/v1/runs?workflow=greet", token);
  EXPECT_NE(list.body.find(id), std::string::npos) << list.body;

  // The signed workflow: a wrong signature is 401 and runs nothing; the right one runs.
  const std::string body = R"({"who":"bob"})";
  EXPECT_EQ(call(s.port, "POST", "/hooks/signed", "", body, {{"X-Weft-Signature", "sha256=00"}}).status, 401);
  EXPECT_EQ(call(s.port, "POST", "/hooks/signed", "", body).status, 401);
  EXPECT_EQ(upstream.requests(), 1);
  Reply ok = call(s.port, "POST", "/hooks/signed", "", body,
                  {{"X-Weft-Signature", "sha256=" + daemon::hmac_sha256_hex("s3cr3t", body)}});
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(upstream.requests(), 2);

  // A second daemon on the same home is refused before it touches anything.
  auto second = test::run_weft({"--home", s.home, "serve", "--config", s.config}, {}, "", 20000);
  EXPECT_EQ(second.exit_code, 1) << second.err;
  EXPECT_NE(second.err.find("another weft serve is using home"), std::string::npos) << second.err;

  // The OAuth callback checks state before anything else: an unknown one is 403.
  Reply cb = call(s.port, "GET", "/oauth/callback?code=abc&state=forged");
  EXPECT_EQ(cb.status, 403) << cb.body;

  // A workflow file added while running is picked up by the directory watcher.
  s.dir.write("flows/late.yaml", http_workflow("late", upstream.url("/late"), "  webhook: {}\n"));
  EXPECT_TRUE(eventually([&] {
    return call(s.port, "GET", "/v1/workflows", token).body.find("\"late\"") != std::string::npos;
  })) << daemon->log();
  EXPECT_EQ(call(s.port, "POST", "/hooks/late", "", R"({"who":"cy"})").status, 200);

  Reply metrics = call(s.port, "GET", "/metrics", token);
  EXPECT_NE(metrics.body.find("weft_runs_total{status=\"succeeded\"} 3"), std::string::npos) << metrics.body;
  {
    // Every connector .so of the build's connector directory is loaded.
    std::size_t built = 0;
    for (const auto& entry : std::filesystem::directory_iterator(test::connector_dir())) {
      if (entry.path().extension() == ".so") ++built;
    }
    EXPECT_NE(metrics.body.find("weft_connectors_loaded " + std::to_string(built) + "\n"), std::string::npos)
        << metrics.body;
  }
  EXPECT_NE(metrics.body.find("weft_step_duration_seconds_count{connector=\"http\",action=\"request\"} 3"),
            std::string::npos)
      << metrics.body;

  EXPECT_EQ(daemon->stop(SIGTERM), 0) << daemon->log();
  const std::string log = daemon->log();
  EXPECT_NE(log.find("broken.yaml"), std::string::npos) << log;
  EXPECT_EQ(log.find(token), std::string::npos) << "the admin token was logged";
}

TEST(ServeE2E, RunsKilledMidStepAreResumedOrMarkedInterruptedOnRestart) {
  // The upstream holds the first request of each path until released, so the daemon is killed
  // while both runs are inside their step.
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> held{0};
  test::LocalServer upstream([&](Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) {
    static std::atomic<int> seen_resume{0}, seen_plain{0};
    const bool first = req.getURI().find("/resume") == 0 ? seen_resume++ == 0 : seen_plain++ == 0;
    if (first) {
      ++held;
      std::unique_lock<std::mutex> lk(mu);
      cv.wait_for(lk, std::chrono::seconds(20), [&] { return release; });
    }
    resp.setContentType("application/json");
    resp.send() << R"({"ok":true})";
  });
  DaemonDir s;
  s.dir.write("flows/resumable.yaml", http_workflow("resumable", upstream.url("/resume"),
                                                    "  webhook:\n    async: true\n", "resume: true\n"));
  s.dir.write("flows/plain.yaml",
              http_workflow("plain", upstream.url("/plain"), "  webhook:\n    async: true\n"));
  std::string resumable_id, plain_id;
  {
    auto daemon = s.start();
    Reply a = call(s.port, "POST", "/hooks/resumable", "", R"({"who":"x"})");
    Reply b = call(s.port, "POST", "/hooks/plain", "", R"({"who":"y"})");
    ASSERT_EQ(a.status, 202) << a.body;
    ASSERT_EQ(b.status, 202) << b.body;
    resumable_id = json::get_string(a.json(), "id");
    plain_id = json::get_string(b.json(), "id");
    ASSERT_TRUE(eventually([&] { return held.load() == 2; })) << daemon->log();
    EXPECT_EQ(daemon->stop(SIGKILL), 128 + SIGKILL);
  }
  {
    std::lock_guard<std::mutex> lk(mu);
    release = true;
  }
  cv.notify_all();

  auto daemon = s.start();
  const std::string token = s.token();
  auto status_of = [&](const std::string& id) {
    return json::get_string(call(s.port, "GET", "/v1/runs/" + id, token).json(), "status");
  };
  EXPECT_TRUE(eventually([&] { return status_of(resumable_id) == "succeeded"; })) << status_of(resumable_id);
  EXPECT_EQ(status_of(plain_id), "interrupted");
  Reply plain = call(s.port, "GET", "/v1/runs/" + plain_id, token);
  EXPECT_NE(plain.body.find("resume: true"), std::string::npos) << plain.body;
  EXPECT_EQ(daemon->stop(SIGTERM), 0) << daemon->log();
}

// Peak resident memory of a process in kB (VmHWM), 0 when unreadable.
long peak_rss_kb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  return 0;
}

// Sends `total` bytes of body after the headers until the server stops reading; what it answered.
// chunked: each 64 KiB piece is framed as one chunk.
std::string push_body(unsigned short port, const std::string& head, std::size_t total, bool chunked = false) {
  Poco::Net::StreamSocket sock(Poco::Net::SocketAddress("127.0.0.1", port));
  sock.setSendTimeout(Poco::Timespan(10, 0));
  sock.setReceiveTimeout(Poco::Timespan(10, 0));
  sock.sendBytes(head.data(), static_cast<int>(head.size()));
  const std::string piece(64 * 1024, 'x');
  const std::string chunk = chunked ? "10000\r\n" + piece + "\r\n" : piece;
  try {
    for (std::size_t sent = 0; sent < total; sent += chunk.size())
      sock.sendBytes(chunk.data(), static_cast<int>(chunk.size()));
  } catch (const Poco::Exception&) {
    // The server answered and closed: the rest is not read, as intended.
  }
  std::string answer;
  char buf[4096];
  try {
    int n = 0;
    while ((n = sock.receiveBytes(buf, sizeof buf)) > 0) answer.append(buf, static_cast<std::size_t>(n));
  } catch (const Poco::Exception&) {
  }
  return answer;
}

TEST(ServeE2E, HundredMegabyteBodiesAre413AndSlowClientsDoNotGrowMemoryOrStopTheDaemon) {
  test::LocalServer upstream([](Poco::Net::HTTPServerRequest&, Poco::Net::HTTPServerResponse& resp) {
    resp.setContentType("application/json");
    resp.send() << "{}";
  });
  DaemonDir s;
  s.dir.write("flows/greet.yaml", http_workflow("greet", upstream.url("/greet"), "  webhook: {}\n"));
  auto daemon = s.start();
  const long before = peak_rss_kb(daemon->pid());
  ASSERT_GT(before, 0);

  constexpr std::size_t k100MB = 100u * 1024 * 1024;
  std::string a = push_body(s.port,
                            "POST /hooks/greet HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            "Content-Length: " +
                                std::to_string(k100MB) + "\r\n\r\n",
                            k100MB);
  EXPECT_EQ(a.rfind("HTTP/1.1 413", 0), 0u) << a.substr(0, 200);
  // Chunked: no length up front, refused once past the limit.
  std::string b = push_body(s.port,
                            "POST /hooks/greet HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            "Transfer-Encoding: chunked\r\n\r\n",
                            k100MB, true);
  EXPECT_EQ(b.rfind("HTTP/1.1 413", 0), 0u) << b.substr(0, 200);

  // 1,000 clients that connect and send half a request line, then nothing.
  std::vector<Poco::Net::StreamSocket> slow;
  for (int i = 0; i < 1000; ++i) {
    try {
      slow.emplace_back(Poco::Net::SocketAddress("127.0.0.1", s.port));
      slow.back().sendBytes("GET /hea", 8);
    } catch (const Poco::Exception&) {
      // A refused connection is a bounded server too.
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const long during = peak_rss_kb(daemon->pid());
  slow.clear();

  // The daemon is still there and serves once the slow clients are gone.
  EXPECT_TRUE(eventually([&] { return call(s.port, "GET", "/healthz").status == 200; }, 3000))
      << daemon->log();
  Reply run = call(s.port, "POST", "/hooks/greet", "", R"({"who":"z"})");
  EXPECT_EQ(json::get_string(run.json(), "status"), "succeeded") << run.body;
  EXPECT_EQ(upstream.requests(), 1);
  // Neither 2 x 100 MB nor 1,000 connections show up in memory: the peak grew by less than 32 MB.
  EXPECT_LT(during - before, 32 * 1024) << "peak RSS before " << before << " kB, after " << during << " kB";
  EXPECT_EQ(daemon->stop(SIGTERM), 0) << daemon->log();
}

TEST(ServeE2E, SigtermFinishesTheRunsInFlightThenExitsZero) {
  std::atomic<int> arrived{0};
  test::LocalServer upstream([&](Poco::Net::HTTPServerRequest&, Poco::Net::HTTPServerResponse& resp) {
    ++arrived;
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    resp.setContentType("application/json");
    resp.send() << "{}";
  });
  DaemonDir s;
  s.dir.write("flows/sync.yaml", http_workflow("sync", upstream.url("/s"), "  webhook: {}\n"));
  s.dir.write("flows/bg.yaml", http_workflow("bg", upstream.url("/b"), "  webhook:\n    async: true\n"));
  auto daemon = s.start();
  Reply async = call(s.port, "POST", "/hooks/bg", "", R"({"who":"b"})");
  ASSERT_EQ(async.status, 202) << async.body;
  Reply sync;
  std::thread caller([&] { sync = call(s.port, "POST", "/hooks/sync", "", R"({"who":"s"})"); });
  ASSERT_TRUE(eventually([&] { return arrived.load() == 2; })) << daemon->log();
  const int code = daemon->stop(SIGTERM);
  caller.join();
  EXPECT_EQ(code, 0) << daemon->log();
  EXPECT_EQ(sync.status, 200) << sync.body;
  EXPECT_EQ(json::get_string(sync.json(), "status"), "succeeded") << sync.body;

  // Restarted: the async run finished before the exit, so nothing is left to resume.
  auto again = s.start();
  Reply bg = call(s.port, "GET", "/v1/runs/" + json::get_string(async.json(), "id"), s.token());
  EXPECT_EQ(json::get_string(bg.json(), "status"), "succeeded") << bg.body;
  EXPECT_EQ(again->stop(SIGTERM), 0);
}

TEST(ServeE2E, ANewConnectorIsPickedUpWithoutARestartAndBadOnesAreRefused) {
  DaemonDir s;
  const std::string extra = s.dir.path() + "/extra";
  s.dir.write("extra/.keep", "");
  s.config = s.dir.write("weft.yaml", "listen: 127.0.0.1:" + std::to_string(s.port) +
                                          "\nhome: home\nworkflows: flows\nconnectors: [" + extra + "]\n");
  auto daemon = s.start();
  const std::string token = s.token();

  // A plugin that breaks the contract, then a good one, then a workflow that uses the good one.
  std::filesystem::copy_file(std::string(PLUGIN_FIXTURE_DIR) + "/abi_major.so", extra + "/abi_major.so");
  std::filesystem::copy_file(std::string(PLUGIN_FIXTURE_DIR) + "/entry_throws.so",
                             extra + "/entry_throws.so");
  std::filesystem::copy_file(std::string(PLUGIN_FIXTURE_DIR) + "/good.so", extra + "/good.so");
  s.dir.write("flows/echo.yaml",
              "name: echo\non:\n  webhook: {}\nsteps:\n  - id: e\n    uses: good.echo\n    with:\n"
              "      text: ${{ trigger.body.text }}\n");
  ASSERT_TRUE(eventually([&] {
    return call(s.port, "GET", "/v1/workflows", token).body.find("\"echo\"") != std::string::npos;
  })) << daemon->log();
  Reply run = call(s.port, "POST", "/hooks/echo", "", R"({"text":"hi"})");
  EXPECT_EQ(json::get_string(run.json(), "status"), "succeeded") << run.body;
  EXPECT_NE(run.body.find(R"("output":{"text":"hi")"), std::string::npos) << run.body;
  EXPECT_NE(call(s.port, "GET", "/v1/connectors", token).body.find("\"good.echo\""), std::string::npos);

  EXPECT_EQ(call(s.port, "GET", "/healthz").status, 200);
  EXPECT_EQ(daemon->stop(SIGTERM), 0) << daemon->log();
  const std::string log = daemon->log();
  EXPECT_NE(log.find("abi_major.so"), std::string::npos) << log;
  EXPECT_NE(log.find("entry_throws.so"), std::string::npos) << log;
}

// A daemon whose config watches `extra` besides the built connectors.
struct WatchedDir : DaemonDir {
  std::string extra = dir.path() + "/extra";
  WatchedDir() {
    dir.write("extra/.keep", "");
    config = dir.write("weft.yaml", "listen: 127.0.0.1:" + std::to_string(port) +
                                        "\nhome: home\nworkflows: flows\nconnectors: [" +
                                        test::connector_dir() + ", " + extra + "]\ndrain_timeout: 10s\n");
  }
  void drop(const std::string& fixture, const std::string& as) const {
    std::filesystem::copy_file(std::string(PLUGIN_FIXTURE_DIR) + "/" + fixture + ".so", extra + "/" + as,
                               std::filesystem::copy_options::overwrite_existing);
  }
};

// Log lines holding `what` (and `also`, when given).
std::size_t occurrences(const std::string& log, const std::string& what, const std::string& also = "") {
  std::istringstream lines(log);
  std::size_t n = 0;
  for (std::string line; std::getline(lines, line);)
    if (line.find(what) != std::string::npos && line.find(also) != std::string::npos) ++n;
  return n;
}

Json connector_entry(unsigned short port, const std::string& token, const std::string& id) {
  auto list = json::as_array(call(port, "GET", "/v1/connectors", token).json());
  for (std::size_t i = 0; !list.isNull() && i < list->size(); ++i)
    if (json::get_string(list->get(i), "id") == id) return list->get(i);
  return Json();
}

std::string step_version(const Json& run, std::size_t step) {
  auto steps = json::as_array(json::get(run, "steps"));
  if (steps.isNull() || steps->size() <= step) return "";
  return json::get_string(json::get(steps->get(step), "output"), "version");
}

TEST(ServeE2E, ANewConnectorVersionServesNewRunsWhileARunInFlightFinishesOnTheOld) {
  WatchedDir s;
  s.drop("versions/versioned_v1", "versioned.so");
  s.dir.write("flows/ver.yaml",
              "name: ver\non:\n  webhook: {}\nsteps:\n  - id: v\n    uses: versioned.version\n");
  // Blocks in the connector until the gate file exists, then asks the version again.
  s.dir.write(
      "flows/hold.yaml",
      "name: hold\non:\n  webhook:\n    async: true\nsteps:\n  - id: wait\n    uses: versioned.wait\n"
      "    with:\n      path: ${{ trigger.body.gate }}\n  - id: after\n    uses: versioned.version\n");
  auto daemon = s.start();
  const std::string token = s.token();
  ASSERT_EQ(json::get_string(connector_entry(s.port, token, "versioned"), "version"), "1.0.0")
      << daemon->log();
  EXPECT_EQ(step_version(call(s.port, "POST", "/hooks/ver", "", "{}").json(), 0), "1.0.0");

  const std::string gate = s.dir.path() + "/gate";
  Reply held = call(s.port, "POST", "/hooks/hold", "", R"({"gate":")" + gate + R"("})");
  ASSERT_EQ(held.status, 202) << held.body;
  const std::string held_id = json::get_string(held.json(), "id");
  ASSERT_TRUE(eventually([&] {
    auto steps = json::as_array(json::get(call(s.port, "GET", "/v1/runs/" + held_id, token).json(), "steps"));
    return !steps.isNull() && json::get_string(steps->get(0), "status") == "running";
  })) << daemon->log();

  // v2 arrives as a new file; the watcher reloads.
  s.drop("versions/versioned_v2", "versioned-1.1.so");
  ASSERT_TRUE(eventually([&] {
    return json::get_string(connector_entry(s.port, token, "versioned"), "version") == "1.1.0";
  })) << daemon->log();
  Json entry = connector_entry(s.port, token, "versioned");
  EXPECT_EQ(json::get_string(entry, "path"), s.extra + "/versioned-1.1.so");
  auto draining = json::as_array(json::get(entry, "draining"));
  ASSERT_FALSE(draining.isNull());
  ASSERT_EQ(draining->size(), 1u) << json::stringify(entry);
  EXPECT_EQ(json::get_string(draining->get(0), "version"), "1.0.0");
  EXPECT_EQ(step_version(call(s.port, "POST", "/hooks/ver", "", "{}").json(), 0), "1.1.0");

  // The held run is released: both of its steps ran on 1.0.0, and then 1.0.0 is unloaded.
  std::ofstream(gate) << "go";
  Json done;
  ASSERT_TRUE(eventually([&] {
    done = call(s.port, "GET", "/v1/runs/" + held_id, token).json();
    return json::get_string(done, "status") == "succeeded";
  })) << daemon->log();
  EXPECT_EQ(step_version(done, 0), "1.0.0") << json::stringify(done);
  EXPECT_EQ(step_version(done, 1), "1.0.0") << json::stringify(done);
  ASSERT_TRUE(eventually([&] {
    return daemon->log().find("connector unloaded after draining") != std::string::npos;
  })) << daemon->log();
  EXPECT_EQ(json::as_array(json::get(connector_entry(s.port, token, "versioned"), "draining"))->size(), 0u);

  // Overwritten in place (cp over the loaded file): picked up too, here going back to 1.0.0.
  s.drop("versions/versioned_v1", "versioned-1.1.so");
  ASSERT_TRUE(eventually([&] {
    return json::get_string(connector_entry(s.port, token, "versioned"), "version") == "1.0.0";
  })) << daemon->log();
  EXPECT_EQ(step_version(call(s.port, "POST", "/hooks/ver", "", "{}").json(), 0), "1.0.0");

  EXPECT_EQ(call(s.port, "GET", "/healthz").status, 200);
  EXPECT_EQ(daemon->stop(SIGTERM), 0) << daemon->log();
  const std::string log = daemon->log();
  EXPECT_EQ(occurrences(log, "connector 'versioned' 1.0.0 -> 1.1.0 loaded from " + s.extra +
                                 "/versioned-1.1.so; previous version drains (1 runs)"),
            1u)
      << log;
  EXPECT_EQ(occurrences(log, "connector 'versioned' 1.1.0 -> 1.0.0 loaded from " + s.extra +
                                 "/versioned-1.1.so; previous version drains (0 runs)"),
            1u)
      << log;
}

TEST(ServeE2E, ConnectorsWhoseInitAbortsCrashesOrHangsAreRefusedAndTheDaemonStaysUp) {
  ::setenv("WEFT_CONNECTOR_PROBE_TIMEOUT_MS", "1000", 1);
  WatchedDir s;
  auto daemon = s.start();
  ::unsetenv("WEFT_CONNECTOR_PROBE_TIMEOUT_MS");
  const std::string token = s.token();
  s.drop("crashing/entry_aborts", "entry_aborts.so");
  s.drop("crashing/entry_segfaults", "entry_segfaults.so");
  s.drop("crashing/entry_hangs", "entry_hangs.so");
  s.drop("good", "good.so");
  ASSERT_TRUE(eventually([&] { return !connector_entry(s.port, token, "good").isEmpty(); })) << daemon->log();
  // Another reload (a workflow file changes): unchanged refused files are neither probed nor logged again.
  s.dir.write("flows/echo.yaml",
              "name: echo\non:\n  webhook: {}\nsteps:\n  - id: e\n    uses: good.echo\n"
              "    with:\n      text: hi\n");
  ASSERT_TRUE(eventually([&] {
    return call(s.port, "GET", "/v1/workflows", token).body.find("\"echo\"") != std::string::npos;
  })) << daemon->log();
  Reply run = call(s.port, "POST", "/hooks/echo", "", "{}");
  EXPECT_EQ(json::get_string(run.json(), "status"), "succeeded") << run.body;
  Reply reload = call(s.port, "POST", "/v1/reload", token);
  EXPECT_EQ(reload.status, 200) << reload.body;
  EXPECT_NE(reload.body.find("entry_aborts.so"), std::string::npos) << reload.body;

  EXPECT_EQ(call(s.port, "GET", "/healthz").status, 200);
  EXPECT_EQ(daemon->stop(SIGTERM), 0) << daemon->log();
  const std::string log = daemon->log();
  EXPECT_EQ(occurrences(log, s.extra + "/entry_aborts.so: connector init crashed (signal 6 SIGABRT); refused",
                        "connector refused;"),
            1u)
      << log;
  EXPECT_EQ(
      occurrences(log, s.extra + "/entry_segfaults.so: connector init crashed (signal 11 SIGSEGV); refused",
                  "connector refused;"),
      1u)
      << log;
  EXPECT_EQ(occurrences(log, s.extra + "/entry_hangs.so: connector init did not return within 1 s; refused",
                        "connector refused;"),
            1u)
      << log;
}

// ---- OAuth through the daemon's GET /oauth/callback -------------------------------------------

// A GET of an absolute loopback URL without following redirects: status, Location and body.
Reply get_url(const std::string& url, std::string* location = nullptr) {
  try {
    Poco::URI uri(url);
    Poco::Net::HTTPClientSession session("127.0.0.1", uri.getPort());
    session.setTimeout(Poco::Timespan(20, 0));
    Poco::Net::HTTPRequest req("GET", uri.getPathAndQuery(), Poco::Net::HTTPMessage::HTTP_1_1);
    session.sendRequest(req);
    Poco::Net::HTTPResponse resp;
    Reply r;
    Poco::StreamCopier::copyToString(session.receiveResponse(resp), r.body);
    r.status = resp.getStatus();
    if (location != nullptr) *location = resp.get("Location", "");
    return r;
  } catch (const std::exception&) {
    return {};
  }
}

std::vector<std::string> restream_settings(const sandbox::Sandbox& box) {
  return {"authorize_url=" + box.url("/restream/login"), "token_url=" + box.url("/restream/oauth/token"),
          "revoke_url=" + box.url("/restream/oauth/revoke"), "api_base=" + box.url("/restream")};
}

std::string connection_state(unsigned short port, const std::string& token, const std::string& name) {
  auto list = json::as_array(call(port, "GET", "/v1/connections", token).json());
  for (std::size_t i = 0; list && i < list->size(); ++i)
    if (json::get_string(list->get(i), "name") == name) return json::get_string(list->get(i), "state");
  return "absent";
}

TEST(ServeE2E, AuthorizeWithoutListenFinishesOnTheRunningDaemonsCallback) {
  sandbox::Sandbox box{sandbox::Options{}};
  std::string error;
  ASSERT_TRUE(box.start(error)) << error;
  DaemonDir s;
  auto daemon = s.start();
  const std::string token = s.token();
  // The daemon says where it is, for the CLI of the same home.
  auto parsed = json::parse(slurp(s.home + "/serve.json"));
  ASSERT_TRUE(parsed.ok()) << slurp(s.home + "/serve.json");
  const Json where = *parsed;
  EXPECT_EQ(json::get_string(where, "callback_url"),
            "http://127.0.0.1:" + std::to_string(s.port) + "/oauth/callback")
      << slurp(s.home + "/serve.json");

  std::vector<std::string> add = {
      "--home",      s.home,           "connections",     "add",           "my-rs", "--connector", "restream",
      "--client-id", "sandbox-client", "--client-secret", "sandbox-secret"};
  for (const auto& kv : restream_settings(box)) add.insert(add.end(), {"--set", kv});
  auto added = test::run_weft(add);
  ASSERT_EQ(added.exit_code, 0) << added.err;
  EXPECT_EQ(connection_state(s.port, token, "my-rs"), "pending");

  // No --listen and no redirect_uri setting: the CLI uses the daemon's callback and waits.
  Poco::Pipe out;
  Poco::ProcessHandle ph = Poco::Process::launch(
      WEFT_CLI, {"--home", s.home, "connections", "authorize", "my-rs"}, nullptr, &out, &out);
  Poco::PipeInputStream in(out);
  std::string line, printed, url;
  while (url.empty() && std::getline(in, line)) {
    printed += line + "\n";
    if (auto at = line.find(box.url()); at != std::string::npos) url = line.substr(at);
  }
  ASSERT_FALSE(url.empty()) << printed;
  std::string location;
  EXPECT_EQ(get_url(url, &location).status, 302) << url;
  ASSERT_EQ(location.rfind("http://127.0.0.1:" + std::to_string(s.port) + "/oauth/callback?", 0), 0u)
      << location;
  Reply page = get_url(location);  // the browser reaches the daemon, which exchanges the code
  EXPECT_EQ(page.status, 200) << page.body;
  EXPECT_NE(page.body.find("my-rs"), std::string::npos) << page.body;
  std::string rest;
  Poco::StreamCopier::copyToString(in, rest);
  const int code = ph.wait();
  EXPECT_EQ(code, 0) << printed << rest;
  EXPECT_NE((printed + rest).find("connection 'my-rs' is active"), std::string::npos) << printed << rest;
  EXPECT_EQ((printed + rest).find("sandbox-secret"), std::string::npos) << "a secret was printed";
  EXPECT_EQ(connection_state(s.port, token, "my-rs"), "active");
  EXPECT_EQ(get_url(location).status, 403);  // the state was single-use

  // The daemon's callback refusing (a denied authorization) is reported, not waited for 10 minutes.
  Poco::Pipe out2;
  Poco::ProcessHandle denied = Poco::Process::launch(
      WEFT_CLI, {"--home", s.home, "connections", "authorize", "my-rs"}, nullptr, &out2, &out2);
  Poco::PipeInputStream in2(out2);
  std::string printed2, url2;
  while (url2.empty() && std::getline(in2, line)) {
    printed2 += line + "\n";
    if (auto at = line.find(box.url()); at != std::string::npos) url2 = line.substr(at);
  }
  ASSERT_FALSE(url2.empty()) << printed2;
  const std::string state = Poco::URI(url2).getQueryParameters().empty() ? "" : [&] {
    for (const auto& [k, v] : Poco::URI(url2).getQueryParameters())
      if (k == "state") return v;
    return std::string();
  }();
  ASSERT_FALSE(state.empty()) << url2;
  Reply refused = get_url("http://127.0.0.1:" + std::to_string(s.port) +
                          "/oauth/callback?error=access_denied&state=" + state);
  EXPECT_EQ(refused.status, 403) << refused.body;
  std::string rest2;
  Poco::StreamCopier::copyToString(in2, rest2);
  EXPECT_EQ(denied.wait(), 1) << printed2 << rest2;
  EXPECT_NE(rest2.find("did not complete"), std::string::npos) << printed2 << rest2;
  EXPECT_EQ(connection_state(s.port, token, "my-rs"), "active");  // the earlier grant is untouched

  EXPECT_EQ(daemon->stop(SIGTERM), 0) << daemon->log();
  EXPECT_FALSE(std::filesystem::exists(s.home + "/serve.json"));

  // No daemon, no --listen, no redirect_uri: one line saying how to finish.
  auto alone = test::run_weft({"--home", s.home, "connections", "authorize", "my-rs"});
  EXPECT_EQ(alone.exit_code, 1) << alone.out << alone.err;
  EXPECT_NE(alone.err.find("weft serve"), std::string::npos) << alone.err;
  EXPECT_NE(alone.err.find("--listen HOST:PORT"), std::string::npos) << alone.err;
}

TEST(ServeE2E, ApiAuthorizeFollowsTheProviderToTheCallbackAndRunsUseTheConnection) {
  sandbox::Sandbox box{sandbox::Options{}};
  std::string error;
  ASSERT_TRUE(box.start(error)) << error;
  DaemonDir s;
  s.dir.write("flows/profile.yaml",
              "name: profile\non:\n  webhook: {}\nsteps:\n  - id: me\n    uses: restream.get_profile\n"
              "    connection: api-rs\n");
  auto daemon = s.start();
  const std::string token = s.token();
  auto settings = json::new_object();
  for (const auto& kv : restream_settings(box))
    settings->set(kv.substr(0, kv.find('=')), kv.substr(kv.find('=') + 1));
  const std::string body = json::stringify(json::object(
      {{"name", "api-rs"},
       {"connector", "restream"},
       {"settings", Json(settings)},
       {"secrets", json::object({{"client_id", "sandbox-client"}, {"client_secret", "sandbox-secret"}})}}));
  Reply created = call(s.port, "POST", "/v1/connections", token, body);
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(json::get_string(call(s.port, "POST", "/hooks/profile", "", "{}").json(), "status"), "failed");

  Reply started = call(s.port, "POST", "/v1/connections/api-rs/authorize", token);
  ASSERT_EQ(started.status, 200) << started.body;
  const std::string url = json::get_string(started.json(), "authorize_url");
  ASSERT_EQ(url.rfind(box.url(), 0), 0u) << url;
  std::string location;
  EXPECT_EQ(get_url(url, &location).status, 302);
  ASSERT_EQ(location.rfind("http://127.0.0.1:" + std::to_string(s.port) + "/oauth/callback?", 0), 0u)
      << location;
  Reply page = get_url(location);
  EXPECT_EQ(page.status, 200) << page.body << daemon->log();
  EXPECT_EQ(connection_state(s.port, token, "api-rs"), "active");

  // The engine uses the tokens the callback stored.
  Reply run = call(s.port, "POST", "/hooks/profile", "", "{}");
  EXPECT_EQ(json::get_string(run.json(), "status"), "succeeded") << run.body;
  EXPECT_NE(run.body.find("sandbox"), std::string::npos) << run.body;
  EXPECT_EQ(run.body.find("sandbox-secret"), std::string::npos);

  // The provider revokes the grant: the next call's refresh is refused, the connection turns
  // needs_reauth, and that transition is logged once (not by the auth module and the daemon both).
  ASSERT_EQ(call(box.port(), "POST", "/_control/restream/revoke-all").status, 200);
  Reply revoked = call(s.port, "POST", "/hooks/profile", "", "{}");
  EXPECT_EQ(json::get_string(revoked.json(), "status"), "failed") << revoked.body;
  EXPECT_EQ(connection_state(s.port, token, "api-rs"), "needs_reauth");
  EXPECT_EQ(json::get_string(call(s.port, "POST", "/hooks/profile", "", "{}").json(), "status"), "failed");
  EXPECT_EQ(daemon->stop(SIGTERM), 0) << daemon->log();
  const std::string log = daemon->log();
  std::size_t logged = 0;
  for (auto at = log.find("connection needs re-authorization"); at != std::string::npos;
       at = log.find("connection needs re-authorization", at + 1))
    ++logged;
  EXPECT_EQ(logged, 1u) << log;
}

// ---- SIGTERM with a run that never finishes ---------------------------------------------------

TEST(ServeE2E, SigtermWithARunStuckPastDrainTimeoutExitsPromptlyAndRecordsItInterrupted) {
  // Accepts connections (the kernel completes the handshake into the backlog) and never answers.
  Poco::Net::ServerSocket silent(Poco::Net::SocketAddress("127.0.0.1", 0));
  const std::string url = "http://127.0.0.1:" + std::to_string(silent.address().port()) + "/never";
  auto stuck = [&](const std::string& name, const std::string& on) {
    return "name: " + name + "\non:\n" + on +
           "steps:\n  - id: wait\n    uses: http.request\n    timeout: 10m\n    with:\n      method: GET\n   "
           "   url: " +
           url + "\n      timeout_ms: 600000\n";
  };
  DaemonDir s("drain_timeout: 1s\n");
  s.dir.write("flows/bg.yaml", stuck("bg", "  webhook:\n    async: true\n"));
  s.dir.write("flows/fg.yaml", stuck("fg", "  webhook: {}\n"));
  auto daemon = s.start();
  const std::string token = s.token();
  Reply bg = call(s.port, "POST", "/hooks/bg", "", "{}");
  ASSERT_EQ(bg.status, 202) << bg.body;
  const std::string bg_id = json::get_string(bg.json(), "id");
  std::thread caller([&] { call(s.port, "POST", "/hooks/fg", "", "{}"); });  // never answered
  auto step_running = [&](const std::string& query) {
    auto runs = json::as_array(call(s.port, "GET", "/v1/runs?" + query, token).json());
    if (!runs || runs->size() != 1) return false;
    Reply one = call(s.port, "GET", "/v1/runs/" + json::get_string(runs->get(0), "id"), token);
    auto steps = json::as_array(json::get(one.json(), "steps"));
    return steps && steps->size() == 1 && json::get_string(steps->get(0), "status") == "running";
  };
  ASSERT_TRUE(eventually([&] { return step_running("workflow=bg") && step_running("workflow=fg"); }))
      << daemon->log();

  const auto t0 = std::chrono::steady_clock::now();
  const int code = daemon->stop(SIGTERM);
  const auto took = std::chrono::steady_clock::now() - t0;
  caller.join();
  EXPECT_EQ(code, 0) << daemon->log();
  EXPECT_GE(took, std::chrono::milliseconds(900)) << "the drain did not wait";
  EXPECT_LT(took, std::chrono::seconds(20)) << daemon->log();
  EXPECT_NE(daemon->log().find("drain timeout expired"), std::string::npos) << daemon->log();

  auto again = s.start();
  Reply bg_run = call(s.port, "GET", "/v1/runs/" + bg_id, token);
  EXPECT_EQ(json::get_string(bg_run.json(), "status"), "interrupted") << bg_run.body;
  EXPECT_NE(bg_run.body.find("drain_timeout"), std::string::npos) << bg_run.body;
  auto fg = json::as_array(call(s.port, "GET", "/v1/runs?workflow=fg", token).json());
  ASSERT_TRUE(fg && fg->size() == 1);
  EXPECT_EQ(json::get_string(fg->get(0), "status"), "interrupted");
  EXPECT_EQ(again->stop(SIGTERM), 0) << again->log();
}

// ---- a 202 means the run is recorded ----------------------------------------------------------

TEST(ServeE2E, AKillRightAfterA202LeavesARunTheNextStartReports) {
  Poco::Net::ServerSocket silent(Poco::Net::SocketAddress("127.0.0.1", 0));
  DaemonDir s;
  s.dir.write("flows/bg.yaml",
              http_workflow("bg", "http://127.0.0.1:" + std::to_string(silent.address().port()),
                            "  webhook:\n    async: true\n"));
  std::vector<std::string> ids;
  {
    auto daemon = s.start();
    for (int i = 0; i < 5; ++i) {
      Reply r = call(s.port, "POST", "/hooks/bg", "", R"({"who":"k"})");
      ASSERT_EQ(r.status, 202) << r.body;
      ids.push_back(json::get_string(r.json(), "id"));
    }
    EXPECT_EQ(daemon->stop(SIGKILL), 128 + SIGKILL);  // right after the last 202
  }
  auto daemon = s.start();
  const std::string token = s.token();
  for (const auto& id : ids) {
    // The restarted daemon marks unfinished runs once its port is bound, so the API may show a run
    // as still running for a moment after /healthz first answers.
    Reply r;
    for (int i = 0; i < 200; ++i) {
      r = call(s.port, "GET", "/v1/runs/" + id, token);
      if (r.status != 200 || json::get_string(r.json(), "status") != "running") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_EQ(r.status, 200) << id << " " << r.body;
    EXPECT_EQ(json::get_string(r.json(), "status"), "interrupted") << r.body;
  }
  EXPECT_EQ(daemon->stop(SIGTERM), 0) << daemon->log();
}

// ---- the SSRF guard and its CIDR exemptions ---------------------------------------------------

TEST(ServeE2E, SsrfGuardRefusesTheMetadataAddressAndExemptsAWholeAllowedRange) {
  test::LocalServer upstream([](Poco::Net::HTTPServerRequest&, Poco::Net::HTTPServerResponse& resp) {
    resp.setContentType("application/json");
    resp.send() << "{}";
  });
  // 127.0.0.0/8 (not a single /32): the upstream on 127.0.0.1 is reached; 169.254.169.254 is
  // refused after resolution (a literal: nothing to resolve), before any connect.
  DaemonDir s("ssrf_guard:\n  enabled: true\n  allow: [127.0.0.0/8, 'fd00::/8']\n");
  s.dir.write("flows/meta.yaml",
              http_workflow("meta", "http://169.254.169.254/latest/meta-data/", "  webhook: {}\n"));
  s.dir.write("flows/local.yaml", http_workflow("local", upstream.url("/ok"), "  webhook: {}\n"));
  auto daemon = s.start();
  Reply meta = call(s.port, "POST", "/hooks/meta", "", R"({"who":"m"})");
  EXPECT_EQ(json::get_string(meta.json(), "status"), "failed") << meta.body;
  EXPECT_NE(meta.body.find("refusing to connect to 169.254.169.254"), std::string::npos) << meta.body;
  EXPECT_NE(meta.body.find("link-local"), std::string::npos) << meta.body;
  Reply local = call(s.port, "POST", "/hooks/local", "", R"({"who":"l"})");
  EXPECT_EQ(json::get_string(local.json(), "status"), "succeeded") << local.body;
  EXPECT_EQ(upstream.requests(), 1);
  EXPECT_EQ(daemon->stop(SIGTERM), 0) << daemon->log();

  // A malformed range is a config error naming the line, not a silently ignored entry.
  test::TempDir dir;
  const std::string cfg = dir.write("weft.yaml",
                                    "listen: 127.0.0.1:0\nssrf_guard:\n  enabled: true\n  allow:\n"
                                    "    - 10.20.0.0/16\n    - 10.20.0.0/33\n");
  auto bad = test::run_weft({"--home", dir.path() + "/home", "serve", "--config", cfg}, {}, "", 20000);
  EXPECT_EQ(bad.exit_code, 1) << bad.err;
  EXPECT_NE(bad.err.find("weft.yaml:6:"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("10.20.0.0/33"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("prefix length is at most 32"), std::string::npos) << bad.err;
}

// ---- faults: a read-only vault, JSON logs, a provider down then back --------------------------

// chattr +i / -i on each path; false when it is not possible here.
bool set_immutable(const std::vector<std::string>& paths, bool on) {
  for (const auto& p : paths) {
    auto r = test::run_process("/usr/bin/chattr", {on ? "+i" : "-i", p}, {}, "", 10000);
    if (r.exit_code != 0) return false;
  }
  return true;
}

TEST(ServeE2E, AReadOnlyVaultIsAClearErrorAndTheDaemonKeepsServing) {
  test::LocalServer upstream([](Poco::Net::HTTPServerRequest&, Poco::Net::HTTPServerResponse& resp) {
    resp.setContentType("application/json");
    resp.send() << "{}";
  });
  DaemonDir s;
  s.dir.write("flows/greet.yaml", http_workflow("greet", upstream.url("/g"), "  webhook: {}\n"));
  auto daemon = s.start();
  const std::string token = s.token();
  const std::string conn =
      R"({"name":"ome-%","connector":"ovenmediaengine","settings":{"api_base":"http://127.0.0.1:1"},)"
      R"("secrets":{"token":"ome-access-token"}})";
  auto named = [&](const std::string& n) {
    std::string b = conn;
    b.replace(b.find('%'), 1, n);
    return b;
  };
  ASSERT_EQ(call(s.port, "POST", "/v1/connections", token, named("a")).status, 201);

  // Root ignores file modes: the vault files are made immutable instead (or read-only as a user).
  std::vector<std::string> files;
  for (const char* f : {"/vault.db", "/vault.db-wal"})
    if (std::filesystem::exists(s.home + f)) files.push_back(s.home + f);
  ASSERT_FALSE(files.empty());
  struct Restore {
    std::vector<std::string> files;
    bool immutable = false;
    ~Restore() {
      if (immutable) set_immutable(files, false);
      for (const auto& f : files) ::chmod(f.c_str(), 0600);
    }
  } restore{files};
  if (::geteuid() == 0) {
    if (!set_immutable(files, true)) GTEST_SKIP() << "running as root without a working chattr +i";
    restore.immutable = true;
  } else {
    for (const auto& f : files) ASSERT_EQ(::chmod(f.c_str(), 0400), 0);
  }
  Reply refused = call(s.port, "POST", "/v1/connections", token, named("b"));
  EXPECT_GE(refused.status, 400) << refused.body;
  EXPECT_LT(refused.status, 600) << refused.body;
  // The one-line error names the file that could not be written.
  EXPECT_NE(json::get_string(json::get(refused.json(), "error"), "message").find("vault.db"),
            std::string::npos)
      << refused.body;

  // Everything else goes on: health, reads of the vault, runs.
  EXPECT_EQ(call(s.port, "GET", "/healthz").status, 200);
  EXPECT_EQ(connection_state(s.port, token, "ome-a"), "active");
  Reply run = call(s.port, "POST", "/hooks/greet", "", R"({"who":"r"})");
  EXPECT_EQ(json::get_string(run.json(), "status"), "succeeded") << run.body;

  // Writable again: the same request works, no restart needed.
  if (restore.immutable) {
    ASSERT_TRUE(set_immutable(files, false));
    restore.immutable = false;
  } else {
    for (const auto& f : files) ::chmod(f.c_str(), 0600);
  }
  Reply later = call(s.port, "POST", "/v1/connections", token, named("b"));
  EXPECT_EQ(later.status, 201) << later.body;
  EXPECT_EQ(daemon->stop(SIGTERM), 0) << daemon->log();
}

TEST(ServeE2E, JsonLogsAreOneObjectPerLineAndNeverShowASecret) {
  DaemonDir s("log_format: json\ndrain_timeout: 10s\n");
  auto daemon = s.start();
  const std::string token = s.token();
  const std::string secret = "Zq9secretTokenValue4711xY";
  Reply created =
      call(s.port, "POST", "/v1/connections", token,
           R"({"name":"ome","connector":"ovenmediaengine","settings":{"api_base":"http://127.0.0.1:1"},)"
           R"("secrets":{"token":")" +
               secret + R"("}})");
  ASSERT_EQ(created.status, 201) << created.body;
  // A broken workflow whose file name holds the secret: the refusal is logged with the path.
  s.dir.write("flows/" + secret + ".yaml", "name: x\nsteps: 3\n");
  Reply reload = call(s.port, "POST", "/v1/reload", token);
  ASSERT_EQ(reload.status, 200) << reload.body;
  EXPECT_EQ(daemon->stop(SIGTERM), 0);
  const std::string log = daemon->log();
  EXPECT_EQ(log.find(secret), std::string::npos) << log;
  std::istringstream lines(log);
  std::string line;
  int count = 0;
  bool refusal_logged = false;
  while (std::getline(lines, line)) {
    ++count;
    auto doc = json::parse(line);
    ASSERT_TRUE(doc.ok() && json::is_object(*doc)) << "not one JSON object: " << line;
    EXPECT_FALSE(json::get_string(*doc, "msg").empty()) << line;
    if (line.find("workflow refused") != std::string::npos) refusal_logged = true;
  }
  EXPECT_GE(count, 3) << log;
  EXPECT_TRUE(refusal_logged) << log;
}

// A server on a fixed loopback port that can be stopped and started again.
class FixedPortServer {
 public:
  explicit FixedPortServer(unsigned short port) : port_(port) {}
  void start() {
    socket_ = Poco::Net::ServerSocket();
    socket_.bind(Poco::Net::SocketAddress("127.0.0.1", port_), true);
    socket_.listen();
    auto* params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(4);
    params->setKeepAlive(false);
    server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory, socket_, params);
    server_->start();
  }
  // Down for real: the listening socket is closed, so a connect is refused at once.
  void stop() {
    if (server_) server_->stopAll(true);
    server_.reset();
    socket_.close();
  }
  ~FixedPortServer() { stop(); }

 private:
  struct Handler : Poco::Net::HTTPRequestHandler {
    void handleRequest(Poco::Net::HTTPServerRequest&, Poco::Net::HTTPServerResponse& resp) override {
      resp.setContentType("application/json");
      resp.send() << R"({"up":true})";
    }
  };
  struct Factory : Poco::Net::HTTPRequestHandlerFactory {
    Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
      return new Handler;
    }
  };
  unsigned short port_;
  Poco::Net::ServerSocket socket_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
};

TEST(ServeE2E, AProviderDownFailsTheRunCleanlyAndTheNextRunSucceedsOnceItIsBack) {
  const unsigned short port = free_port();
  FixedPortServer provider(port);
  DaemonDir s;
  s.dir.write("flows/call.yaml",
              http_workflow("call", "http://127.0.0.1:" + std::to_string(port) + "/x", "  webhook: {}\n"));
  auto daemon = s.start();
  provider.start();  // after the fork: the daemon must not inherit the listening socket
  EXPECT_EQ(json::get_string(call(s.port, "POST", "/hooks/call", "", R"({"who":"1"})").json(), "status"),
            "succeeded");

  provider.stop();
  const auto t0 = std::chrono::steady_clock::now();
  Reply down = call(s.port, "POST", "/hooks/call", "", R"({"who":"2"})");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(15))
      << "a refused connect was waited on";
  EXPECT_EQ(down.status, 200) << down.body;  // the run's record, failed
  EXPECT_EQ(json::get_string(down.json(), "status"), "failed") << down.body;
  EXPECT_NE(down.body.find("127.0.0.1:" + std::to_string(port)), std::string::npos) << down.body;
  EXPECT_EQ(call(s.port, "GET", "/healthz").status, 200);

  provider.start();
  Reply back = call(s.port, "POST", "/hooks/call", "", R"({"who":"3"})");
  EXPECT_EQ(json::get_string(back.json(), "status"), "succeeded") << back.body;
  EXPECT_NE(back.body.find(R"("up":true)"), std::string::npos) << back.body;
  EXPECT_EQ(daemon->stop(SIGTERM), 0) << daemon->log();
}

}  // namespace
}  // namespace weft
