// common.hpp — helpers shared by the command files: loading connectors with the user's
// directories checked, and small text utilities.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cli/command.hpp"
#include "core/json.hpp"
#include "engine/engine.hpp"
#include "plugin/registry.hpp"

namespace weft::cli {

struct LoadedRegistry {
  std::unique_ptr<plugin::Registry> registry;
  std::vector<Status> refused;
  // [{"file": ..., "reason": ...}] for --json outputs.
  Json refused_json() const;
};

// Fails (printing one line, returning nullopt-like empty) when a directory the user named with
// --connectors or WEFT_CONNECTORS_PATH does not exist. Loads every directory; each refused file is
// printed as "weft: warning: <path>: <reason>" on stderr unless quiet.
std::unique_ptr<LoadedRegistry> load_registry(Invocation& inv, plugin::HostServices* services = nullptr,
                                              bool quiet = false);

// Opens the engine (home, run store, vault, connectors) for a command: checks the user's connector
// directories first, skips a missing built-in directory, prints each refused connector file as a
// warning unless quiet. On failure prints the error and returns null (exit 1).
std::unique_ptr<engine::Engine> open_engine(Invocation& inv, bool quiet = false);

// Checks that each user-given connector directory exists. Prints the error and returns false.
bool check_connector_dirs(Invocation& inv);

std::string join(const std::vector<std::string>& parts, const std::string& sep);
// Every line of text prefixed with n spaces.
std::string indent(const std::string& text, int n);

}  // namespace weft::cli
