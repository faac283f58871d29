// sandbox.hpp — local emulations of Restream, Livepush, OvenMediaEngine and OvenStudio on
// 127.0.0.1, written from /work/shared/PROVIDERS.md, for tests and demos (see README.md here).
//
//   weft::sandbox::Sandbox box(weft::sandbox::Options{});   // port 0: ephemeral
//   std::string err; if (!box.start(err)) ...;
//   std::string token_url = box.url("/restream/oauth/token");
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace weft::sandbox {

// How a 429's Retry-After is written: delta seconds, an HTTP-date that far ahead, an HTTP-date in
// the past, or garbage (RELIABILITY.md row 13).
enum class RetryAfterFormat { kSeconds, kDate, kPastDate, kGarbage };

// Parses "seconds", "date", "past-date", "garbage"; nullopt otherwise.
std::optional<RetryAfterFormat> parse_retry_after_format(const std::string& s);

struct Options {
  unsigned short port = 0;      // 0: ephemeral
  std::string state_file;       // empty: in memory only
  int token_lifetime_s = 3600;  // access token lifetime for both OAuth providers
  int rate_limit_burst = 0;     // the next N API calls answer 429
  RetryAfterFormat retry_after_format = RetryAfterFormat::kSeconds;
  int retry_after_s = 1;
  int slow_ms = 0;         // every API response waits this long first
  double fail_rate = 0.0;  // probability an API call answers 503
};

// Base64 of s without line breaks, for Basic authorization headers ("Basic " + base64(...)).
std::string base64(const std::string& s);

// Parses the command line (without argv[0]). Returns nullopt and sets error to one line naming
// the bad flag on bad usage.
std::optional<Options> parse_options(const std::vector<std::string>& args, std::string& error);

// The sandbox server. start() binds 127.0.0.1 and serves on a thread pool until stop() or
// destruction. Thread-safe: requests are served concurrently over one state mutex.
class Sandbox {
 public:
  explicit Sandbox(Options options);
  ~Sandbox();
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  // Loads the state file (when given and present) and starts listening. false + error on a bad
  // state file or a port that cannot be bound.
  bool start(std::string& error);
  void stop();
  unsigned short port() const;
  // "http://127.0.0.1:<port>" + path
  std::string url(const std::string& path = "") const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace weft::sandbox
