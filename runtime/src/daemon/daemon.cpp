// daemon.cpp — the routes. Handlers translate HTTP to service calls and Status back to HTTP; they
// hold no state of their own, so every service call is the engine's responsibility to make safe.
#include "daemon/daemon.hpp"

#include <Poco/String.h>

#include "core/log.hpp"
#include "daemon/security.hpp"

namespace weft::daemon {
namespace {

Response unavailable(const char* what) {
  return Response::error(503, "unavailable", std::string(what) + " is not available in this build");
}

Response bad_name(const std::string& kind, const std::string& name) {
  return Response::error(400, "invalid_argument",
                         "invalid " + kind + " name '" + name +
                             "': use 1-128 letters, digits, '_', '-' or '.', not starting with '.'");
}

// The request body as JSON: an empty body is an empty object; anything else must parse.
Result<Json> body_json(const Request& q) {
  if (q.body.empty()) return json::object();
  auto doc = json::parse(q.body);
  if (!doc)
    return Status(Code::kInvalidArgument, "request body is not valid JSON: " + doc.status().message());
  return doc;
}

template <class T>
Response ok_or(const Result<T>& r, int status = 200) {
  if (!r) return Response::from_status(r.status());
  return Response::json(status, *r);
}

bool is_json_type(const std::string& content_type) {
  std::string t = Poco::toLower(content_type);
  return t.rfind("application/json", 0) == 0 || t.find("+json") != std::string::npos;
}

// Headers a workflow may see: credentials of the caller stay out of run records.
bool private_header(const std::string& name, const WebhookPolicy& policy) {
  return name == "authorization" || name == "cookie" || name == "proxy-authorization" ||
         (policy.kind != WebhookPolicy::Kind::kNone && name == Poco::toLower(policy.header));
}

// A synchronous run's answer: its record, as the text the run service wrote.
Response run_text_response(const Result<std::string>& run) {
  if (!run) return Response::from_status(run.status());
  Response r;
  r.status = 200;
  r.body = *run;
  return r;
}

Response run_response(const Result<Json>& run, bool async) {
  if (!run) return Response::from_status(run.status());
  if (!async) return Response::json(200, *run);
  Response r = Response::json(202, *run);
  std::string id = json::get_string(*run, "id");
  // Only a well-formed id goes into a header: nothing from a service can inject CR/LF (row 18).
  if (valid_name(id)) r.headers.emplace_back("Location", "/v1/runs/" + id);
  return r;
}

}  // namespace

bool valid_name(const std::string& s) {
  if (s.empty() || s.size() > 128 || s.front() == '.') return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) return false;
  return true;
}

Daemon::Daemon(Config config, const Services& services, Metrics& metrics)
    : config_(std::move(config)), services_(services), metrics_(metrics) {
  add_routes();
}

Daemon::~Daemon() {
  if (server_) server_->stop(std::chrono::milliseconds(0));
}

Status Daemon::start() {
  auto token = ensure_admin_token(config_.admin_token_file);
  if (!token) return token.status();
  token_ = *token;
  ServerOptions o;
  o.host = config_.listen_host;
  o.port = config_.listen_port;
  o.workers = config_.workers;
  o.max_body_bytes = config_.max_body_bytes;
  o.admin_token = token_;
  auto server = HttpServer::start(o, router_, &metrics_);
  if (!server) return server.status();
  server_ = std::move(*server);
  log::info("daemon", "listening",
            {{"address", config_.listen_host + ":" + std::to_string(server_->port())}});
  return Status::Ok();
}

bool Daemon::stop(std::chrono::milliseconds drain) {
  if (!server_) return true;
  bool drained = server_->stop(drain);
  server_.reset();
  return drained;
}

bool Daemon::drain(std::chrono::milliseconds drain) { return server_ ? server_->drain(drain) : true; }

std::uint16_t Daemon::port() const { return server_ ? server_->port() : 0; }

void Daemon::add_routes() {
  Services& s = services_;
  Router& r = router_;

  r.add(
      "GET", "/healthz",
      [](const Request&) {
        return Response::json(200, json::object({{"status", "ok"}}));
      },
      Auth::kNone);
  // Metrics need the admin token: they name workflows and connectors. Prometheus sends it with
  // `authorization: {credentials_file: <home>/admin.token}` in the scrape config.
  r.add("GET", "/metrics", [this](const Request&) {
    return Response::text(200, metrics_.render(), "text/plain; version=0.0.4; charset=utf-8");
  });

  r.add("GET", "/v1/connectors", [&s](const Request&) {
    if (!s.catalog) return unavailable("the connector catalog");
    return ok_or(s.catalog->list_connectors());
  });

  r.add("GET", "/v1/connections", [&s](const Request&) {
    if (!s.connections) return unavailable("connections");
    return ok_or(s.connections->list_connections());
  });
  r.add("POST", "/v1/connections", [&s](const Request& q) {
    if (!s.connections) return unavailable("connections");
    auto body = body_json(q);
    if (!body) return Response::from_status(body.status());
    if (!json::is_object(*body))
      return Response::error(400, "invalid_argument", "request body must be a JSON object");
    std::string name = json::get_string(*body, "name");
    if (!valid_name(name)) return bad_name("connection", name);
    return ok_or(s.connections->create_connection(*body), 201);
  });
  r.add("DELETE", "/v1/connections/{name}", [&s](const Request& q) {
    if (!s.connections) return unavailable("connections");
    const std::string name = q.param("name");
    if (!valid_name(name)) return bad_name("connection", name);
    Status st = s.connections->delete_connection(name);
    if (!st.ok()) return Response::from_status(st);
    return Response::json(200, json::object({{"deleted", name}}));
  });
  r.add("POST", "/v1/connections/{name}/authorize", [this, &s](const Request& q) {
    if (!s.connections) return unavailable("connections");
    const std::string name = q.param("name");
    if (!valid_name(name)) return bad_name("connection", name);
    std::string base = config_.public_url.empty() ? "http://" + config_.listen_address() : config_.public_url;
    auto url = s.connections->start_authorization(name, base + "/oauth/callback");
    if (!url) return Response::from_status(url.status());
    return Response::json(200, json::object({{"authorize_url", *url}}));
  });
  r.add(
      "GET", "/oauth/callback",
      [&s](const Request& q) {
        if (!s.connections) return unavailable("connections");
        std::map<std::string, std::string> query(q.query.begin(), q.query.end());
        auto done = s.connections->finish_authorization(query);
        // A person reads this page in the browser they authorized with.
        // A bad, used or expired state, or the user's refusal, is 403; anything else the callback
        // could not finish (missing code, a refused code exchange) is 400.
        if (!done) {
          const int code = done.status().code() == Code::kPermissionDenied ? 403 : 400;
          return Response::text(code, "Authorization failed: " + done.status().message() + "\n");
        }
        return Response::text(200, "Connection '" + *done + "' is authorized. You can close this window.\n");
      },
      Auth::kNone);

  r.add("GET", "/v1/workflows", [&s](const Request&) {
    if (!s.workflows) return unavailable("workflows");
    return ok_or(s.workflows->list_workflows());
  });
  r.add("POST", "/v1/workflows/{name}/runs", [&s](const Request& q) {
    if (!s.runs) return unavailable("runs");
    const std::string name = q.param("name");
    if (!valid_name(name)) return bad_name("workflow", name);
    auto body = body_json(q);
    if (!body) return Response::from_status(body.status());
    if (!json::is_object(*body))
      return Response::error(400, "invalid_argument",
                             "request body must be a JSON object like {\"inputs\": {...}}");
    Json inputs = json::get(*body, "inputs");
    if (inputs.isEmpty()) inputs = json::object();
    if (!json::is_object(inputs))
      return Response::error(400, "invalid_argument", "\"inputs\" must be an object");
    Json async_v = json::get(*body, "async");
    bool async = !async_v.isEmpty() && async_v.isBoolean() && async_v.extract<bool>();
    Json trigger = json::object({{"type", "api"}, {"inputs", inputs}});
    if (!async) return run_text_response(s.runs->run_workflow_text(name, trigger));
    return run_response(s.runs->trigger_workflow(name, trigger, async), async);
  });
  r.add("GET", "/v1/runs", [&s](const Request& q) {
    if (!s.runs) return unavailable("runs");
    auto filter = json::new_object();
    for (const char* k : {"workflow", "status"})
      if (!q.query_param(k).empty()) filter->set(k, q.query_param(k));
    if (!q.query_param("limit").empty()) {
      int limit = 0;
      try {
        limit = std::stoi(q.query_param("limit"));
      } catch (const std::exception&) {
        limit = -1;
      }
      if (limit < 1 || limit > 1000)
        return Response::error(400, "invalid_argument", "limit must be a number from 1 to 1000");
      filter->set("limit", limit);
    }
    return ok_or(s.runs->list_runs(Json(filter)));
  });
  r.add("GET", "/v1/runs/{id}", [&s](const Request& q) {
    if (!s.runs) return unavailable("runs");
    const std::string id = q.param("id");
    if (!valid_name(id)) return bad_name("run", id);
    return ok_or(s.runs->get_run(id));
  });
  r.add("POST", "/v1/reload", [&s](const Request&) {
    if (!s.reload) return unavailable("reload");
    return ok_or(s.reload());
  });

  r.add(
      "POST", "/hooks/{workflow}",
      [&s](const Request& q) {
        if (!s.runs || !s.workflows) return unavailable("webhooks");
        const std::string name = q.param("workflow");
        if (!valid_name(name)) return bad_name("workflow", name);
        auto policy = s.workflows->webhook_policy(name);
        if (!policy) {
          if (policy.status().code() == Code::kNotFound)
            return Response::error(404, "not_found", "no workflow '" + name + "' with a webhook trigger");
          return Response::from_status(policy.status());
        }
        Status sig = verify_webhook(*policy, q.body, [&q](const std::string& h) { return q.header(h); });
        if (!sig.ok()) return Response::error(401, "unauthenticated", sig.message());

        Json body;
        if (is_json_type(q.header("content-type"))) {
          auto parsed = body_json(q);
          if (!parsed) return Response::from_status(parsed.status());
          body = *parsed;
        } else {
          body = q.body;
        }
        auto headers = json::new_object();
        for (const auto& [k, v] : q.headers)
          if (!private_header(k, *policy)) headers->set(k, v);
        auto query = json::new_object();
        for (const auto& [k, v] : q.query) query->set(k, v);
        Json trigger = json::object(
            {{"type", "webhook"}, {"body", body}, {"headers", Json(headers)}, {"query", Json(query)}});
        bool async = s.workflows->webhook_is_async(name);
        if (!async) return run_text_response(s.runs->run_workflow_text(name, trigger));
        return run_response(s.runs->trigger_workflow(name, trigger, async), async);
      },
      Auth::kNone);
}

}  // namespace weft::daemon
