// sandbox.cpp — the HTTP server, the fault switches (429 bursts, slow and failing responses),
// the /_control endpoints, the state file and the command line.
#include "sandbox.hpp"

#include <Poco/File.h>
#include <Poco/FileStream.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/NumberParser.h>
#include <Poco/StreamCopier.h>
#include <Poco/ThreadPool.h>
#include <Poco/URI.h>

#include <cctype>
#include <chrono>
#include <fstream>
#include <mutex>
#include <thread>

#include "sandbox_internal.hpp"

namespace weft::sandbox {

namespace {
constexpr int kMaxThreads = 16;
constexpr std::size_t kMaxBodyBytes = 1 << 20;

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::vector<std::string> split_path(const std::string& raw_path) {
  std::vector<std::string> out;
  std::size_t start = 1;  // skip the leading '/'
  while (start <= raw_path.size()) {
    auto slash = raw_path.find('/', start);
    std::string seg = raw_path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    std::string decoded;
    try {
      Poco::URI::decode(seg, decoded);
    } catch (const Poco::Exception&) {
      decoded = seg;
    }
    out.push_back(decoded);
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  if (!out.empty() && out.back().empty()) out.pop_back();  // tolerate a trailing slash
  return out;
}

std::map<std::string, std::string> parse_query(const std::string& raw) {
  Request tmp;
  tmp.body = raw;
  return tmp.form();
}
}  // namespace

namespace {
constexpr const char* kTokenFaultModes =
    "missing_access_token, expires_in_string, negative_expires_in, huge_expires_in, html, truncated";

// The broken token answer of a fault mode (RELIABILITY.md row 6), into out when not null. false
// for an unknown mode. expires_in_string is a real answer altered by the caller.
bool token_fault_body(const std::string& mode, Response* out) {
  Response r;
  r.status = 200;
  if (mode == "missing_access_token") {
    r.body = R"({"token_type":"bearer","expires_in":3600,"refresh_token":"fault-refresh"})";
  } else if (mode == "negative_expires_in") {
    r.body =
        R"({"access_token":"fault-access","token_type":"bearer","expires_in":-5,"refresh_token":"fault-refresh"})";
  } else if (mode == "huge_expires_in") {
    r.body =
        R"({"access_token":"fault-access","token_type":"bearer","expires_in":1e12,"refresh_token":"fault-refresh"})";
  } else if (mode == "html") {
    r.content_type = "text/html";
    r.body = "<html><body><h1>502 Bad Gateway</h1></body></html>";
  } else if (mode == "truncated") {
    r.body = R"({"access_token":"fault-access","token_type":"bea)";
  } else if (mode != "expires_in_string") {
    return false;
  }
  if (out != nullptr) *out = r;
  return true;
}
}  // namespace

struct Sandbox::Impl {
  Options options;
  std::mutex mu;
  State state;
  int burst = 0;
  RetryAfterFormat retry_format = RetryAfterFormat::kSeconds;
  int retry_after_s = 1;
  std::string token_fault;  // the next token_fault_count token answers are this broken kind
  int token_fault_count = 0;
  int slow_ms = 0;
  double fail_rate = 0.0;
  std::mt19937 fault_rng{42};  // fixed seed: a given fail rate fails the same calls every run
  Poco::ThreadPool pool{2, kMaxThreads};
  Poco::Net::ServerSocket socket;
  std::unique_ptr<Poco::Net::HTTPServer> server;

  explicit Impl(Options o) : options(std::move(o)) {
    state.token_lifetime_s = options.token_lifetime_s;
    burst = options.rate_limit_burst;
    retry_format = options.retry_after_format;
    retry_after_s = options.retry_after_s;
    slow_ms = options.slow_ms;
    fail_rate = options.fail_rate;
    state.seed();
  }

  // Writes the state file atomically (temp file + rename). Caller holds mu.
  void save() {
    if (options.state_file.empty()) return;
    std::string tmp = options.state_file + ".tmp";
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out << stringify(state.to_json());
    }
    std::rename(tmp.c_str(), options.state_file.c_str());
  }

  bool load(std::string& error) {
    if (options.state_file.empty() || !Poco::File(options.state_file).exists()) return true;
    std::ifstream in(options.state_file, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto o = parse_object(text);
    if (!o) {
      error = "state file " + options.state_file + " is not a JSON object; delete it to start fresh";
      return false;
    }
    try {
      state.from_json(o);
    } catch (const Poco::Exception& e) {
      error = "state file " + options.state_file + " is malformed (" + e.displayText() +
              "); delete it to start fresh";
      return false;
    }
    return true;
  }

  Response control(Request& req) {
    auto& s = req.segments;  // below /_control
    auto body = req.json_object();
    if (s.size() == 1 && s[0] == "counters" && req.method == "GET") {
      ObjectPtr o = new Poco::JSON::Object;
      for (const auto& [k, v] : state.counters) o->set(k, v);
      return json_response(200, o);
    }
    if (req.method != "POST") return json_response(405, Var(std::string("control endpoints take POST")));
    if (s.size() == 1 && s[0] == "rate-limit") {
      if (body) {
        burst = body->optValue<int>("burst", 0);
        retry_after_s = body->optValue<int>("seconds", retry_after_s);
        auto format = parse_retry_after_format(body->optValue<std::string>("format", "seconds"));
        if (!format)
          return json_response(400, Var(std::string("format: seconds, date, past-date or garbage")));
        retry_format = *format;
      }
      return json_response(200, Var(ObjectPtr(new Poco::JSON::Object)));
    }
    if (s.size() == 1 && s[0] == "token-fault") {
      std::string mode = body ? body->optValue<std::string>("mode", "") : "";
      if (!token_fault_body(mode, nullptr))
        return json_response(400, Var(std::string("mode: ") + kTokenFaultModes));
      token_fault = mode;
      token_fault_count = body->optValue<int>("count", 1);
      return json_response(200, Var(ObjectPtr(new Poco::JSON::Object)));
    }
    if (s.size() == 1 && s[0] == "faults") {
      if (body) {
        slow_ms = body->optValue<int>("slow_ms", slow_ms);
        fail_rate = body->optValue<double>("fail_rate", fail_rate);
      }
      return json_response(200, Var(ObjectPtr(new Poco::JSON::Object)));
    }
    if (s.size() == 1 && s[0] == "token-lifetime") {
      if (body) state.token_lifetime_s = body->optValue<int>("seconds", state.token_lifetime_s);
      return json_response(200, Var(ObjectPtr(new Poco::JSON::Object)));
    }
    if (s.size() == 1 && s[0] == "deny-next-authorize") {
      state.deny_next_authorize = true;
      return json_response(200, Var(ObjectPtr(new Poco::JSON::Object)));
    }
    if (s.size() == 1 && s[0] == "reset") {
      // Everything a control endpoint can change: the data, tokens, counters, and every fault
      // switch back to "no faults" (README), the Retry-After form included.
      state = State{};
      state.token_lifetime_s = options.token_lifetime_s;
      state.seed();
      burst = 0;
      retry_format = RetryAfterFormat::kSeconds;
      retry_after_s = 1;
      token_fault.clear();
      token_fault_count = 0;
      slow_ms = 0;
      fail_rate = 0.0;
      fault_rng.seed(42);
      return json_response(200, Var(ObjectPtr(new Poco::JSON::Object)));
    }
    if (s.empty()) return json_response(404, Var(std::string("unknown control endpoint")));
    std::string provider = s[0];
    req.segments.erase(req.segments.begin());
    if (provider == "restream") return control_restream(state, req);
    if (provider == "livepush") return control_livepush(state, req);
    if (provider == "ome") return control_ome(state, req);
    return json_response(404, Var(std::string("unknown control endpoint")));
  }

  Response serve(Request& req, int& delay_ms) {
    std::lock_guard<std::mutex> lock(mu);
    if (req.segments.empty()) return json_response(404, Var(std::string("see tests/sandbox/README.md")));
    std::string prefix = req.segments[0];
    req.segments.erase(req.segments.begin());
    if (prefix == "_control") {
      Response r = control(req);
      save();
      return r;
    }
    Provider p;
    bool api_call = true;
    if (prefix == "restream") {
      p = Provider::kRestream;
      api_call = !req.segments.empty() && req.segments[0] == "v2";
    } else if (prefix == "livepush") {
      p = Provider::kLivepush;
      api_call = !req.segments.empty() && (req.segments[0] == "octopus" || req.segments[0] == "squid");
    } else if (prefix == "ome") {
      p = Provider::kOme;
    } else if (prefix == "ovenstudio") {
      p = Provider::kOvenStudio;
    } else {
      return json_response(404, Var(std::string("unknown provider prefix; see tests/sandbox/README.md")));
    }
    delay_ms = slow_ms;
    if (api_call && burst > 0) {
      --burst;
      state.counters["rate_limited"]++;
      Response r = provider_error(p, 429, "Too Many Requests");
      std::string value;
      switch (retry_format) {
        case RetryAfterFormat::kSeconds:
          value = std::to_string(retry_after_s);
          break;
        case RetryAfterFormat::kDate:
          value = http_date(now_epoch_s() + retry_after_s);
          break;
        case RetryAfterFormat::kPastDate:
          value = http_date(now_epoch_s() - 3600);
          break;
        case RetryAfterFormat::kGarbage:
          value = "soon-ish";
          break;
      }
      r.headers.emplace_back("Retry-After", value);
      return r;
    }
    bool token_call =
        (p == Provider::kRestream && req.segments == std::vector<std::string>{"oauth", "token"}) ||
        (p == Provider::kLivepush &&
         req.segments == std::vector<std::string>{"tokens", "oauth2", "access_token"});
    if (token_call && token_fault_count > 0) {
      --token_fault_count;
      state.counters["token_fault"]++;
      Response faulty;
      if (token_fault_body(token_fault, &faulty)) {
        if (token_fault != "expires_in_string") return faulty;
        // The one acceptable oddity: a real answer whose expires_in is the string "3600".
        bool mutated = false;
        Response real = p == Provider::kRestream ? handle_restream(state, req, mutated)
                                                 : handle_livepush(state, req, mutated);
        if (mutated) save();
        if (auto o = parse_object(real.body); o && o->has("expires_in")) {
          o->set("expires_in", o->get("expires_in").convert<std::string>());
          real.body = stringify(o);
        }
        return real;
      }
    }
    if (api_call && fail_rate > 0 && std::uniform_real_distribution<double>(0, 1)(fault_rng) < fail_rate) {
      state.counters["failed"]++;
      return provider_error(p, 503, "Service Unavailable (sandbox fault injection)");
    }
    bool mutated = false;
    Response r;
    switch (p) {
      case Provider::kRestream:
        r = handle_restream(state, req, mutated);
        break;
      case Provider::kLivepush:
        r = handle_livepush(state, req, mutated);
        break;
      case Provider::kOme:
        r = handle_ome(state, req, mutated);
        break;
      case Provider::kOvenStudio:
        r = handle_ovenstudio(state, req, mutated);
        break;
    }
    if (mutated) save();
    return r;
  }
};

namespace {
class Handler : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Handler(Sandbox::Impl& impl) : impl_(impl) {}
  void handleRequest(Poco::Net::HTTPServerRequest& hreq, Poco::Net::HTTPServerResponse& hresp) override {
    Response r;
    int delay_ms = 0;
    try {
      Request req;
      req.method = hreq.getMethod();
      const std::string& target = hreq.getURI();
      auto q = target.find('?');
      req.segments = split_path(target.substr(0, q));
      if (q != std::string::npos) req.query = parse_query(target.substr(q + 1));
      for (const auto& [k, v] : hreq) req.headers[lower(k)] = v;
      std::string body;
      Poco::StreamCopier::copyToString(hreq.stream(), body, kMaxBodyBytes);
      req.body = std::move(body);
      r = impl_.serve(req, delay_ms);
    } catch (const std::exception& e) {
      r = json_response(500, Var(std::string("sandbox bug: ") + e.what()));
    }
    if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    hresp.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(r.status));
    for (const auto& [k, v] : r.headers) hresp.set(k, v);
    if (!r.content_type.empty()) hresp.setContentType(r.content_type);
    hresp.setContentLength(static_cast<std::streamsize>(r.body.size()));
    hresp.send() << r.body;
  }

 private:
  Sandbox::Impl& impl_;
};

class Factory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit Factory(Sandbox::Impl& impl) : impl_(impl) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
    return new Handler(impl_);  // Poco takes ownership
  }

 private:
  Sandbox::Impl& impl_;
};
}  // namespace

Sandbox::Sandbox(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Sandbox::~Sandbox() { stop(); }

bool Sandbox::start(std::string& error) {
  if (!impl_->load(error)) return false;
  try {
    impl_->socket.bind(Poco::Net::SocketAddress("127.0.0.1", impl_->options.port), true);
    impl_->socket.listen(256);
  } catch (const Poco::Exception& e) {
    error = "cannot listen on 127.0.0.1:" + std::to_string(impl_->options.port) + ": " + e.displayText();
    return false;
  }
  auto* params = new Poco::Net::HTTPServerParams;  // Poco takes ownership
  params->setMaxThreads(kMaxThreads);
  params->setKeepAlive(true);
  impl_->server =
      std::make_unique<Poco::Net::HTTPServer>(new Factory(*impl_), impl_->pool, impl_->socket, params);
  impl_->server->start();
  return true;
}

void Sandbox::stop() {
  if (!impl_->server) return;
  impl_->server->stopAll(true);
  impl_->pool.joinAll();
  impl_->server.reset();
}

unsigned short Sandbox::port() const { return impl_->socket.address().port(); }

std::string Sandbox::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port()) + path;
}

std::optional<RetryAfterFormat> parse_retry_after_format(const std::string& s) {
  if (s == "seconds") return RetryAfterFormat::kSeconds;
  if (s == "date") return RetryAfterFormat::kDate;
  if (s == "past-date") return RetryAfterFormat::kPastDate;
  if (s == "garbage") return RetryAfterFormat::kGarbage;
  return std::nullopt;
}

std::optional<Options> parse_options(const std::vector<std::string>& args, std::string& error) {
  Options o;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& flag = args[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= args.size()) {
        error = flag + " needs a value";
        return std::nullopt;
      }
      return args[++i];
    };
    auto integer = [&](int lo, int hi, int& out) {
      auto v = value();
      if (!v) return false;
      int n = 0;
      if (!Poco::NumberParser::tryParse(*v, n) || n < lo || n > hi) {
        error = flag + " takes an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                "], got '" + *v + "'";
        return false;
      }
      out = n;
      return true;
    };
    int n = 0;
    if (flag == "--port") {
      if (!integer(0, 65535, n)) return std::nullopt;
      o.port = static_cast<unsigned short>(n);
    } else if (flag == "--state-file") {
      auto v = value();
      if (!v) return std::nullopt;
      o.state_file = *v;
    } else if (flag == "--token-lifetime") {
      if (!integer(1, 100000000, o.token_lifetime_s)) return std::nullopt;
    } else if (flag == "--rate-limit-burst") {
      if (!integer(0, 1000000, o.rate_limit_burst)) return std::nullopt;
    } else if (flag == "--retry-after-seconds") {
      if (!integer(0, 1000000, o.retry_after_s)) return std::nullopt;
    } else if (flag == "--retry-after-format") {
      auto v = value();
      if (!v) return std::nullopt;
      auto format = parse_retry_after_format(*v);
      if (!format) {
        error = "--retry-after-format takes 'seconds', 'date', 'past-date' or 'garbage', got '" + *v + "'";
        return std::nullopt;
      }
      o.retry_after_format = *format;
    } else if (flag == "--slow-ms") {
      if (!integer(0, 600000, o.slow_ms)) return std::nullopt;
    } else if (flag == "--fail-rate") {
      auto v = value();
      if (!v) return std::nullopt;
      double p = 0;
      if (!Poco::NumberParser::tryParseFloat(*v, p) || p < 0 || p > 1) {
        error = "--fail-rate takes a probability in [0, 1], got '" + *v + "'";
        return std::nullopt;
      }
      o.fail_rate = p;
    } else {
      error = "unknown flag '" + flag + "'";
      return std::nullopt;
    }
  }
  return o;
}

}  // namespace weft::sandbox
