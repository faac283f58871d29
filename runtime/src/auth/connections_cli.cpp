#include "auth/connections_cli.hpp"

#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/ThreadPool.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Timestamp.h>
#include <Poco/URI.h>

#include <condition_variable>
#include <iomanip>
#include <mutex>
#include <optional>
#include <ostream>
#include <thread>

#include "core/json.hpp"
#include "core/redact.hpp"

namespace weft::auth {
namespace {

constexpr int kOk = 0;
constexpr int kFailure = 1;
constexpr int kUsage = 2;

int fail(std::ostream& err, const Status& s) {
  err << "weft: " << redact::apply(s.message()) << "\n";
  return kFailure;
}

std::string when(const std::optional<std::int64_t>& t) {
  if (!t) return "-";
  return Poco::DateTimeFormatter::format(Poco::Timestamp::fromEpochTime(static_cast<std::time_t>(*t)),
                                         Poco::DateTimeFormat::ISO8601_FORMAT);
}

std::string html_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '&':
        o += "&amp;";
        break;
      case '"':
        o += "&quot;";
        break;
      default:
        o += c;
    }
  }
  return o;
}

// Collects the first redirect that reaches the listener.
struct CallbackSlot {
  ConnectionManager& m;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  Status result;
  std::string name;
};

class CallbackHandler final : public Poco::Net::HTTPRequestHandler {
 public:
  explicit CallbackHandler(CallbackSlot& s) : s_(s) {}
  void handleRequest(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) override {
    const std::string path = Poco::URI(req.getURI()).getPath();
    if (req.getMethod() != "GET" || path == "/favicon.ico") {
      resp.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_NOT_FOUND);
      resp.setContentLength(0);
      resp.send();
      return;
    }
    {
      std::lock_guard<std::mutex> g(s_.mu);
      if (s_.done) {  // only the first redirect counts
        resp.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_GONE);
        resp.setContentType("text/html; charset=utf-8");
        const std::string page =
            "<!doctype html><title>weft</title><p>This authorization was already handled.</p>";
        resp.setContentLength(static_cast<std::streamsize>(page.size()));
        resp.send() << page;
        return;
      }
    }
    auto r = s_.m.complete(req.getURI());
    std::string page;
    if (r) {
      resp.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_OK);
      page = "<!doctype html><title>weft</title><p>Connection <b>" + html_escape(*r) +
             "</b> is authorized. You can close this window.</p>";
    } else {
      resp.setStatusAndReason(r.status().code() == Code::kPermissionDenied
                                  ? Poco::Net::HTTPResponse::HTTP_FORBIDDEN
                                  : Poco::Net::HTTPResponse::HTTP_BAD_REQUEST);
      page = "<!doctype html><title>weft</title><p>Authorization failed: " +
             html_escape(redact::apply(r.status().message())) + "</p>";
    }
    resp.setContentType("text/html; charset=utf-8");
    resp.setContentLength(static_cast<std::streamsize>(page.size()));
    resp.send() << page;
    std::lock_guard<std::mutex> g(s_.mu);
    s_.done = true;
    s_.result = r.status();
    if (r) s_.name = *r;
    s_.cv.notify_all();
  }

 private:
  CallbackSlot& s_;
};

class CallbackFactory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit CallbackFactory(CallbackSlot& s) : s_(s) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
    return new CallbackHandler(s_);  // Poco takes ownership
  }

 private:
  CallbackSlot& s_;
};

}  // namespace

Result<std::map<std::string, std::string>> parse_settings(const std::vector<std::string>& pairs) {
  std::map<std::string, std::string> out;
  for (const auto& p : pairs) {
    auto eq = p.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Status(Code::kInvalidArgument, "--set '" + p + "': expected key=value");
    }
    out[p.substr(0, eq)] = p.substr(eq + 1);
  }
  return out;
}

int cli_add(ConnectionManager& m, const AddRequest& req, std::ostream& out, std::ostream& err) {
  Status s = m.add(req);
  if (!s.ok()) return fail(err, s);
  auto l = m.list();
  std::string state = "pending";
  if (l) {
    for (const auto& c : *l)
      if (c.name == req.name) state = c.state;
  }
  out << "added connection '" << req.name << "' (" << req.connector << ", " << state << ")";
  if (state == "pending") out << "; next: weft connections authorize " << req.name;
  out << "\n";
  return kOk;
}

int cli_list(ConnectionManager& m, bool as_json, std::ostream& out, std::ostream& err) {
  auto l = m.list();
  if (!l) return fail(err, l.status());
  if (as_json) {
    auto arr = json::new_array();
    for (const auto& c : *l) {
      auto scopes = json::new_array();
      for (const auto& s : c.scopes) scopes->add(s);
      auto o = json::new_object();
      o->set("name", c.name);
      o->set("connector", c.connector);
      o->set("auth", c.auth_kind);
      o->set("state", c.state);
      o->set("scopes", scopes);
      o->set("access_expires_at", c.access_expires_at ? Json(*c.access_expires_at) : Json());
      o->set("refresh_expires_at", c.refresh_expires_at ? Json(*c.refresh_expires_at) : Json());
      o->set("last_error", c.last_error);
      arr->add(o);
    }
    out << redact::apply(json::stringify(Json(arr))) << "\n";
    return kOk;
  }
  if (l->empty()) {
    out << "no connections (add one with: weft connections add <name> --connector <id> ...)\n";
    return kOk;
  }
  out << std::left << std::setw(20) << "NAME" << std::setw(18) << "CONNECTOR" << std::setw(10) << "AUTH"
      << std::setw(14) << "STATE" << std::setw(22) << "ACCESS EXPIRES" << std::setw(22) << "REFRESH EXPIRES"
      << "SCOPES\n";
  for (const auto& c : *l) {
    std::string scopes;
    for (const auto& s : c.scopes) scopes += (scopes.empty() ? "" : " ") + s;
    out << std::left << std::setw(20) << c.name << std::setw(18) << c.connector << std::setw(10)
        << c.auth_kind << std::setw(14) << c.state << std::setw(22) << when(c.access_expires_at)
        << std::setw(22) << when(c.refresh_expires_at) << redact::apply(scopes) << "\n";
    if (!c.last_error.empty()) out << "  last error: " << redact::apply(c.last_error) << "\n";
  }
  return kOk;
}

int cli_refresh(ConnectionManager& m, const std::string& name, std::ostream& out, std::ostream& err) {
  Status s = m.refresh(name);
  if (!s.ok()) return fail(err, s);
  out << "refreshed connection '" << name << "'\n";
  return kOk;
}

int cli_remove(ConnectionManager& m, const std::string& name, std::ostream& out, std::ostream& err) {
  Status s = m.remove(name);
  if (!s.ok()) return fail(err, s);
  out << "removed connection '" << name << "' and its secrets\n";
  return kOk;
}

namespace {

// The redirect goes to a running daemon's /oauth/callback; the daemon's complete() takes the state
// and stores the tokens in the vault shared with this process, which is watched here.
int authorize_via_daemon(ConnectionManager& m, const std::string& name, const AuthorizeCliOptions& opts,
                         std::ostream& out, std::ostream& err) {
  vault::Vault& v = *opts.vault;
  auto before = v.get(name);
  if (!before) return fail(err, before.status());
  const std::string& callback = *opts.daemon_callback;
  auto start = m.authorize(name, callback);
  if (!start) return fail(err, start.status());
  out << "Open this URL in a browser to authorize '" << name << "':\n"
      << start->url << "\n"
      << "Waiting for the running weft serve to receive the redirect on " << callback
      << " (Ctrl-C aborts) ...\n";
  out.flush();
  if (opts.on_url) opts.on_url(start->url);
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + opts.wait;
  std::optional<Clock::time_point> taken;  // when the daemon consumed the state
  while (true) {
    std::this_thread::sleep_for(opts.poll);
    auto pending = v.has_auth_state(start->state);
    if (pending && !*pending && !taken) taken = Clock::now();
    auto rec = v.get(name);
    if (!rec) return fail(err, rec.status());
    const bool written = rec->generation != before->generation;
    if (written && (taken || !pending) && rec->state == vault::ConnectionState::kActive) {
      out << "connection '" << name << "' is active\n";
      return kOk;
    }
    if (taken && Clock::now() - *taken > opts.exchange_grace) {
      err << "weft: the daemon received the redirect for '" << name
          << "' but the authorization did not complete (denied at the provider, or the code exchange "
             "failed: the browser page and the daemon's log say why); run `weft connections authorize "
          << name << "` again\n";
      return kFailure;
    }
    if (Clock::now() > deadline) {
      err << "weft: no redirect reached the daemon on " << callback << " within " << opts.wait.count()
          << " s; run `weft connections authorize " << name << "` again\n";
      return kFailure;
    }
  }
}

}  // namespace

int cli_authorize(ConnectionManager& m, const std::string& name, const AuthorizeCliOptions& opts,
                  std::ostream& out, std::ostream& err) {
  if (!opts.listen && opts.daemon_callback && opts.vault != nullptr)
    return authorize_via_daemon(m, name, opts, out, err);
  if (!opts.listen) {
    auto start = m.authorize(name, "");
    if (!start && start.status().code() == Code::kInvalidArgument &&
        start.status().message().rfind("no redirect URI", 0) == 0) {
      err << "weft: nothing can receive the redirect for '" << name
          << "': no weft serve is running for this home and the connection has no redirect_uri setting; "
             "start `weft serve` and run `weft connections authorize "
          << name << "` again (it then uses the daemon's /oauth/callback), or pass --listen HOST:PORT\n";
      return kFailure;
    }
    if (!start) return fail(err, start.status());
    out << start->url << "\n";
    if (opts.on_url) opts.on_url(start->url);
    return kOk;
  }
  const std::string& listen = *opts.listen;
  auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    err << "weft: --listen '" << listen << "': expected HOST:PORT (e.g. 127.0.0.1:8788)\n";
    return kUsage;
  }
  CallbackSlot slot{m, {}, {}, false, Status::Ok(), ""};
  // Its own pool (declared before the server, so it outlives it) whose threads are joined when the
  // command ends: a thread left running in Poco's default pool at exit would keep per-thread state
  // (OpenSSL's DRBG, used when the tokens are sealed) that is never freed.
  Poco::ThreadPool pool(1, 2);
  std::unique_ptr<Poco::Net::HTTPServer> server;
  std::string redirect;
  try {
    Poco::Net::ServerSocket sock{Poco::Net::SocketAddress(listen)};
    const std::string host = listen.substr(0, colon);
    redirect = "http://" + host + ":" + std::to_string(sock.address().port()) + "/oauth/callback";
    auto* params = new Poco::Net::HTTPServerParams;  // ref-counted, owned by the server
    params->setMaxThreads(2);
    params->setKeepAlive(false);
    server = std::make_unique<Poco::Net::HTTPServer>(new CallbackFactory(slot), pool, sock,
                                                     params);  // Poco owns the factory
    server->start();
  } catch (const Poco::Exception& e) {
    err << "weft: cannot listen on " << listen << ": " << e.displayText() << "\n";
    return kFailure;
  }
  auto start = m.authorize(name, redirect);
  if (!start) {
    server->stopAll(true);
    return fail(err, start.status());
  }
  out << "Open this URL in a browser to authorize '" << name << "':\n"
      << start->url << "\n"
      << "Waiting for the redirect on " << redirect << " ...\n";
  out.flush();
  if (opts.on_url) opts.on_url(start->url);
  bool done = false;
  Status result;
  std::string completed;
  {
    std::unique_lock<std::mutex> lk(slot.mu);
    done = slot.cv.wait_for(lk, opts.wait, [&] { return slot.done; });
    result = slot.result;
    completed = slot.name;
  }
  server->stopAll(true);
  pool.joinAll();
  if (!done) {
    err << "weft: no redirect arrived on " << redirect << " within " << opts.wait.count()
        << " s; run `weft connections authorize " << name << "` again\n";
    return kFailure;
  }
  if (!result.ok()) return fail(err, result);
  out << "connection '" << completed << "' is active\n";
  return kOk;
}

}  // namespace weft::auth
