// test_support.hpp — real parts for tests: a loopback HTTP server, a temporary directory, and a
// way to run the built `weft` binary and see what a user would see.
//
//   test::LocalServer server([](auto& req, auto& resp) { resp.send() << "{}"; });
//   test::TempDir home;
//   auto r = test::run_weft({"--home", home.path(), "run", "flow.yaml"});
//   EXPECT_EQ(r.exit_code, 0) << r.err;
#pragma once

#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace weft::test {

// An HTTP/1.1 server on 127.0.0.1 and an ephemeral port, serving every request with handler on a
// small thread pool. Stops (and joins) on destruction. Counts the requests it served.
class LocalServer {
 public:
  using Handler = std::function<void(Poco::Net::HTTPServerRequest&, Poco::Net::HTTPServerResponse&)>;
  explicit LocalServer(Handler handler, int max_threads = 16);
  ~LocalServer();
  LocalServer(const LocalServer&) = delete;
  LocalServer& operator=(const LocalServer&) = delete;

  unsigned short port() const;
  // "http://127.0.0.1:<port>" + path
  std::string url(const std::string& path = "") const;
  int requests() const { return requests_->load(); }

 private:
  struct Impl;
  std::shared_ptr<std::atomic<int>> requests_;
  std::unique_ptr<Impl> impl_;
};

// Reads the whole request body.
std::string read_body(Poco::Net::HTTPServerRequest& req);

// A fresh directory under the system temp dir, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // Writes content to path()/name (creating parent directories) and returns the full path.
  std::string write(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

struct ProcessResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs a program with args, extra environment variables, and optional stdin text; waits for it
// (killing it after timeout_ms) and returns its exit code and output.
ProcessResult run_process(const std::string& program, const std::vector<std::string>& args,
                          const std::map<std::string, std::string>& env = {}, const std::string& input = "",
                          int timeout_ms = 60000);

// Runs the built weft binary (WEFT_CLI).
ProcessResult run_weft(const std::vector<std::string>& args, const std::map<std::string, std::string>& env = {},
                       const std::string& input = "", int timeout_ms = 60000);

// The directory the built connectors are in (WEFT_CONNECTOR_DIR), and the source tree's root.
std::string connector_dir();
std::string source_dir();

}  // namespace weft::test
