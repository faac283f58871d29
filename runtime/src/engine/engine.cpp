// PROVISIONAL — written by the workflow engineer so `weft validate` and `weft run` work on the
// workflow branch before the lead's engine lands. It loads connectors through plugin::Registry,
// serves their host calls with the shared http::Client (credentials through the connection
// manager when a step names a connection), keeps connector state in the run store, and opens the
// vault. The lead replaces this file with main's engine.cpp at merge.
#include "engine/engine.hpp"

#include <filesystem>

#include "auth/connection_manager.hpp"
#include "core/log.hpp"
#include "core/paths.hpp"
#include "engine/http_bridge.hpp"
#include "http/client.hpp"
#include "plugin/registry.hpp"
#include "store/run_store.hpp"
#include "vault/vault.hpp"

namespace weft::engine {

namespace {

// Host calls of every loaded connector. Thread-safe: the client, the store and the manager are.
class Services final : public plugin::HostServices {
 public:
  Services(http::Client& client, store::RunStore& runs, auth::ConnectionManager& connections)
      : client_(client), runs_(runs), connections_(connections) {}

  void set_registry(const plugin::Registry* registry) { registry_ = registry; }

  Result<Json> http(const plugin::ActionInfo& op, const plugin::InvokeContext& ctx, const Json& request) override {
    auto req = http_bridge::request_from_json(request);
    if (!req) return req.status();
    http::CallOptions opts;
    opts.deadline = ctx.deadline;
    if (!ctx.connection.empty()) {
      opts.limiter_key = "conn:" + ctx.connection;
      if (http_bridge::wants_auth(request)) {
        auto hook = connections_.hook(ctx.connection);
        if (!hook) return hook.status();
        opts.auth = *hook;
      }
    } else {
      opts.limiter_key = "connector:" + op.connector;
    }
    auto resp = client_.send(std::move(*req), opts);
    if (!resp) return resp.status();
    return http_bridge::response_to_json(*resp);
  }

  Result<Json> settings(const plugin::ActionInfo& op, const plugin::InvokeContext&) override {
    if (registry_ != nullptr) {
      if (auto c = registry_->connector(op.connector)) return c->settings_defaults;
    }
    return json::object();
  }

  Result<std::optional<Json>> state_get(const plugin::ActionInfo& op, const plugin::InvokeContext& ctx,
                                        const std::string& key) override {
    auto text = runs_.state_get(scope(op, ctx), key);
    if (!text) return text.status();
    if (!*text) return std::optional<Json>();
    auto v = json::parse(**text);
    if (!v) return v.status();
    return std::optional<Json>(*v);
  }

  Status state_set(const plugin::ActionInfo& op, const plugin::InvokeContext& ctx, const std::string& key,
                   const Json& value) override {
    return runs_.state_set(scope(op, ctx), key, json::stringify(value));
  }

  void log(const plugin::ActionInfo* op, const plugin::InvokeContext* ctx, plugin::LogLevel level,
           std::string_view msg) override {
    log::Fields fields;
    if (ctx != nullptr && !ctx->run_id.empty()) fields.emplace_back("run", ctx->run_id);
    if (ctx != nullptr && !ctx->step_id.empty()) fields.emplace_back("step", ctx->step_id);
    const std::string component = op != nullptr ? op->connector : std::string("connector");
    switch (level) {
      case plugin::LogLevel::kDebug: log::debug(component, msg, fields); break;
      case plugin::LogLevel::kInfo: log::info(component, msg, fields); break;
      case plugin::LogLevel::kWarn: log::warn(component, msg, fields); break;
      case plugin::LogLevel::kError: log::error(component, msg, fields); break;
    }
  }

 private:
  static std::string scope(const plugin::ActionInfo& op, const plugin::InvokeContext& ctx) {
    return op.connector + "/" + ctx.state_scope;
  }

  http::Client& client_;
  store::RunStore& runs_;
  auth::ConnectionManager& connections_;
  const plugin::Registry* registry_ = nullptr;
};

class ProvisionalEngine final : public Engine {
 public:
  ProvisionalEngine(std::unique_ptr<store::RunStore> runs, std::unique_ptr<vault::Vault> vault)
      : runs_(std::move(runs)), vault_(std::move(vault)) {
    connections_ = std::make_unique<auth::ConnectionManager>(
        *vault_,
        [this](const std::string& id) -> Result<Json> {
          if (auto c = registry_->connector(id)) return c->manifest;
          return Status(Code::kNotFound, "no connector '" + id + "' is loaded");
        },
        [this](http::Request req) { return client_.send(std::move(req)); });
    services_ = std::make_unique<Services>(client_, *runs_, *connections_);
    registry_ = std::make_unique<plugin::Registry>(services_.get());
    services_->set_registry(registry_.get());
  }

  void load(const std::vector<std::string>& dirs) {
    std::vector<std::string> existing;
    for (std::size_t i = 0; i < dirs.size(); ++i) {
      std::error_code ec;
      // A missing built-in directory (the first; e.g. a bare binary) is not the user's doing.
      if (i == 0 && !std::filesystem::exists(dirs[i], ec)) continue;
      existing.push_back(dirs[i]);
    }
    for (const auto& s : registry_->load(existing)) diagnostics_.push_back(s.message());
  }

  const std::vector<std::string>& load_diagnostics() const override { return diagnostics_; }
  const plugin::ActionCatalog& catalog() const override { return *registry_; }
  store::RunStore& runs() override { return *runs_; }
  vault::Vault& vault() override { return *vault_; }
  auth::ConnectionManager& connections() override { return *connections_; }

 private:
  // Declaration order is destruction order reversed: the registry (which calls the services) goes
  // first, the store and the vault last.
  std::unique_ptr<store::RunStore> runs_;
  std::unique_ptr<vault::Vault> vault_;
  http::Client client_;
  std::unique_ptr<auth::ConnectionManager> connections_;
  std::unique_ptr<Services> services_;
  std::unique_ptr<plugin::Registry> registry_;
  std::vector<std::string> diagnostics_;
};

}  // namespace

Result<std::unique_ptr<Engine>> Engine::open(const Options& options) {
  std::string error;
  if (!paths::ensure_private_dir(options.home, error)) {
    return Status(Code::kFailedPrecondition, "cannot use home " + options.home + ": " + error);
  }
  auto runs = store::open_sqlite(options.home + "/runs.db");
  if (!runs) return runs.status();
  auto vault = vault::open_sqlite(options.home);
  if (!vault) return vault.status();
  auto engine = std::make_unique<ProvisionalEngine>(std::move(*runs), std::move(*vault));
  engine->load(options.connector_dirs);
  return std::unique_ptr<Engine>(std::move(engine));
}

}  // namespace weft::engine
