#include "daemon/process.hpp"

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "daemon/serve.hpp"
#include "support/test_support.hpp"

namespace weft::daemon {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TEST(PidFile, HoldsOurPidAndIsRemovedOnDestruction) {
  test::TempDir dir;
  const std::string path = dir.path() + "/weft.pid";
  {
    auto p = PidFile::acquire(path);
    ASSERT_TRUE(p) << p.status().message();
    EXPECT_EQ(slurp(path), std::to_string(::getpid()) + "\n");
  }
  EXPECT_NE(::access(path.c_str(), F_OK), 0);
}

TEST(PidFile, RefusedWhileALiveProcessHoldsIt) {
  test::TempDir dir;
  std::string path = dir.write("weft.pid", "1\n");  // init is always alive
  auto p = PidFile::acquire(path);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.status().code(), Code::kAlreadyExists);
  EXPECT_NE(p.status().message().find("held by running process 1"), std::string::npos);
  EXPECT_EQ(slurp(path), "1\n");
}

TEST(PidFile, StaleFileOfADeadProcessIsReplaced) {
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  int st = 0;
  ::waitpid(child, &st, 0);  // reaped: the pid names no process now
  test::TempDir dir;
  std::string path = dir.write("weft.pid", std::to_string(child) + "\n");
  auto p = PidFile::acquire(path);
  ASSERT_TRUE(p) << p.status().message();
  EXPECT_EQ(slurp(path), std::to_string(::getpid()) + "\n");
}

TEST(Signals, BlockedControlSignalsAreReportedNotFatal) {
  block_control_signals();
  EXPECT_EQ(wait_for_signal(std::chrono::milliseconds(1)), ControlSignal::kNone);
  ::raise(SIGHUP);
  EXPECT_EQ(wait_for_signal(std::chrono::milliseconds(1000)), ControlSignal::kReload);
  ::raise(SIGTERM);
  EXPECT_EQ(wait_for_signal(std::chrono::milliseconds(1000)), ControlSignal::kTerminate);
}

TEST(DirWatcher, ReportsAddedChangedAndRemovedFiles) {
  test::TempDir a, b;
  a.write("existing.yaml", "x");
  std::vector<DirWatcher::Change> seen;
  DirWatcher w({a.path(), b.path(), a.path() + "/missing"}, [&](const std::vector<DirWatcher::Change>& c) {
    seen.insert(seen.end(), c.begin(), c.end());
  });
  EXPECT_TRUE(w.poll_once().empty());  // existing files are not news
  std::string added = b.write("new.yaml", "1");
  a.write(".hidden.swp", "ignored");
  auto c1 = w.poll_once();
  ASSERT_EQ(c1.size(), 1u);
  EXPECT_EQ(c1[0].kind, DirWatcher::Change::Kind::kAdded);
  EXPECT_EQ(c1[0].path, added);
  b.write("new.yaml", "12");  // size changes even within one mtime tick
  auto c2 = w.poll_once();
  ASSERT_EQ(c2.size(), 1u);
  EXPECT_EQ(c2[0].kind, DirWatcher::Change::Kind::kChanged);
  ::unlink((a.path() + "/existing.yaml").c_str());
  auto c3 = w.poll_once();
  ASSERT_EQ(c3.size(), 1u);
  EXPECT_EQ(c3[0].kind, DirWatcher::Change::Kind::kRemoved);
  EXPECT_EQ(seen.size(), 3u);
}

unsigned short free_port() {
  Poco::Net::ServerSocket s(Poco::Net::SocketAddress("127.0.0.1", 0));
  return s.address().port();
}

int get_status(unsigned short port, const std::string& path) {
  try {
    Poco::Net::HTTPClientSession session("127.0.0.1", port);
    session.setTimeout(Poco::Timespan(5, 0));
    Poco::Net::HTTPRequest req("GET", path, Poco::Net::HTTPMessage::HTTP_1_1);
    session.sendRequest(req);
    Poco::Net::HTTPResponse resp;
    std::string body;
    Poco::StreamCopier::copyToString(session.receiveResponse(resp), body);
    return resp.getStatus();
  } catch (const std::exception&) {
    return 0;
  }
}

// Waits (bounded) for a condition that another process brings about.
template <class F>
bool eventually(F f) {
  for (int i = 0; i < 500; ++i) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

TEST(Serve, BadConfigExitsOneWithTheError) {
  test::TempDir dir;
  ServeOptions o;
  o.config_path = dir.write("weft.yaml", "workers: many\n");
  testing::internal::CaptureStderr();
  int code = serve(o, Services{});
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(code, 1);
  EXPECT_NE(err.find("weft.yaml:1:10: workers (got 'many')"), std::string::npos) << err;
}

TEST(Serve, EngineStartFailureExitsOneWithTheReason) {
  test::TempDir dir;
  ServeOptions o;
  o.config_path = dir.write("weft.yaml", "listen: 127.0.0.1:0\nhome: home\n");
  o.on_config = [](const Config& c, Services&) {
    return Status(Code::kDataLoss, "vault in " + c.home + " cannot be decrypted with this key");
  };
  testing::internal::CaptureStderr();
  int code = serve(o, Services{});
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(code, 1);
  EXPECT_NE(err.find("weft serve: vault in " + dir.path() + "/home cannot be decrypted"), std::string::npos) << err;
}

TEST(Serve, ReloadsOnSighupAndExitsZeroOnSigterm) {
  test::TempDir dir;
  const unsigned short port = free_port();
  ServeOptions o;
  o.config_path = dir.write("weft.yaml", "listen: 127.0.0.1:" + std::to_string(port) + "\nhome: home\n");
  const std::string marker = dir.path() + "/reloads";
  pid_t child = ::fork();
  if (child == 0) {
    Services s;
    s.reload = [&]() -> Result<Json> {
      std::ofstream(marker, std::ios::app) << "r\n";
      return json::object();
    };
    ::_exit(serve(o, s));
  }
  ASSERT_TRUE(eventually([&] { return get_status(port, "/healthz") == 200; }));
  struct stat st {};
  ASSERT_EQ(::stat((dir.path() + "/home/admin.token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ::kill(child, SIGHUP);
  EXPECT_TRUE(eventually([&] { return slurp(marker) == "r\n"; }));
  ::kill(child, SIGTERM);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(get_status(port, "/healthz"), 0);
}

TEST(Serve, DaemonDetachesWritesThePidFileAndASecondOneIsRefused) {
  test::TempDir dir;
  const unsigned short port = free_port();
  ServeOptions o;
  o.config_path = dir.write("weft.yaml", "listen: 127.0.0.1:" + std::to_string(port) + "\nhome: home\n");
  o.daemonize = true;
  o.pidfile = dir.path() + "/weft.pid";
  pid_t starter = ::fork();
  if (starter == 0) ::_exit(serve(o, Services{}));
  int status = 0;
  ASSERT_EQ(::waitpid(starter, &status, 0), starter);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);  // the starting process returns once the daemon listens
  const int daemon_pid = std::atoi(slurp(o.pidfile).c_str());
  ASSERT_GT(daemon_pid, 0);
  EXPECT_NE(daemon_pid, starter);
  EXPECT_EQ(get_status(port, "/healthz"), 200);

  // A second daemon with the same pid file is refused: its starting process exits 1.
  pid_t starter2 = ::fork();
  if (starter2 == 0) ::_exit(serve(o, Services{}));
  ASSERT_EQ(::waitpid(starter2, &status, 0), starter2);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);

  ::kill(daemon_pid, SIGTERM);
  EXPECT_TRUE(eventually([&] { return ::access(o.pidfile.c_str(), F_OK) != 0; }));
  EXPECT_TRUE(eventually([&] { return ::kill(daemon_pid, 0) != 0; }));
}

}  // namespace
}  // namespace weft::daemon
