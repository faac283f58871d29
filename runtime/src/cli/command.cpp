#include "cli/command.hpp"

#include <Poco/Environment.h>
#include <Poco/Path.h>
#include <unistd.h>

#include <climits>
#include <exception>
#include <ostream>
#include <sstream>

#include "core/paths.hpp"

namespace weft::cli {

std::map<std::string, CommandSpec>& commands() {
  static std::map<std::string, CommandSpec> all;
  return all;
}

Registrar::Registrar(const std::string& path, const std::string& synopsis, const std::string& summary,
                     CommandFn fn) {
  commands()[path] = CommandSpec{path, synopsis, summary, fn};
}

std::optional<std::string> Invocation::take_option(const std::string& name) {
  const std::string flag = "--" + name;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == flag) {
      if (i + 1 >= args.size()) {
        usage_error = flag + " needs a value";
        args.erase(args.begin() + static_cast<long>(i));
        return std::nullopt;
      }
      std::string v = args[i + 1];
      args.erase(args.begin() + static_cast<long>(i), args.begin() + static_cast<long>(i) + 2);
      return v;
    }
    if (args[i].rfind(flag + "=", 0) == 0) {
      std::string v = args[i].substr(flag.size() + 1);
      args.erase(args.begin() + static_cast<long>(i));
      return v;
    }
  }
  return std::nullopt;
}

std::vector<std::string> Invocation::take_all(const std::string& name) {
  std::vector<std::string> values;
  while (auto v = take_option(name)) values.push_back(*v);
  return values;
}

bool Invocation::take_flag(const std::string& name) {
  const std::string flag = "--" + name;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == flag) {
      args.erase(args.begin() + static_cast<long>(i));
      return true;
    }
  }
  return false;
}

bool Invocation::check_positionals(std::size_t min, std::size_t max) {
  if (!usage_error.empty()) {
    usage(usage_error);
    return false;
  }
  for (const auto& a : args) {
    if (a.size() > 1 && a[0] == '-' && a != "-") {
      usage("unknown option '" + a + "'");
      return false;
    }
  }
  if (args.size() < min || args.size() > max) {
    usage(args.size() < min ? "missing argument" : "too many arguments");
    return false;
  }
  return true;
}

int Invocation::fail(const std::string& message) {
  err << "weft: " << message << "\n";
  return kExitFailure;
}

int Invocation::usage(const std::string& message) {
  err << "weft: " << message << "\nusage: " << synopsis << "\n";
  return kExitUsage;
}

namespace {

void print_help(std::ostream& out) {
  out << "weft " << WEFT_VERSION << " — workflow automation engine\n\nusage: weft [--home DIR] "
      << "[--connectors DIR] <command> [args]\n\ncommands:\n";
  for (const auto& [path, spec] : commands()) {
    out << "  weft " << path << (spec.synopsis.empty() ? "" : " " + spec.synopsis) << "\n      "
        << spec.summary << "\n";
  }
  out << "\nenvironment: WEFT_HOME (default ~/.weft), WEFT_CONNECTORS_PATH (colon-separated), "
         "WEFT_MASTER_KEY (base64, 32 bytes)\n";
}

}  // namespace

int dispatch(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err) {
  try {
    GlobalOptions global;
    std::vector<std::string> rest;
    std::vector<std::string> extra_dirs;
    std::optional<std::string> home;
    for (std::size_t i = 0; i < argv.size(); ++i) {
      const std::string& a = argv[i];
      auto value_of = [&](const std::string& flag) -> std::optional<std::string> {
        if (a == flag) {
          if (i + 1 >= argv.size()) return std::nullopt;
          return argv[++i];
        }
        return a.substr(flag.size() + 1);
      };
      if (a == "--home" || a.rfind("--home=", 0) == 0) {
        home = value_of("--home");
        if (!home || home->empty()) {
          err << "weft: --home needs a directory\n";
          return kExitUsage;
        }
      } else if (a == "--connectors" || a.rfind("--connectors=", 0) == 0) {
        auto d = value_of("--connectors");
        if (!d || d->empty()) {
          err << "weft: --connectors needs a directory\n";
          return kExitUsage;
        }
        extra_dirs.push_back(*d);
      } else if (a == "--json") {
        global.json = true;
      } else {
        rest.push_back(a);
      }
    }
    global.home = home ? *home : paths::default_home();
    global.connector_dirs = paths::default_connector_dirs();
    for (auto& d : extra_dirs) global.connector_dirs.push_back(d);

    if (rest.empty() || rest[0] == "help" || rest[0] == "--help" || rest[0] == "-h") {
      print_help(rest.empty() ? err : out);
      return rest.empty() ? kExitUsage : kExitOk;
    }
    if (rest[0] == "--version" || rest[0] == "version") {
      out << "weft " << WEFT_VERSION << "\n";
      return kExitOk;
    }
    // Longest command path that matches the leading words.
    const CommandSpec* found = nullptr;
    std::size_t words = 0;
    for (std::size_t n = std::min<std::size_t>(rest.size(), 3); n >= 1 && found == nullptr; --n) {
      std::string path;
      for (std::size_t i = 0; i < n; ++i) path += (i ? " " : "") + rest[i];
      auto it = commands().find(path);
      if (it != commands().end()) {
        found = &it->second;
        words = n;
      }
    }
    if (found == nullptr) {
      err << "weft: unknown command '" << rest[0] << (rest.size() > 1 ? " " + rest[1] : "")
          << "'; run 'weft help' for the list\n";
      return kExitUsage;
    }
    Invocation inv(global, std::vector<std::string>(rest.begin() + static_cast<long>(words), rest.end()), out, err);
    inv.synopsis = "weft " + found->path + (found->synopsis.empty() ? "" : " " + found->synopsis);
    if (inv.take_flag("help")) {
      out << "usage: " << inv.synopsis << "\n" << found->summary << "\n";
      return kExitOk;
    }
    return found->fn(inv);
  } catch (const std::exception& e) {
    err << "weft: internal error: " << e.what() << "\n";
    return kExitFailure;
  } catch (...) {
    err << "weft: internal error\n";
    return kExitFailure;
  }
}

}  // namespace weft::cli
