// `weft connectors list` and `weft connectors describe`: what is loaded, with every action's and
// trigger's JSON Schemas. Loading needs no home directory, so these never create one.
#include <filesystem>
#include <iomanip>
#include <ostream>
#include <sstream>

#include "cli/command.hpp"
#include "cli/common.hpp"
#include "core/json.hpp"
#include "plugin/registry.hpp"

namespace weft::cli {
namespace {

Json operation_json(const plugin::ActionInfo& op, bool with_schemas) {
  auto o = json::new_object();
  o->set("id", op.uses);
  o->set("title", op.title);
  o->set("description", op.description);
  o->set("requires_connection", op.requires_connection);
  if (op.default_interval_seconds) o->set("default_interval_seconds", *op.default_interval_seconds);
  if (with_schemas) {
    o->set("input", op.input_schema());
    o->set("output", op.output_schema());
  }
  return o;
}

Json connector_json(const plugin::ConnectorInfo& c, bool with_schemas) {
  auto o = json::new_object();
  o->set("id", c.id);
  o->set("version", c.version);
  o->set("name", c.name);
  o->set("description", c.description);
  o->set("auth", with_schemas ? c.auth : Json(c.auth_kind));
  if (with_schemas) o->set("settings", c.settings);
  o->set("file", c.path);
  auto actions = json::new_array();
  for (const auto* a : c.actions) actions->add(operation_json(*a, with_schemas));
  auto triggers = json::new_array();
  for (const auto* t : c.triggers) triggers->add(operation_json(*t, with_schemas));
  o->set("actions", actions);
  o->set("triggers", triggers);
  return o;
}

int run_list(Invocation& inv) {
  bool json_out = inv.take_flag("json") || inv.global.json;
  if (!inv.check_positionals(0, 0)) return kExitUsage;
  auto loaded = load_registry(inv);
  if (!loaded) return kExitFailure;
  auto& registry = *loaded->registry;
  if (json_out) {
    auto list = json::new_array();
    for (const auto& c : registry.connectors()) list->add(connector_json(*c, false));
    inv.out << json::stringify(json::object({{"connectors", list}, {"refused", loaded->refused_json()}})) << "\n";
    return kExitOk;
  }
  auto all = registry.connectors();
  if (all.empty()) {
    inv.out << "no connectors loaded (directories: " << join(inv.global.connector_dirs, ", ") << ")\n";
    return kExitOk;
  }
  std::size_t w = 2;
  for (const auto& c : all) w = std::max(w, c->id.size());
  inv.out << std::left << std::setw(static_cast<int>(w) + 2) << "ID" << std::setw(10) << "VERSION" << std::setw(11)
          << "AUTH" << std::setw(9) << "ACTIONS" << std::setw(10) << "TRIGGERS" << "NAME\n";
  for (const auto& c : all) {
    inv.out << std::left << std::setw(static_cast<int>(w) + 2) << c->id << std::setw(10) << c->version
            << std::setw(11) << c->auth_kind << std::setw(9) << c->actions.size() << std::setw(10)
            << c->triggers.size() << c->name << "\n";
  }
  return kExitOk;
}

void describe_operations(std::ostream& out, const char* heading, const std::vector<const plugin::ActionInfo*>& ops) {
  if (ops.empty()) return;
  out << "\n" << heading << ":\n";
  for (const auto* op : ops) {
    out << "\n  " << op->uses << " — " << op->title << "\n";
    if (!op->description.empty()) out << "    " << op->description << "\n";
    if (!op->requires_connection) out << "    (needs no connection)\n";
    if (op->default_interval_seconds) out << "    polls every " << *op->default_interval_seconds << " s by default\n";
    out << "    input schema:\n" << indent(json::pretty(op->input_schema()), 6) << "\n";
    out << "    output schema:\n" << indent(json::pretty(op->output_schema()), 6) << "\n";
  }
}

int run_describe(Invocation& inv) {
  bool json_out = inv.take_flag("json") || inv.global.json;
  if (!inv.check_positionals(1, 1)) return kExitUsage;
  auto loaded = load_registry(inv);
  if (!loaded) return kExitFailure;
  auto c = loaded->registry->connector(inv.args[0]);
  if (!c) {
    std::vector<std::string> ids;
    for (const auto& x : loaded->registry->connectors()) ids.push_back(x->id);
    return inv.fail("no connector '" + inv.args[0] + "' is loaded (loaded: " +
                    (ids.empty() ? std::string("none") : join(ids, ", ")) + ")");
  }
  if (json_out) {
    inv.out << json::stringify(connector_json(*c, true)) << "\n";
    return kExitOk;
  }
  auto& out = inv.out;
  out << c->name << " (" << c->id << " " << c->version << ")\n";
  if (!c->description.empty()) out << c->description << "\n";
  out << "file: " << c->path << "\nauth: " << c->auth_kind << "\n";
  if (auto settings = json::as_object(c->settings); !settings.isNull() && settings->size() > 0) {
    out << "\nsettings (weft connections add ... --set name=value):\n";
    for (const auto& name : settings->getNames()) {
      Json s = settings->get(name);
      out << "  " << name << " (" << json::get_string(s, "type", "string") << ")";
      Json def = json::get(s, "default");
      if (!def.isEmpty()) out << " default " << json::stringify(def);
      if (json::get(s, "secret").isBoolean() && json::get(s, "secret").convert<bool>()) out << " [secret]";
      std::string d = json::get_string(s, "description");
      if (!d.empty()) out << " — " << d;
      out << "\n";
    }
  }
  describe_operations(out, "actions", c->actions);
  describe_operations(out, "triggers", c->triggers);
  return kExitOk;
}

const Registrar kList("connectors list", "[--json]", "List the loaded connectors", run_list);
const Registrar kDescribe("connectors describe", "<connector> [--json]",
                          "Show a connector's settings, actions and triggers with their JSON Schemas", run_describe);

}  // namespace
}  // namespace weft::cli
