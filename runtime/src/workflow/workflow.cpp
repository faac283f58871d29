#include "workflow/workflow.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <set>
#include <valijson/adapters/poco_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include "core/embedded.hpp"

namespace weft::workflow {

namespace {

constexpr auto kMaxTimeout = std::chrono::hours(24);

// The workflow schema, compiled once (thread-safe static initialisation). Null when the embedded
// schema is broken, which is a build defect reported as a problem rather than a crash.
const valijson::Schema* workflow_schema() {
  static const std::unique_ptr<valijson::Schema> schema = []() -> std::unique_ptr<valijson::Schema> {
    try {
      auto doc = json::parse(embedded::schema_text("workflow.schema.json"));
      if (!doc) return nullptr;
      auto s = std::make_unique<valijson::Schema>();
      valijson::SchemaParser parser;
      valijson::adapters::PocoJsonAdapter adapter(*doc);
      parser.populateSchema(adapter, *s);
      return s;
    } catch (const std::exception&) {
      return nullptr;
    }
  }();
  return schema.get();
}

std::string context_to_pointer(const std::vector<std::string>& context) {
  std::string p;
  for (const auto& c : context) {
    if (c == "<root>") continue;
    if (c.size() >= 2 && c.front() == '[' && c.back() == ']') {
      p += "/" + pointer_escape(c.substr(1, c.size() - 2));
    }
  }
  return p;
}

// The value at a JSON pointer made by context_to_pointer (no escapes in step keys), or null.
Json value_at(const Json& root, const std::string& pointer) {
  Json cur = root;
  std::size_t i = 0;
  while (i < pointer.size()) {
    const std::size_t next = pointer.find('/', i + 1);
    const std::string seg =
        pointer.substr(i + 1, next == std::string::npos ? std::string::npos : next - i - 1);
    if (auto a = json::as_array(cur); !a.isNull()) {
      const std::size_t idx = seg.find_first_not_of("0123456789") == std::string::npos && !seg.empty()
                                  ? std::stoul(seg)
                                  : a->size();
      cur = idx < a->size() ? a->get(static_cast<unsigned>(idx)) : Json();
    } else {
      cur = json::get(cur, seg);
    }
    if (next == std::string::npos) break;
    i = next;
  }
  return cur;
}

std::string last_segment(const std::string& pointer) {
  const auto slash = pointer.rfind('/');
  return slash == std::string::npos ? pointer : pointer.substr(slash + 1);
}

// What a key expects, for the hints of its schema problems; "" when the key is not one of ours.
std::string expected_for(const std::string& pointer, const std::string& key) {
  const bool in_step =
      pointer.rfind("/steps/", 0) == 0 && std::count(pointer.begin(), pointer.end(), '/') == 3;
  const bool in_input =
      pointer.rfind("/inputs/", 0) == 0 && std::count(pointer.begin(), pointer.end(), '/') == 3;
  if (pointer == "/name") return "`name:` is a non-empty line of text of at most 200 characters";
  if (pointer == "/description") return "`description:` is text";
  if (pointer == "/resume") return "`resume:` is true or false";
  if (pointer == "/inputs") return "`inputs:` is a mapping of input names to `{type: ...}`";
  if (pointer == "/steps") return "steps is a non-empty list of `- id: ...` / `  uses: connector.action`";
  if (in_step) {
    if (key == "continue-on-error") return "`continue-on-error:` is true or false (no quotes)";
    if (key == "name") return "a step's `name:` is text";
    if (key == "connection") return "`connection:` names a connection; `weft connections list` shows them";
    if (key == "with") return "`with:` is a mapping of the action's inputs";
    if (key == "if") return "write a condition such as ${{ steps.a.output.ok == true }}, or true/false";
  }
  if (pointer.rfind("/steps/", 0) == 0 && std::count(pointer.begin(), pointer.end(), '/') == 2)
    return "a step is a mapping with at least `id:` and `uses:`";
  if (in_input) {
    if (key == "type") return "an input's type is one of string, number, integer, boolean, object, array";
    if (key == "required") return "`required:` is true or false";
    if (key == "description") return "an input's `description:` is text";
  }
  if (pointer.rfind("/inputs/", 0) == 0 && std::count(pointer.begin(), pointer.end(), '/') == 2)
    return "an input is `name: {type: string|number|integer|boolean|object|array, default: ..., required: "
           "true}`";
  return "";
}

// A hint for a schema problem at `pointer`, from what the key expects and the kind of rule broken
// (valijson's description names it). Never empty.
std::string hint_for(const std::string& pointer, const std::string& message = "") {
  const std::string key = last_segment(pointer);
  if (pointer.rfind("/on", 0) == 0) {
    return "write `on: {webhook: {}}`, `on: {schedule: \"*/5 * * * *\"}`, or a connector trigger "
           "`on: {uses: connector.trigger, connection: name}`";
  }
  const auto has = [&](const char* s) { return message.find(s) != std::string::npos; };
  // A missing key: say which keys the place needs.
  if (has("Missing required property")) {
    if (pointer.empty()) return "a workflow needs `name:` and `steps:` at the top level";
    if (pointer.rfind("/steps/", 0) == 0) return "every step needs `id:` and `uses: connector.action`";
    if (pointer.rfind("/inputs/", 0) == 0)
      return "every input needs `type:` (string, number, integer, boolean, object or array)";
    return "add the missing key";
  }
  if (pointer.rfind("/inputs/", 0) == 0 && has("property name"))
    return "an input name starts with a letter or '_', then letters, digits, '_' or '-'";
  if (key == "id" && pointer.rfind("/steps/", 0) == 0)
    return "a step id starts with a lowercase letter, then lowercase letters, digits, '_' or '-' (at most "
           "64)";
  if (key == "uses")
    return "write connector.action, e.g. http.request; `weft connectors list` shows what is loaded";
  if (key == "timeout" || key == "interval") return "a whole number and a unit: 500ms, 30s, 2m, 1h";
  if (std::string e = expected_for(pointer, key); !e.empty()) {
    if (pointer == "/steps" && has("no fewer than")) return "a workflow needs at least one step: " + e;
    return e;
  }
  // Whatever the place, the kind of rule broken.
  if (has("'type' constraint"))
    return "the value has the wrong type; quote text, write true/false or a number";
  if (has("enum")) return "use one of the values the schema allows";
  if (has("String should be no fewer than")) return "the value must not be empty";
  if (has("String should be no more than")) return "shorten the value";
  if (has("'pattern' constraint")) return "the value must match the documented form";
  if (has("Array should contain no fewer than")) return "the list needs more items";
  if (has("Object should have")) return "check the number of keys in this mapping";
  return "the workflow format is in README.md and schemas/workflow.schema.json";
}

// valijson reports every level of a failure ("failed to validate item #0" around "missing
// property id"); users need the innermost ones. `on` is a oneOf whose branch errors are noise:
// one line for it is clearer.
void schema_problems(const YamlDocument& doc, std::vector<Problem>& out) {
  const valijson::Schema* schema = workflow_schema();
  if (schema == nullptr) {
    out.push_back({doc.where(""), "internal error: the embedded workflow schema does not compile",
                   "this is a defect of the weft build; please report it with `weft version`"});
    return;
  }
  valijson::ValidationResults results;
  try {
    valijson::Validator validator;
    valijson::adapters::PocoJsonAdapter target(doc.root);
    validator.validate(*schema, target, &results);
  } catch (const std::exception& e) {
    out.push_back({doc.where(""), std::string("cannot check the workflow schema: ") + e.what(),
                   "this is a defect of weft; please report it with the file"});
    return;
  }
  struct Err {
    std::string pointer;
    std::string message;
  };
  std::vector<Err> errs;
  valijson::ValidationResults::Error e;
  while (results.popError(e)) errs.push_back({context_to_pointer(e.context), e.description});
  bool on_reported = false;
  std::set<std::string> seen;
  for (std::size_t i = 0; i < errs.size(); ++i) {
    const auto& err = errs[i];
    if (err.pointer == "/on" || err.pointer.rfind("/on/", 0) == 0) {
      if (on_reported) continue;
      on_reported = true;
      out.push_back(
          {doc.where("/on"), "`on` is not a webhook, a schedule or a connector trigger", hint_for("/on")});
      continue;
    }
    // `inputs` names are checked with propertyNames; valijson names the parent ('inputs'), not
    // the key, and gives no position: find the names that break the rule and point at each.
    if (err.message.find("associated with property name") != std::string::npos &&
        (err.pointer.empty() || err.pointer == "/inputs")) {
      if (auto inputs = json::as_object(json::get(doc.root, "inputs")); !inputs.isNull()) {
        for (const auto& k : inputs->getNames()) {
          const bool ok = !k.empty() && (std::isalpha(static_cast<unsigned char>(k[0])) || k[0] == '_') &&
                          std::all_of(k.begin(), k.end(), [](char c) {
                            return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
                          });
          if (ok || !seen.insert("/inputs/" + k + "\nname").second) continue;
          out.push_back({doc.where_key("/inputs/" + pointer_escape(k)),
                         "input name '" + k + "' is not in the expected form",
                         "an input name starts with a letter or '_', then letters, digits, '_' or '-'"});
        }
        continue;
      }
    }
    // "Failed to validate item #0 in array" and the like only wrap the errors that follow them.
    if (err.message.rfind("Failed to validate", 0) == 0 && errs.size() > 1) continue;
    std::string message = err.message;
    std::string pointer = err.pointer;
    // "Object contains a property that could not be validated ...: 'x'." names the key: point at it.
    const auto q = message.rfind("'");
    const auto q0 = q == std::string::npos || q == 0 ? std::string::npos : message.rfind("'", q - 1);
    if (message.find("could not be validated using 'properties'") != std::string::npos &&
        q0 != std::string::npos) {
      const std::string key = message.substr(q0 + 1, q - q0 - 1);
      pointer += "/" + pointer_escape(key);
      message = "unknown key '" + key + "'" + (err.pointer.empty() ? "" : " in " + err.pointer.substr(1));
    }
    if (message.find("'pattern' constraint") != std::string::npos) {
      const Json v = value_at(doc.root, pointer);
      message = (v.isString() ? "'" + v.extract<std::string>() + "'" : std::string("the value")) +
                " is not in the expected form";
    }
    if (!seen.insert(pointer + "\n" + message).second) continue;
    std::string hint = hint_for(pointer, err.message);
    if (message.rfind("unknown key", 0) == 0) {
      if (err.pointer.empty()) {
        hint = "top-level keys are name, description, on, inputs, resume, steps";
      } else if (err.pointer.rfind("/steps/", 0) == 0) {
        hint = "step keys are id, name, uses, connection, with, if, timeout, continue-on-error";
      } else if (err.pointer.rfind("/inputs/", 0) == 0) {
        hint = "input keys are type, default, required, description";
      } else {
        hint = "remove the key or check its spelling";
      }
    }
    if (message.rfind("unknown key", 0) == 0) {
      out.push_back({doc.where_key(pointer), message, hint});  // the message names the place already
    } else {
      out.push_back({doc.where(pointer), (pointer.empty() ? "" : pointer.substr(1) + ": ") + message, hint});
    }
  }
}

std::optional<InputType> input_type_from(const std::string& s) {
  for (auto t : {InputType::kString, InputType::kNumber, InputType::kInteger, InputType::kBoolean,
                 InputType::kObject, InputType::kArray}) {
    if (s == to_string(t)) return t;
  }
  return std::nullopt;
}

std::string join_ids(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out.empty() ? "none" : out;
}

// Where a problem inside an expression is: the value's position, plus the character offset the
// parser reported (already in the message).
struct ExprSite {
  std::string pointer;
  std::string text;
};

void collect_strings(const Json& v, const std::string& pointer, std::vector<ExprSite>& out) {
  if (v.isString()) {
    const std::string s = v.extract<std::string>();
    if (expr::contains_expression(s) || s.find("}}") != std::string::npos) out.push_back({pointer, s});
    return;
  }
  if (auto o = json::as_object(v); !o.isNull()) {
    for (const auto& k : o->getNames()) collect_strings(o->get(k), pointer + "/" + pointer_escape(k), out);
  } else if (auto a = json::as_array(v); !a.isNull()) {
    for (std::size_t i = 0; i < a->size(); ++i)
      collect_strings(a->get(i), pointer + "/" + std::to_string(i), out);
  }
}

bool has_expression_inside(const Json& v) {
  std::vector<ExprSite> sites;
  collect_strings(v, "", sites);
  return std::any_of(sites.begin(), sites.end(),
                     [](const ExprSite& s) { return expr::contains_expression(s.text); });
}

// The 1-based character an expression error names ("... at character 12 ..."), or 0. The
// expression module writes that phrase into every parse error.
std::size_t error_character(const std::string& message) {
  static constexpr std::string_view kAt = "at character ";
  const auto p = message.find(kAt);
  if (p == std::string::npos) return 0;
  return static_cast<std::size_t>(std::strtoul(message.c_str() + p + kAt.size(), nullptr, 10));
}

// (line, column) parsed back from "file:line:column", for sorting problems in file order.
std::pair<long, long> position_key(const Problem& p) {
  const auto c2 = p.where.rfind(':');
  const auto c1 = c2 == std::string::npos || c2 == 0 ? std::string::npos : p.where.rfind(':', c2 - 1);
  if (c1 == std::string::npos) return {0, 0};
  return {std::atol(p.where.c_str() + c1 + 1), std::atol(p.where.c_str() + c2 + 1)};
}

}  // namespace

std::string Problem::to_string() const {
  return where + ": " + message + (hint.empty() ? "" : " (hint: " + hint + ")");
}

const char* to_string(InputType t) {
  switch (t) {
    case InputType::kString:
      return "string";
    case InputType::kNumber:
      return "number";
    case InputType::kInteger:
      return "integer";
    case InputType::kBoolean:
      return "boolean";
    case InputType::kObject:
      return "object";
    case InputType::kArray:
      return "array";
  }
  return "string";
}

std::optional<std::chrono::milliseconds> parse_duration(const std::string& text) {
  std::size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (i == 0 || i > 9) return std::nullopt;
  const long long n = std::stoll(text.substr(0, i));
  const std::string unit = text.substr(i);
  std::chrono::milliseconds ms{0};
  if (unit == "ms") {
    ms = std::chrono::milliseconds(n);
  } else if (unit == "s") {
    ms = std::chrono::seconds(n);
  } else if (unit == "m") {
    ms = std::chrono::minutes(n);
  } else if (unit == "h") {
    ms = std::chrono::hours(n);
  } else {
    return std::nullopt;
  }
  if (ms.count() <= 0 || ms > kMaxTimeout) return std::nullopt;
  return ms;
}

Result<Json> CompiledValue::render(const Json& context) const {
  switch (kind_) {
    case Kind::kStatic:
      return static_value_;
    case Kind::kTemplate:
      return template_->render(context);
    case Kind::kObject: {
      auto o = json::new_object();
      for (const auto& [k, v] : members_) {
        auto r = v.render(context);
        if (!r) return r.status().with_context(k);
        o->set(k, *r);
      }
      return Json(o);
    }
    case Kind::kArray: {
      auto a = json::new_array();
      for (const auto& m : members_) {
        auto r = m.second.render(context);
        if (!r) return r;
        a->add(*r);
      }
      return Json(a);
    }
  }
  return Json();
}

Result<CompiledValue> CompiledValue::compile(const Json& v, std::string& pointer_out) {
  CompiledValue c;
  if (!has_expression_inside(v)) {
    c.static_value_ = v;
    return c;
  }
  if (v.isString()) {
    auto t = expr::Template::parse(v.extract<std::string>());
    if (!t) return t.status();
    c.kind_ = Kind::kTemplate;
    c.template_ = std::make_shared<const expr::Template>(std::move(*t));
    return c;
  }
  if (auto o = json::as_object(v); !o.isNull()) {
    c.kind_ = Kind::kObject;
    for (const auto& k : o->getNames()) {
      std::string inner;
      auto m = compile(o->get(k), inner);
      if (!m) {
        pointer_out = "/" + pointer_escape(k) + inner;
        return m.status();
      }
      c.members_.emplace_back(k, std::move(*m));
    }
    return c;
  }
  auto a = json::as_array(v);
  c.kind_ = Kind::kArray;
  for (std::size_t i = 0; i < a->size(); ++i) {
    std::string inner;
    auto m = compile(a->get(i), inner);
    if (!m) {
      pointer_out = "/" + std::to_string(i) + inner;
      return m.status();
    }
    c.members_.emplace_back("", std::move(*m));
  }
  return c;
}

std::vector<Problem> validate(const YamlDocument& doc, const plugin::ActionCatalog& catalog) {
  std::vector<Problem> out;
  schema_problems(doc, out);
  if (!out.empty() && !json::is_array(json::get(doc.root, "steps"))) return out;

  std::set<std::string> input_names;
  if (auto inputs = json::as_object(json::get(doc.root, "inputs")); !inputs.isNull()) {
    for (const auto& k : inputs->getNames()) input_names.insert(k);
  }

  // A connector trigger written in `on`.
  const Json on = json::get(doc.root, "on");
  const std::string trigger_uses = json::get_string(on, "uses");
  if (!trigger_uses.empty()) {
    const plugin::ActionInfo* t = catalog.find(trigger_uses);
    if (t == nullptr) {
      out.push_back({doc.where("/on/uses"), "unknown trigger '" + trigger_uses + "'",
                     "`weft connectors list` shows the loaded connectors and their triggers"});
    } else if (t->kind != plugin::OperationKind::kTrigger) {
      out.push_back(
          {doc.where("/on/uses"), "'" + trigger_uses + "' is an action, not a trigger", "use it as a step"});
    } else {
      // A connector without auth (auth: none) polls without a connection whatever it declares.
      if (t->requires_connection && t->auth_kind != "none" && !t->auth_kind.empty() &&
          json::get_string(on, "connection").empty()) {
        out.push_back({doc.where("/on/uses"), "trigger " + trigger_uses + " needs a connection",
                       "add `connection: <name>` under `on:`; `weft connections list` shows them"});
      }
      // The trigger's parameters are static (nothing has run yet): all of `with` is checked now,
      // against the same input schema the poller checks before every poll.
      const Json with = json::get(on, "with");
      if (with.isEmpty() || json::is_object(with)) {
        const Json params = with.isEmpty() ? Json(json::new_object()) : with;
        for (const auto& issue : catalog.validate_input(*t, params)) {
          const std::string p = "/on/with" + (issue.path == "/" ? "" : issue.path);
          out.push_back(
              {doc.where(p), "with" + issue.path + ": " + issue.message + " (" + trigger_uses + " input)",
               "`weft connectors describe " + t->connector + "` shows the inputs of " + trigger_uses});
        }
      }
    }
  }

  auto steps = json::as_array(json::get(doc.root, "steps"));
  std::map<std::string, std::size_t> first_index;
  std::vector<std::string> ids;
  for (std::size_t i = 0; steps && i < steps->size(); ++i)
    ids.push_back(json::get_string(steps->get(i), "id"));

  for (std::size_t i = 0; steps && i < steps->size(); ++i) {
    const Json step = steps->get(i);
    const std::string base = "/steps/" + std::to_string(i);
    const std::string id = json::get_string(step, "id");
    if (!id.empty()) {
      auto [it, inserted] = first_index.emplace(id, i);
      if (!inserted) {
        const Mark m = doc.mark_of("/steps/" + std::to_string(it->second) + "/id");
        out.push_back({doc.where(base + "/id"), "duplicate step id '" + id + "'",
                       "already used at line " + std::to_string(m.line) + "; give each step its own id"});
      }
    }
    // Expressions: syntax, and what they name.
    std::vector<ExprSite> sites;
    collect_strings(json::get(step, "with"), base + "/with", sites);
    const Json cond = json::get(step, "if");
    if (cond.isString()) sites.push_back({base + "/if", cond.extract<std::string>()});
    for (const auto& site : sites) {
      const bool bare_if = site.pointer == base + "/if" && !expr::contains_expression(site.text);
      auto t = bare_if ? expr::Template::parse_bare(site.text) : expr::Template::parse(site.text);
      if (!t) {
        if (!bare_if && !expr::contains_expression(site.text)) continue;  // a lone "}}" is just text
        out.push_back({doc.where_in_string(site.pointer, site.text, error_character(t.status().message())),
                       "bad expression: " + t.status().message(),
                       "expressions are ${{ path or function(...) }}; strings inside use 'single quotes'"});
        continue;
      }
      for (const auto& ref : t->references()) {
        if (ref.root == "steps" && !ref.name.empty()) {
          auto found = first_index.find(ref.name);
          if (found == first_index.end() || found->second >= i) {
            const bool later = std::find(ids.begin(), ids.end(), ref.name) != ids.end();
            std::vector<std::string> earlier(ids.begin(), ids.begin() + static_cast<long>(i));
            out.push_back({doc.where(site.pointer),
                           later ? "steps." + ref.name + " is not run before step '" + id + "'"
                                 : "no step '" + ref.name + "' (in steps." + ref.name + ")",
                           "an expression can read only earlier steps: " + join_ids(earlier)});
          }
        } else if (ref.root == "inputs" && !ref.name.empty() && input_names.count(ref.name) == 0) {
          out.push_back({doc.where(site.pointer), "no input '" + ref.name + "' is declared",
                         "declare it under `inputs:` (declared: " +
                             join_ids(std::vector<std::string>(input_names.begin(), input_names.end())) +
                             ")"});
        }
      }
    }
    // The action, its connection and the static part of `with`.
    const std::string uses = json::get_string(step, "uses");
    if (uses.empty()) continue;
    const plugin::ActionInfo* action = catalog.find(uses);
    if (action == nullptr) {
      out.push_back(
          {doc.where(base + "/uses"), "unknown action '" + uses + "'",
           "`weft connectors list` shows the loaded connectors; `--connectors DIR` adds a directory"});
      continue;
    }
    if (action->kind != plugin::OperationKind::kAction) {
      out.push_back({doc.where(base + "/uses"), "'" + uses + "' is a trigger, not an action",
                     "put it under `on:` instead"});
      continue;
    }
    if (action->requires_connection && json::get_string(step, "connection").empty()) {
      out.push_back({doc.where(base + "/uses"),
                     "step '" + id + "' uses " + uses + ", which needs a connection",
                     "add `connection: <name>`; `weft connections list` shows them"});
    }
    const Json with = json::get(step, "with");
    if (!with.isEmpty() && !json::is_object(with)) continue;  // the schema already said so
    auto static_part = json::new_object();
    std::vector<std::string> dynamic_keys;
    if (auto w = json::as_object(with); !w.isNull()) {
      for (const auto& k : w->getNames()) {
        if (has_expression_inside(w->get(k))) {
          dynamic_keys.push_back(k);
        } else {
          static_part->set(k, w->get(k));
        }
      }
    }
    for (const auto& issue : catalog.validate_input(*action, Json(static_part))) {
      // A key given by an expression is only known at run time: a "required" complaint about it
      // is wrong now, and the executor checks the rendered value.
      const bool about_dynamic =
          std::any_of(dynamic_keys.begin(), dynamic_keys.end(), [&](const std::string& k) {
            return issue.message.find("'" + k + "'") != std::string::npos ||
                   issue.message.find("\"" + k + "\"") != std::string::npos;
          });
      if ((issue.path.empty() || issue.path == "/") && about_dynamic) continue;
      const std::string p = base + "/with" + (issue.path == "/" ? "" : issue.path);
      out.push_back({doc.where(p), "with" + issue.path + ": " + issue.message + " (" + uses + " input)",
                     "`weft connectors describe " + action->connector + "` shows the inputs of " + uses});
    }
  }
  std::stable_sort(out.begin(), out.end(),
                   [&](const Problem& a, const Problem& b) { return position_key(a) < position_key(b); });
  return out;
}

Result<Workflow> compile(const YamlDocument& doc) {
  Workflow wf;
  wf.file = doc.file;
  wf.name = json::get_string(doc.root, "name");
  wf.description = json::get_string(doc.root, "description");
  wf.on = json::get(doc.root, "on");
  const Json resume = json::get(doc.root, "resume");
  wf.resume = resume.type() == typeid(bool) && resume.extract<bool>();
  if (auto inputs = json::as_object(json::get(doc.root, "inputs")); !inputs.isNull()) {
    for (const auto& k : inputs->getNames()) {
      const Json spec = inputs->get(k);
      InputSpec in;
      in.name = k;
      auto type = input_type_from(json::get_string(spec, "type", "string"));
      if (!type)
        return Status(Code::kInvalidArgument, doc.where("/inputs/" + pointer_escape(k)) + ": bad input type");
      in.type = *type;
      if (auto o = json::as_object(spec); !o.isNull() && o->has("default"))
        in.default_value = o->get("default");
      const Json req = json::get(spec, "required");
      in.required = req.type() == typeid(bool) && req.extract<bool>();
      in.description = json::get_string(spec, "description");
      wf.inputs.push_back(std::move(in));
    }
  }
  auto steps = json::as_array(json::get(doc.root, "steps"));
  if (steps.isNull() || steps->size() == 0) {
    return Status(Code::kInvalidArgument, doc.where("/steps") + ": a workflow needs at least one step");
  }
  for (std::size_t i = 0; i < steps->size(); ++i) {
    const Json s = steps->get(i);
    const std::string base = "/steps/" + std::to_string(i);
    Step step;
    step.index = static_cast<int>(i);
    step.id = json::get_string(s, "id");
    step.name = json::get_string(s, "name");
    step.uses = json::get_string(s, "uses");
    step.connection = json::get_string(s, "connection");
    step.with = json::get(s, "with");
    if (step.with.isEmpty()) step.with = json::new_object();
    std::string where;
    auto compiled = CompiledValue::compile(step.with, where);
    if (!compiled) {
      return Status(Code::kInvalidArgument,
                    doc.where(base + "/with" + where) + ": " + compiled.status().message());
    }
    step.with_value = std::move(*compiled);
    const Json cond = json::get(s, "if");
    if (cond.type() == typeid(bool)) {
      step.condition = std::make_shared<const expr::Template>(
          std::move(*expr::Template::parse_bare(cond.extract<bool>() ? "true" : "false")));
    } else if (cond.isString()) {
      const std::string text = cond.extract<std::string>();
      auto t =
          expr::contains_expression(text) ? expr::Template::parse(text) : expr::Template::parse_bare(text);
      if (!t) return Status(Code::kInvalidArgument, doc.where(base + "/if") + ": " + t.status().message());
      step.condition = std::make_shared<const expr::Template>(std::move(*t));
    }
    if (const std::string timeout = json::get_string(s, "timeout"); !timeout.empty()) {
      step.timeout = parse_duration(timeout);
      if (!step.timeout) {
        return Status(Code::kInvalidArgument,
                      doc.where(base + "/timeout") + ": bad timeout '" + timeout + "'");
      }
    }
    const Json coe = json::get(s, "continue-on-error");
    step.continue_on_error = coe.type() == typeid(bool) && coe.extract<bool>();
    wf.steps.push_back(std::move(step));
  }
  return wf;
}

Result<Workflow> load(const std::string& path, const plugin::ActionCatalog& catalog) {
  auto doc = load_yaml_file(path);
  if (!doc) return doc.status();
  auto problems = validate(*doc, catalog);
  if (!problems.empty()) {
    std::string msg;
    for (const auto& p : problems) msg += (msg.empty() ? "" : "\n") + p.to_string();
    return Status(Code::kInvalidArgument, msg);
  }
  return compile(*doc);
}

}  // namespace weft::workflow
