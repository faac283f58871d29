// PROVISIONAL — keeps `weft` usable until the lead's real engine lands (it replaces this file):
// connectors from plugin::Registry, their HTTP calls through one http::Client (credentials from
// the connection's AuthHook), trigger state in the run store, the vault and a ConnectionManager
// over the loaded manifests.
#include "engine/engine.hpp"

#include "auth/connection_manager.hpp"
#include "core/log.hpp"
#include "core/paths.hpp"
#include "engine/http_bridge.hpp"
#include "plugin/registry.hpp"
#include "store/run_store.hpp"
#include "vault/vault.hpp"

namespace weft::engine {

namespace {

class Host final : public plugin::HostServices {
 public:
  Host(http::Client& client, store::RunStore& runs) : client_(client), runs_(runs) {}
  void set_connections(auth::ConnectionManager* c) { connections_ = c; }

  Result<Json> http(const plugin::ActionInfo& op, const plugin::InvokeContext& ctx, const Json& request) override {
    auto req = http_bridge::request_from_json(request);
    if (!req) return req.status();
    http::CallOptions o;
    o.limiter_key = ctx.connection.empty() ? op.connector : op.connector + "/" + ctx.connection;
    o.deadline = ctx.deadline;
    if (!ctx.connection.empty() && http_bridge::wants_auth(request) && connections_ != nullptr) {
      auto hook = connections_->hook(ctx.connection);
      if (!hook) return hook.status();
      o.auth = *hook;
    }
    auto resp = client_.send(std::move(*req), o);
    if (!resp) return resp.status();
    return http_bridge::response_to_json(*resp);
  }
  Result<Json> settings(const plugin::ActionInfo&, const plugin::InvokeContext&) override { return json::object(); }
  Result<std::optional<Json>> state_get(const plugin::ActionInfo& op, const plugin::InvokeContext& ctx,
                                        const std::string& key) override {
    auto v = runs_.state_get(op.connector + "/" + ctx.state_scope, key);
    if (!v) return v.status();
    if (!*v) return std::optional<Json>();
    auto j = json::parse(**v);
    if (!j) return j.status();
    return std::optional<Json>(*j);
  }
  Status state_set(const plugin::ActionInfo& op, const plugin::InvokeContext& ctx, const std::string& key,
                   const Json& value) override {
    return runs_.state_set(op.connector + "/" + ctx.state_scope, key, json::stringify(value));
  }
  void log(const plugin::ActionInfo* op, const plugin::InvokeContext*, plugin::LogLevel level,
           std::string_view msg) override {
    const auto l = level == plugin::LogLevel::kError  ? log::Level::kError
                   : level == plugin::LogLevel::kWarn ? log::Level::kWarn
                   : level == plugin::LogLevel::kInfo ? log::Level::kInfo
                                                      : log::Level::kDebug;
    log::write(l, op ? op->connector : "connector", msg);
  }

 private:
  http::Client& client_;
  store::RunStore& runs_;
  auth::ConnectionManager* connections_ = nullptr;
};

class ProvisionalEngine final : public Engine {
 public:
  ProvisionalEngine(std::unique_ptr<store::RunStore> runs, std::unique_ptr<vault::Vault> vault,
                    const std::vector<std::string>& dirs)
      : runs_(std::move(runs)), vault_(std::move(vault)), host_(client_, *runs_), registry_(&host_) {
    for (const Status& s : registry_.load(dirs)) diagnostics_.push_back(s.message());
    connections_ = std::make_unique<auth::ConnectionManager>(
        *vault_,
        [this](const std::string& id) -> Result<Json> {
          auto c = registry_.connector(id);
          if (!c) return Status(Code::kNotFound, "connector '" + id + "' is not loaded");
          return c->manifest;
        },
        [this](http::Request r) { return client_.send(std::move(r)); });
    host_.set_connections(connections_.get());
  }
  const std::vector<std::string>& load_diagnostics() const override { return diagnostics_; }
  const plugin::ActionCatalog& catalog() const override { return registry_; }
  store::RunStore& runs() override { return *runs_; }
  vault::Vault& vault() override { return *vault_; }
  auth::ConnectionManager& connections() override { return *connections_; }

 private:
  std::vector<std::string> diagnostics_;
  std::unique_ptr<store::RunStore> runs_;
  std::unique_ptr<vault::Vault> vault_;
  http::Client client_;
  Host host_;
  plugin::Registry registry_;
  std::unique_ptr<auth::ConnectionManager> connections_;
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
  return std::unique_ptr<Engine>(
      std::make_unique<ProvisionalEngine>(std::move(*runs), std::move(*vault), options.connector_dirs));
}

}  // namespace weft::engine
