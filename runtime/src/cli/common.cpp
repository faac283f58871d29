#include "cli/common.hpp"

#include <filesystem>
#include <ostream>
#include <sstream>

namespace weft::cli {

namespace {
std::vector<std::string> existing_dirs(const Invocation& inv) {
  std::vector<std::string> dirs;
  for (std::size_t i = 0; i < inv.global.connector_dirs.size(); ++i) {
    std::error_code ec;
    // A missing built-in directory (e.g. a bare binary) is not the user's doing: skip it quietly.
    if (i == 0 && !std::filesystem::exists(inv.global.connector_dirs[i], ec)) continue;
    dirs.push_back(inv.global.connector_dirs[i]);
  }
  return dirs;
}
}  // namespace

Json LoadedRegistry::refused_json() const {
  auto list = json::new_array();
  for (const auto& s : refused) {
    const std::string& m = s.message();
    auto colon = m.find(": ");
    list->add(json::object({{"file", colon == std::string::npos ? std::string() : m.substr(0, colon)},
                            {"reason", colon == std::string::npos ? m : m.substr(colon + 2)}}));
  }
  return list;
}

bool check_connector_dirs(Invocation& inv) {
  // The first directory is the built-in one; the rest came from the user.
  for (std::size_t i = 1; i < inv.global.connector_dirs.size(); ++i) {
    const auto& d = inv.global.connector_dirs[i];
    std::error_code ec;
    if (!std::filesystem::exists(d, ec)) {
      inv.fail("connectors directory '" + d + "' does not exist (from --connectors or WEFT_CONNECTORS_PATH)");
      return false;
    }
  }
  return true;
}

std::unique_ptr<LoadedRegistry> load_registry(Invocation& inv, plugin::HostServices* services, bool quiet) {
  if (!check_connector_dirs(inv)) return nullptr;
  auto loaded = std::make_unique<LoadedRegistry>();
  loaded->registry = std::make_unique<plugin::Registry>(services);
  loaded->refused = loaded->registry->load(existing_dirs(inv));
  if (!quiet) {
    for (const auto& s : loaded->refused) inv.err << "weft: warning: " << s.message() << "\n";
  }
  return loaded;
}

std::unique_ptr<engine::Engine> open_engine(Invocation& inv, bool quiet) {
  if (!check_connector_dirs(inv)) return nullptr;
  engine::Options options;
  options.home = inv.global.home;
  options.connector_dirs = existing_dirs(inv);
  auto e = engine::Engine::open(options);
  if (!e) {
    inv.fail(e.status().message());
    return nullptr;
  }
  if (!quiet) {
    for (const auto& line : (*e)->load_diagnostics()) inv.err << "weft: warning: " << line << "\n";
  }
  return std::move(*e);
}

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? sep : "") + parts[i];
  return out;
}

std::string indent(const std::string& text, int n) {
  std::istringstream in(text);
  std::string line, out;
  const std::string pad(static_cast<std::size_t>(n), ' ');
  while (std::getline(in, line)) out += (out.empty() ? "" : "\n") + pad + line;
  return out;
}

}  // namespace weft::cli
