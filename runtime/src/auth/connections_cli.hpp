// connections_cli.hpp — the logic of `weft connections ...`, in the library so it is tested
// in-process; src/cli/cmd_connections.cpp parses flags and calls these. Each returns the exit
// status (0 ok, 1 failure with one "weft: ..." line on err, 2 usage) and never prints a secret.
//
//   int rc = auth::cli_list(manager, /*json=*/true, std::cout, std::cerr);
//
// `connections list --json` prints a stable array, one object per connection:
//   {"name","connector","auth","state","scopes":[...],"access_expires_at":epoch|null,
//    "refresh_expires_at":epoch|null,"last_error":string}
#pragma once

#include <chrono>
#include <functional>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "auth/connection_manager.hpp"

namespace weft::auth {

// "key=value" arguments of --set; kInvalidArgument names the bad one.
Result<std::map<std::string, std::string>> parse_settings(const std::vector<std::string>& pairs);

int cli_add(ConnectionManager& m, const AddRequest& req, std::ostream& out, std::ostream& err);
int cli_list(ConnectionManager& m, bool json, std::ostream& out, std::ostream& err);
int cli_refresh(ConnectionManager& m, const std::string& name, std::ostream& out, std::ostream& err);
int cli_remove(ConnectionManager& m, const std::string& name, std::ostream& out, std::ostream& err);

struct AuthorizeCliOptions {
  std::optional<std::string> listen;                   // "HOST:PORT": serve the redirect on it
  std::chrono::seconds wait{600};                      // how long the redirect is waited for
  std::function<void(const std::string& url)> on_url;  // called with the authorize URL (tests)
  // The callback URL of a `weft serve` running on the same home (daemon::find_running_daemon),
  // used when listen is not given; vault is the one the daemon completes into (required with it).
  std::optional<std::string> daemon_callback;
  vault::Vault* vault = nullptr;
  std::chrono::milliseconds poll{200};  // how often the vault is read while waiting for the daemon
  // After the daemon took the state: how long the code exchange may take before the authorization
  // is reported as failed (the daemon answered the browser with the reason).
  std::chrono::seconds exchange_grace{15};
};
// Prints the authorize URL. With listen: serves GET <any path> on HOST:PORT (redirect_uri
// http://HOST:PORT/oauth/callback), completes the first redirect, answers a small HTML page and
// returns 0 with the connection active, or 1 with the reason (bad state, denial, timeout).
// Without listen, with daemon_callback: redirect_uri is the daemon's GET /oauth/callback; waits
// (up to wait; Ctrl-C aborts) until the daemon has completed it: 0 and "connection 'X' is active",
// or 1 when the daemon took the state but no tokens arrived (denied, refused exchange) or on
// timeout. Neither: the connection's redirect_uri setting; without one, 1 with how to finish
// (start `weft serve`, or pass --listen).
int cli_authorize(ConnectionManager& m, const std::string& name, const AuthorizeCliOptions& opts,
                  std::ostream& out, std::ostream& err);

}  // namespace weft::auth
