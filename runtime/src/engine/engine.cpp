// PROVISIONAL — written by the workflow engineer so `weft validate` and `weft run` link and run
// before the plugin loader is merged. It opens the home and the run store and exposes an EMPTY
// catalog (no connector is loaded). The lead replaces this file with the real engine.
#include "engine/engine.hpp"

#include "auth/connection_manager.hpp"
#include "core/paths.hpp"
#include "http/client.hpp"
#include "store/run_store.hpp"
#include "vault/vault.hpp"

namespace weft::engine {

namespace {

class EmptyCatalog final : public plugin::ActionCatalog {
 public:
  const plugin::ActionInfo* find(std::string_view) const override { return nullptr; }
  std::vector<plugin::SchemaIssue> validate_input(const plugin::ActionInfo&, const Json&) const override { return {}; }
  Result<Json> invoke(const plugin::ActionInfo& op, const Json&, const plugin::InvokeContext&) const override {
    return Status(Code::kNotFound, "action '" + op.uses + "' is not loaded");
  }
};

class ProvisionalEngine final : public Engine {
 public:
  ProvisionalEngine(std::unique_ptr<store::RunStore> runs, std::unique_ptr<vault::Vault> vault)
      : runs_(std::move(runs)),
        vault_(std::move(vault)),
        connections_(
            *vault_,
            [](const std::string& id) -> Result<Json> {
              return Status(Code::kNotFound, "connector '" + id + "' is not loaded (provisional engine)");
            },
            [this](http::Request req) { return client_.send(std::move(req)); }) {}
  const std::vector<std::string>& load_diagnostics() const override { return diagnostics_; }
  const plugin::ActionCatalog& catalog() const override { return catalog_; }
  store::RunStore& runs() override { return *runs_; }
  vault::Vault& vault() override { return *vault_; }
  auth::ConnectionManager& connections() override { return connections_; }

 private:
  std::vector<std::string> diagnostics_;
  EmptyCatalog catalog_;
  std::unique_ptr<store::RunStore> runs_;
  std::unique_ptr<vault::Vault> vault_;
  http::Client client_;
  auth::ConnectionManager connections_;
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
  return std::unique_ptr<Engine>(std::make_unique<ProvisionalEngine>(std::move(*runs), std::move(*vault)));
}

}  // namespace weft::engine
