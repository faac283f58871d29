// engine.hpp — wires the modules together for the command line and the daemon: loads connectors,
// opens the run store and the vault, and gives connectors their host services (HTTP with the
// connection's credentials, retries, state).
//
//   auto e = engine::Engine::open({.home = home, .connector_dirs = dirs});
//   if (!e) return fail(e.status());
//   for (auto& line : (*e)->load_diagnostics()) warn(line);
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/status.hpp"
#include "http/client.hpp"
#include "plugin/catalog.hpp"
#include "plugin/registry.hpp"

namespace weft::store {
class RunStore;
}
namespace weft::vault {
class Vault;
}
namespace weft::auth {
class ConnectionManager;
}

namespace weft::plugin {
class Registry;
}
namespace weft::http {
class Client;
}

namespace weft::engine {

struct Options {
  std::string home;
  std::vector<std::string> connector_dirs;  // directories or single .so files, loaded in order
  http::ClientOptions http;                 // the one client every connector call goes through
  // Called when a connection moves to needs_reauth (daemon events). May be empty.
  std::function<void(const std::string& name, const std::string& reason)> on_needs_reauth;
  // The run store behind a write-ahead journal (store::open_journaled): the daemon's choice, where
  // many runs at once would otherwise wait for each other's SQLite commits.
  bool journal = false;
};

class Engine {
 public:
  virtual ~Engine() = default;

  // Creates the home directory (mode 0700) when missing, loads every connector of the directories
  // (a refused file becomes one line in load_diagnostics(); the rest keep loading) and opens the
  // run store. Fails only when the home or the store cannot be opened.
  static Result<std::unique_ptr<Engine>> open(const Options& options);

  // One line per refused connector file or missing directory: "<path>: <reason>".
  virtual const std::vector<std::string>& load_diagnostics() const = 0;
  virtual const plugin::ActionCatalog& catalog() const = 0;
  virtual store::RunStore& runs() = 0;
  // The loaded connectors (for listings); the same object as catalog().
  virtual const plugin::Registry& registry() const = 0;
  // Loads more connectors into the running engine (the daemon picking up new files), as open()
  // does: each path a directory (its *.so, in name order) or one .so; an id already loaded is
  // refused, nothing is ever unloaded. One "<path>: <reason>" line per refused file or missing
  // directory is appended to *diagnostics (may be null); load_diagnostics() keeps the open() lines.
  // Returns Ok when every path loaded, else the first refusal. Thread-safe, also with calls running.
  virtual Status load_connectors(const std::vector<std::string>& paths,
                                 std::vector<std::string>* diagnostics) = 0;
  // Loads one connector file as the daemon does (plugin::LoadOptions: a private image, and a new
  // version replacing the loaded one, which drains). Thread-safe, also with calls running.
  virtual plugin::LoadOutcome load_connector(const std::string& path, const plugin::LoadOptions& options) = 0;
  virtual http::Client& http_client() = 0;
  // The vault opened under options.home (vault::open_sqlite).
  virtual vault::Vault& vault() = 0;
  // Connections and their OAuth2 lifecycle over vault(), the loaded manifests and the HTTP client;
  // hook(name) gives the http::AuthHook for a connection's calls. Thread-safe.
  virtual auth::ConnectionManager& connections() = 0;
};

}  // namespace weft::engine
