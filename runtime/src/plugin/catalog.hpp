// catalog.hpp — what the workflow engine needs from loaded connectors, as an interface, so the
// workflow module can be tested without a .so and the plugin registry can change behind it.
//
//   const ActionInfo* a = catalog.find_action("http.request");
//   if (a == nullptr) ... unknown action ...
//   Result<Json> out = catalog.invoke(*a, input, ctx);
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.hpp"
#include "core/status.hpp"

namespace weft::plugin {

// One schema violation: where in the document (a JSON pointer such as "/headers/0") and what rule.
struct SchemaIssue {
  std::string path;
  std::string message;
};

enum class OperationKind { kAction, kTrigger };

// A loaded action or trigger. Owned by the catalog; valid while the catalog lives (a connector
// that is replaced keeps its old ActionInfo alive until the runs that hold it finish).
struct ActionInfo {
  std::string connector;  // "http"
  std::string name;       // "request"
  std::string uses;       // "http.request"
  OperationKind kind = OperationKind::kAction;
  std::string title;
  std::string description;
  // The schemas as compact JSON text. A loaded daemon keeps them as text, not as parsed documents
  // (a parsed manifest takes about 8 times its text's memory); validation uses the compiled form
  // the catalog holds, so these are parsed only to be shown.
  std::string input_schema_json;
  std::string output_schema_json;
  Json input_schema() const { return parsed(input_schema_json); }
  Json output_schema() const { return parsed(output_schema_json); }
  bool requires_connection = true;
  std::string connector_version;
  std::string auth_kind;                        // "oauth2", "api_token", "none"
  std::optional<int> default_interval_seconds;  // triggers

  // The text parsed, or null when there is none (it came from a validated manifest, so it parses).
  static Json parsed(const std::string& text) {
    if (text.empty()) return Json();
    auto doc = json::parse(text);
    return doc ? *doc : Json();
  }
};

// Everything an invoke needs to know about where it runs.
struct InvokeContext {
  std::string run_id;
  std::string step_id;
  std::string connection;   // empty: no connection
  std::string state_scope;  // key space for state_get/set (trigger id for polls); empty: connector
  std::optional<std::chrono::steady_clock::time_point> deadline;
};

class ActionCatalog {
 public:
  virtual ~ActionCatalog() = default;

  // The action or trigger named "connector.operation", or nullptr when none is loaded.
  // Thread-safe.
  virtual const ActionInfo* find(std::string_view uses) const = 0;

  // Checks a JSON value against the operation's input schema; empty when it fits. Thread-safe.
  virtual std::vector<SchemaIssue> validate_input(const ActionInfo& op, const Json& input) const = 0;

  // Validates input, calls the connector through the ABI, validates the output. A schema
  // violation, a connector error, or a connector exception becomes a failed Result whose message
  // names the JSON path and rule or quotes the connector. Thread-safe.
  virtual Result<Json> invoke(const ActionInfo& op, const Json& input, const InvokeContext& ctx) const = 0;

  // A view of the connectors loaded right now that stays the same while it is held: a run takes
  // one at its start so every step calls the connector versions it started with, even when the
  // daemon loads a new version meanwhile (the old one is unloaded after its last holder). nullptr:
  // this catalog never changes versions; use it directly. Thread-safe.
  virtual std::shared_ptr<const ActionCatalog> pin() const { return nullptr; }
};

}  // namespace weft::plugin
