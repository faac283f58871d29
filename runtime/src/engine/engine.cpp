// engine.cpp — the wiring: one HTTP client, the run store, the vault and its connection manager,
// and the plugin registry whose host services (HTTP with credentials, settings, state, logs) are
// implemented here over them.
#include "engine/engine.hpp"

#include <Poco/URI.h>

#include <future>
#include <map>
#include <mutex>
#include <optional>

#include "auth/connection_manager.hpp"
#include "core/log.hpp"
#include "core/paths.hpp"
#include "engine/http_bridge.hpp"
#include "plugin/registry.hpp"
#include "store/run_store.hpp"
#include "vault/vault.hpp"

namespace weft::engine {
namespace {

// A setting stored as text in the vault, converted to the type its manifest declares so the
// connector sees the same JSON types as in the defaults. A value that does not convert stays text;
// the connector's own checks report it.
Json typed_setting(const Json& declared, const std::string& text) {
  const std::string type = json::get_string(declared, "type");
  try {
    if (type == "integer") {
      std::size_t used = 0;
      long long v = std::stoll(text, &used);
      if (used == text.size()) return Json(static_cast<Poco::Int64>(v));
    } else if (type == "number") {
      std::size_t used = 0;
      double v = std::stod(text, &used);
      if (used == text.size()) return Json(v);
    } else if (type == "boolean") {
      if (text == "true") return Json(true);
      if (text == "false") return Json(false);
    }
  } catch (const std::exception&) {
    // not a number: keep the text
  }
  return Json(text);
}

// "oauth-token:<scheme>://<host>:<port>" of a token endpoint URL (the whole URL when it does not
// parse; the client then refuses it anyway).
std::string token_limiter_key(const std::string& url) {
  try {
    Poco::URI u(url);
    return "oauth-token:" + u.getScheme() + "://" + u.getHost() + ":" + std::to_string(u.getPort());
  } catch (const Poco::Exception&) {
    return "oauth-token:" + url;
  }
}

class EngineImpl final : public Engine, public plugin::HostServices {
 public:
  // The connectors are loaded here; the run store and the vault come after (attach), so
  // Engine::open can open them on other threads meanwhile. Loading uses neither: a connector's
  // create() has only its settings.
  explicit EngineImpl(const Options& options) : client_(options.http) {
    registry_ = std::make_unique<plugin::Registry>(this);
    for (const Status& refused : registry_->load(options.connector_dirs))
      diagnostics_.push_back(refused.message());
  }

  void attach(const Options& options, std::unique_ptr<store::RunStore> runs, std::unique_ptr<vault::Vault> vault) {
    runs_ = std::move(runs);
    vault_ = std::move(vault);
    auth::ManagerOptions mo;
    mo.on_needs_reauth = options.on_needs_reauth;
    connections_ = std::make_unique<auth::ConnectionManager>(
        *vault_,
        [this](const std::string& id) -> Result<Json> {
          auto info = registry_->connector(id);
          if (!info) {
            return Status(Code::kNotFound,
                          "connector '" + id + "' is not loaded (see `weft connectors list`)");
          }
          // What the manager reads of a manifest; the whole text is not parsed for it.
          return Json(json::object({{"auth", info->auth}, {"settings", info->settings}}));
        },
        // Token requests are never retried: a refresh that reached the server may have rotated the
        // pair, and resending the old refresh token is the replay RELIABILITY row 4 forbids (even
        // for Livepush's GET exchange, which looks idempotent). A 429 on one token endpoint pauses
        // that endpoint's later requests, not other providers' nor the connections' API calls.
        [this](http::Request r) {
          http::CallOptions o;
          o.limiter_key = token_limiter_key(r.url);
          o.max_attempts = 1;
          o.idempotent = false;
          o.metrics_label = "oauth-token";
          return client_.send(std::move(r), o);
        },
        mo);
  }

  ~EngineImpl() override {
    // Connectors go first: an instance may still call back into the services while destroyed.
    registry_.reset();
  }

  // --- Engine
  const std::vector<std::string>& load_diagnostics() const override { return diagnostics_; }
  const plugin::ActionCatalog& catalog() const override { return *registry_; }
  store::RunStore& runs() override { return *runs_; }
  const plugin::Registry& registry() const override { return *registry_; }
  Status load_connectors(const std::vector<std::string>& paths,
                         std::vector<std::string>* diagnostics) override {
    std::vector<Status> refused = registry_->load(paths);
    {
      // A connector id looked up before it was loaded may have cached "no pacing".
      std::lock_guard lock(mu_);
      rates_.clear();
    }
    if (diagnostics != nullptr)
      for (const Status& r : refused) diagnostics->push_back(r.message());
    return refused.empty() ? Status::Ok() : refused.front();
  }
  plugin::LoadOutcome load_connector(const std::string& path, const plugin::LoadOptions& options) override {
    plugin::LoadOutcome out = registry_->load_file(path, options);
    std::lock_guard lock(mu_);
    rates_.clear();  // a new version may declare another pace
    return out;
  }
  http::Client& http_client() override { return client_; }
  vault::Vault& vault() override { return *vault_; }
  auth::ConnectionManager& connections() override { return *connections_; }

  // --- HostServices
  Result<Json> http(const plugin::ActionInfo& op, const plugin::InvokeContext& ctx,
                    const Json& request) override {
    auto resp = send(op, ctx, request);
    if (!resp) return resp.status();
    return http_bridge::response_to_json(*resp);
  }
  Result<std::string> http_text(const plugin::ActionInfo& op, const plugin::InvokeContext& ctx,
                                const Json& request) override {
    auto resp = send(op, ctx, request);
    if (!resp) return resp.status();
    return http_bridge::response_to_text(*resp);
  }

  Result<Json> settings(const plugin::ActionInfo& op, const plugin::InvokeContext& ctx) override {
    auto info = registry_->connector(op.connector);
    Json merged = json::new_object();
    Json declared = json::new_object();
    if (info) {
      merged = json::clone(info->settings_defaults);
      if (merged.isEmpty()) merged = json::new_object();
      declared = info->settings;
    }
    if (ctx.connection.empty()) return merged;
    WEFT_RETURN_IF_ERROR(check_connection(op, ctx.connection));
    auto rec = vault_->get(ctx.connection);
    if (!rec) return rec.status();
    auto obj = json::as_object(merged);
    if (obj.isNull()) {
      obj = json::new_object();
      merged = obj;
    }
    for (const auto& [k, v] : rec->settings) obj->set(k, typed_setting(json::get(declared, k), v));
    auto secrets = vault_->secrets(ctx.connection);
    if (!secrets) return secrets.status();
    static const std::string kPrefix = "setting:";
    for (const auto& [k, v] : *secrets) {
      if (k.rfind(kPrefix, 0) == 0) {
        const std::string name = k.substr(kPrefix.size());
        obj->set(name, typed_setting(json::get(declared, name), v));
      }
    }
    return merged;
  }

  Result<std::optional<Json>> state_get(const plugin::ActionInfo& op, const plugin::InvokeContext& ctx,
                                        const std::string& key) override {
    auto text = runs_->state_get(scope_of(op, ctx), key);
    if (!text) return text.status();
    if (!*text) return std::optional<Json>();
    auto value = json::parse(**text);
    if (!value)
      return Status(Code::kDataLoss, "stored state '" + key + "' of " + op.connector + " is not JSON");
    return std::optional<Json>(*value);
  }

  Status state_set(const plugin::ActionInfo& op, const plugin::InvokeContext& ctx, const std::string& key,
                   const Json& value) override {
    return runs_->state_set(scope_of(op, ctx), key, json::stringify(value));
  }

  void log(const plugin::ActionInfo* op, const plugin::InvokeContext* ctx, plugin::LogLevel level,
           std::string_view msg) override {
    log::Fields fields;
    if (ctx != nullptr && !ctx->run_id.empty()) fields.push_back({"run", ctx->run_id});
    if (ctx != nullptr && !ctx->step_id.empty()) fields.push_back({"step", ctx->step_id});
    const std::string component = op == nullptr ? std::string("connector") : "connector." + op->connector;
    log::Level l = log::Level::kInfo;
    switch (level) {
      case plugin::LogLevel::kDebug:
        l = log::Level::kDebug;
        break;
      case plugin::LogLevel::kInfo:
        l = log::Level::kInfo;
        break;
      case plugin::LogLevel::kWarn:
        l = log::Level::kWarn;
        break;
      case plugin::LogLevel::kError:
        l = log::Level::kError;
        break;
    }
    log::write(l, component, msg, fields);
  }

 private:
  // weft_host.http's request sent with the call's connection, pace, retries and deadline.
  Result<http::Response> send(const plugin::ActionInfo& op, const plugin::InvokeContext& ctx,
                              const Json& request) {
    auto req = http_bridge::request_from_json(request);
    if (!req) return req.status();
    http::CallOptions opts;
    if (http_bridge::wants_auth(request)) {
      if (!ctx.connection.empty()) {
        // Also for `auth: none` connectors: the generic http connector's connections declare
        // their auth in settings, and the manager applies it.
        WEFT_RETURN_IF_ERROR(check_connection(op, ctx.connection));
        auto hook = connections_->hook(ctx.connection);
        if (!hook) return hook.status();
        opts.auth = *hook;
      } else if (op.auth_kind != "none") {
        return Status(
            Code::kFailedPrecondition,
            op.uses +
                " needs a connection: set `connection: <name>` on the step (see `weft connections list`)");
      }
    }
    // Calls on one connection share a 429 cooldown and the provider's declared pace; calls without
    // one share them per connector.
    opts.limiter_key = ctx.connection.empty() ? "connector:" + op.connector : "conn:" + ctx.connection;
    opts.rate = rate_of(op.connector);
    opts.deadline = ctx.deadline;
    opts.metrics_label = op.connector;  // per connector, not per connection: bounded metric series
    return client_.send(std::move(*req), opts);
  }

  static std::string scope_of(const plugin::ActionInfo& op, const plugin::InvokeContext& ctx) {
    return ctx.state_scope.empty() ? op.connector : op.connector + "/" + ctx.state_scope;
  }

  // A step may only use a connection made for its own connector: another connector's credentials
  // must never reach this provider. Remembered per name once seen (names are unique in the vault).
  Status check_connection(const plugin::ActionInfo& op, const std::string& name) {
    std::string connector;
    {
      std::lock_guard lock(mu_);
      auto it = connector_of_.find(name);
      if (it != connector_of_.end()) connector = it->second;
    }
    if (connector.empty()) {
      auto rec = vault_->get(name);
      if (!rec) {
        if (rec.status().code() == Code::kNotFound) {
          return Status(Code::kNotFound, "connection '" + name +
                                             "' does not exist: add it with `weft connections add " + name +
                                             " --connector " + op.connector + " ...`");
        }
        return rec.status();
      }
      connector = rec->connector;
      std::lock_guard lock(mu_);
      connector_of_[name] = connector;
    }
    if (connector != op.connector) {
      return Status(Code::kInvalidArgument, "connection '" + name + "' belongs to connector '" + connector +
                                                "', not '" + op.connector + "' (step uses " + op.uses + ")");
    }
    return Status::Ok();
  }

  std::optional<http::RateSpec> rate_of(const std::string& connector) {
    {
      std::lock_guard lock(mu_);
      auto it = rates_.find(connector);
      if (it != rates_.end()) return it->second;
    }
    std::optional<http::RateSpec> rate;
    if (auto info = registry_->connector(connector)) {
      Json r = info->rate_limit;
      if (!r.isEmpty()) {
        try {
          rate = http::RateSpec{json::get(r, "requests").convert<int>(),
                                json::get(r, "per_seconds").convert<double>()};
        } catch (const Poco::Exception&) {
          // the manifest schema guarantees the types; a failure here means no pacing
        }
      }
    }
    std::lock_guard lock(mu_);
    rates_[connector] = rate;
    return rate;
  }

  http::Client client_;
  std::unique_ptr<store::RunStore> runs_;
  std::unique_ptr<vault::Vault> vault_;
  std::unique_ptr<auth::ConnectionManager> connections_;
  std::unique_ptr<plugin::Registry> registry_;
  std::vector<std::string> diagnostics_;
  std::mutex mu_;  // guards the two caches
  std::map<std::string, std::string> connector_of_;
  std::map<std::string, std::optional<http::RateSpec>> rates_;
};

}  // namespace

Result<std::unique_ptr<Engine>> Engine::open(const Options& options) {
  std::string error;
  if (!paths::ensure_private_dir(options.home, error)) {
    return Status(Code::kFailedPrecondition,
                  "cannot use home directory " + options.home + ": " + error + " (set --home or WEFT_HOME)");
  }
  // The run store (its SQLite file, a journal left by a killed process) and the vault (its key,
  // OpenSSL's first use, its database) open on threads of their own while the connectors load
  // here: on two cores the daemon is ready that much sooner. The futures' destructors wait for
  // them on every return; the run store's error is reported before the vault's, as before.
  auto runs_job = std::async(std::launch::async, [&options] {
    return options.journal ? store::open_journaled(options.home + "/runs.db")
                           : store::open_sqlite(options.home + "/runs.db");
  });
  auto vault_job = std::async(std::launch::async, [&options] { return vault::open_sqlite(options.home); });
  auto engine = std::make_unique<EngineImpl>(options);
  auto runs = runs_job.get();
  if (!runs) return runs.status();
  auto vault = vault_job.get();
  if (!vault) return vault.status();
  engine->attach(options, std::move(*runs), std::move(*vault));
  return std::unique_ptr<Engine>(std::move(engine));
}

}  // namespace weft::engine
