// weft validate <workflow.yaml>... — checks files without running them. Problems go to stderr as
// "file:line:column: message (hint: ...)", every one, not only the first; exit 1 when any file
// has a problem, 0 with one "ok" line per file otherwise.
//
// --json prints one line: {"ok":bool,"files":[{"file":"...","ok":bool,"steps":n,
//   "problems":[{"where":"file:line:column","message":"...","hint":"..."}]}]}
#include <ostream>

#include "cli/command.hpp"
#include "cli/common.hpp"
#include "core/redact.hpp"
#include "workflow/workflow.hpp"
#include "workflow/yaml_loader.hpp"

namespace weft::cli {
namespace {

int run_validate(Invocation& inv) {
  const bool as_json = inv.take_flag("json") || inv.global.json;
  if (!inv.check_positionals(1, 1000)) return kExitUsage;
  // Checks the user's connector directories, opens the home, the run store and the vault, loads
  // the connectors; prints one line and gives null on failure.
  auto engine = open_engine(inv);
  if (!engine) return kExitFailure;

  bool all_ok = true;
  auto files = json::new_array();
  for (const auto& path : inv.args) {
    std::vector<workflow::Problem> problems;
    std::size_t steps = 0;
    auto doc = workflow::load_yaml_file(path);
    if (!doc) {
      // The loader's message reads "file:line:column: what (hint: ...)": split it into the fields.
      std::string message = doc.status().message();
      std::string hint;
      if (const auto h = message.rfind(" (hint: "); h != std::string::npos && message.back() == ')') {
        hint = message.substr(h + 8, message.size() - h - 9);
        message.erase(h);
      }
      const auto colon = message.find(": ");
      if (colon == std::string::npos) {
        problems.push_back({"", message, hint});
      } else {
        problems.push_back({message.substr(0, colon), message.substr(colon + 2), hint});
      }
    } else {
      problems = workflow::validate(*doc, engine->catalog());
      if (auto s = json::as_array(json::get(doc->root, "steps")); !s.isNull()) steps = s->size();
    }
    auto list = json::new_array();
    for (const auto& p : problems) {
      const std::string line = p.where.empty() ? p.message : p.to_string();
      if (!as_json) inv.err << redact::apply(line) << "\n";
      list->add(json::object(
          {{"where", p.where.empty() ? line.substr(0, line.find(": ")) : p.where},
           {"message", p.where.empty() ? line.substr(std::min(line.size(), line.find(": ") + 2)) : p.message},
           {"hint", p.hint}}));
    }
    if (problems.empty() && !as_json)
      inv.out << "ok: " << path << " (" << steps << " step" << (steps == 1 ? "" : "s") << ")\n";
    all_ok = all_ok && problems.empty();
    files->add(json::object({{"file", path},
                             {"ok", problems.empty()},
                             {"steps", static_cast<Poco::Int64>(steps)},
                             {"problems", list}}));
  }
  if (as_json)
    inv.out << redact::apply(json::stringify(json::object({{"ok", all_ok}, {"files", files}}))) << "\n";
  return all_ok ? kExitOk : kExitFailure;
}

const Registrar reg("validate", "<workflow.yaml>... [--json]", "Check workflow files without running them",
                    run_validate);

}  // namespace
}  // namespace weft::cli
