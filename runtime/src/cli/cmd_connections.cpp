// `weft connections add|list|authorize|refresh|remove`: flag parsing here, the logic in
// auth/connections_cli.hpp (tested in-process by tests/auth/cli_test.cpp).
#include <functional>

#include "auth/connections_cli.hpp"
#include "cli/command.hpp"
#include "cli/common.hpp"
#include "daemon/process.hpp"
#include "engine/engine.hpp"

namespace weft::cli {
namespace {

// Runs fn with the engine's connection manager (vault under the home, manifests of the loaded
// connectors, the shared HTTP client for token requests).
int with_connections(Invocation& inv, const std::function<int(auth::ConnectionManager&)>& fn) {
  auto e = open_engine(inv);
  if (!e) return kExitFailure;
  return fn(e->connections());
}

int run_add(Invocation& inv) {
  auth::AddRequest req;
  auto connector = inv.take_option("connector");
  req.client_id = inv.take_option("client-id").value_or("");
  req.client_secret = inv.take_option("client-secret").value_or("");
  req.token = inv.take_option("token").value_or("");
  auto sets = inv.take_all("set");
  if (!inv.check_positionals(1, 1)) return kExitUsage;
  if (!connector) return inv.usage("--connector <id> is required");
  auto settings = auth::parse_settings(sets);
  if (!settings) return inv.usage(settings.status().message());
  req.name = inv.args[0];
  req.connector = *connector;
  req.settings = std::move(*settings);
  return with_connections(
      inv, [&](auth::ConnectionManager& m) { return auth::cli_add(m, req, inv.out, inv.err); });
}

int run_list(Invocation& inv) {
  bool as_json = inv.take_flag("json") || inv.global.json;
  if (!inv.check_positionals(0, 0)) return kExitUsage;
  return with_connections(
      inv, [&](auth::ConnectionManager& m) { return auth::cli_list(m, as_json, inv.out, inv.err); });
}

int run_authorize(Invocation& inv) {
  auth::AuthorizeCliOptions opts;
  opts.listen = inv.take_option("listen");
  if (!inv.check_positionals(1, 1)) return kExitUsage;
  const std::string name = inv.args[0];
  auto e = open_engine(inv);
  if (!e) return kExitFailure;
  // A `weft serve` on this home receives the redirect on its /oauth/callback.
  if (!opts.listen) {
    if (auto d = daemon::find_running_daemon(inv.global.home)) {
      opts.daemon_callback = d->callback_url;
      opts.vault = &e->vault();
    }
  }
  return auth::cli_authorize(e->connections(), name, opts, inv.out, inv.err);
}

int run_refresh(Invocation& inv) {
  if (!inv.check_positionals(1, 1)) return kExitUsage;
  const std::string name = inv.args[0];
  return with_connections(
      inv, [&](auth::ConnectionManager& m) { return auth::cli_refresh(m, name, inv.out, inv.err); });
}

int run_remove(Invocation& inv) {
  if (!inv.check_positionals(1, 1)) return kExitUsage;
  const std::string name = inv.args[0];
  return with_connections(
      inv, [&](auth::ConnectionManager& m) { return auth::cli_remove(m, name, inv.out, inv.err); });
}

Registrar reg_add(
    "connections add",
    "<name> --connector <id> [--client-id ID --client-secret S | --token T] [--set key=value]...",
    "Add a connection (credentials are sealed in the vault)", run_add);
Registrar reg_list("connections list", "[--json]", "List connections: state, scopes, expiry (never a secret)",
                   run_list);
Registrar reg_authorize(
    "connections authorize", "<name> [--listen HOST:PORT]",
    "Print the OAuth2 authorize URL and wait for the redirect: on the running weft serve's "
    "/oauth/callback, or on --listen HOST:PORT",
    run_authorize);
Registrar reg_refresh("connections refresh", "<name>", "Refresh a connection's OAuth2 tokens now",
                      run_refresh);
Registrar reg_remove("connections remove", "<name>", "Revoke (where supported) and delete a connection",
                     run_remove);

}  // namespace
}  // namespace weft::cli
