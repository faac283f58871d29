// command.hpp — the `weft` command line: each command lives in its own file and registers itself.
//
//   static int run_list(cli::Invocation& inv) { ...; return cli::kExitOk; }
//   static cli::Registrar reg("connectors list", "[--json]", "List loaded connectors", run_list);
//
// Exit status (DESIGN): 0 success, 1 a failure the user must fix (one clear line on stderr),
// 2 bad usage.
#pragma once

#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace weft::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// Options valid before or after any command.
struct GlobalOptions {
  std::string home;                         // --home, WEFT_HOME, default ~/.weft
  std::vector<std::string> connector_dirs;  // built-in dir first, then WEFT_CONNECTORS_PATH, then --connectors
  bool json = false;                        // --json
};

// The arguments of one command, after the command words and the global options are removed.
class Invocation {
 public:
  Invocation(GlobalOptions global, std::vector<std::string> args, std::ostream& out, std::ostream& err)
      : global(std::move(global)), args(std::move(args)), out(out), err(err) {}

  GlobalOptions global;
  std::vector<std::string> args;
  std::ostream& out;
  std::ostream& err;

  // Removes "--name VALUE" (or "--name=VALUE") and returns VALUE; nullopt when absent.
  // A flag given without a value sets usage_error.
  std::optional<std::string> take_option(const std::string& name);
  // Removes every "--name VALUE"; returns the values in order.
  std::vector<std::string> take_all(const std::string& name);
  // Removes a boolean "--name"; true when present.
  bool take_flag(const std::string& name);
  // After the take_* calls: fails with a usage message when any "--x" is left or when the number
  // of positional arguments is outside [min, max]. Returns true when usable.
  bool check_positionals(std::size_t min, std::size_t max);

  // Prints "weft: <message>" to err and returns kExitFailure / kExitUsage.
  int fail(const std::string& message);
  int usage(const std::string& message);

  std::string usage_error;  // set by take_option when a flag lacks its value
  std::string synopsis;     // "weft connectors list [--json]" — filled by the dispatcher
};

using CommandFn = int (*)(Invocation&);

struct CommandSpec {
  std::string path;      // "connectors list"
  std::string synopsis;  // "[--json]"
  std::string summary;
  CommandFn fn = nullptr;
};

// All commands, by path. Filled during static initialisation.
std::map<std::string, CommandSpec>& commands();

struct Registrar {
  Registrar(const std::string& path, const std::string& synopsis, const std::string& summary, CommandFn fn);
};

// Entry point used by main(); also called by tests in-process. Never throws.
int dispatch(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err);

}  // namespace weft::cli
