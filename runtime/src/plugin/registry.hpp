// registry.hpp — loads connector shared libraries and serves their actions and triggers (the
// ActionCatalog the workflow engine calls).
//
//   plugin::Registry registry(&services);                  // services may be null (tests, CLI)
//   for (const Status& refused : registry.load({dir1, file2}))
//     std::cerr << refused.message() << "\n";               // "<path>: <reason>", one per bad file
//   const ActionInfo* op = registry.find("http.request");
//   Result<Json> out = registry.invoke(*op, input, ctx);
//
// Loading: dlopen(RTLD_NOW|RTLD_LOCAL), weft_connector_entry(host), ABI check (major equal, minor
// not newer), manifest JSON validated against schemas/connector-manifest.schema.json, every input
// and output schema compiled once, duplicate ids refused (the first loaded wins), create() called
// with the manifest's settings defaults. A refused file never stops the others from loading.
#pragma once

#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.hpp"
#include "core/status.hpp"
#include "plugin/catalog.hpp"
#include "plugin/host_services.hpp"

namespace weft::plugin {

// What `weft connectors list/describe` shows about one loaded connector. Immutable once loaded.
struct ConnectorInfo {
  std::string id;
  std::string version;
  std::string name;
  std::string description;
  std::string auth_kind;  // "oauth2", "api_token", "none"
  Json auth;              // the manifest's auth object
  Json settings;          // the manifest's settings object ({} when absent): name -> {type, default, ...}
  Json settings_defaults;  // {name: default} for every setting that has one; what create() got
  Json manifest;          // the whole manifest as loaded
  std::string path;       // the .so it came from
  // Sorted by name; the pointers live as long as this ConnectorInfo.
  std::vector<const ActionInfo*> actions;
  std::vector<const ActionInfo*> triggers;
};

class Registry final : public ActionCatalog {
 public:
  // services serves the host table's http/context/state calls; it must outlive the registry.
  // nullptr: http and state calls fail with "no host services", context has the manifest defaults.
  explicit Registry(HostServices* services = nullptr);
  // Destroys every connector instance and unloads the libraries. No invoke may be running.
  ~Registry() override;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Loads each path: a directory (every *.so in it, in name order, not recursive) or a single
  // file. Returns one failed Status per refused file or missing directory, whose message is the
  // whole line "<path>: <reason>"; empty when everything loaded. Thread-safe.
  std::vector<Status> load(const std::vector<std::string>& paths);
  // Loads one .so. On refusal the Status message is "<path>: <reason>". Thread-safe.
  Status load_file(const std::string& path);

  // Every loaded connector, sorted by id. The shared pointers stay valid after the registry drops
  // a connector (later: reload), so a caller may keep them. Thread-safe.
  std::vector<std::shared_ptr<const ConnectorInfo>> connectors() const;
  // The connector with this id, or nullptr. Thread-safe.
  std::shared_ptr<const ConnectorInfo> connector(std::string_view id) const;

  // ActionCatalog (see catalog.hpp). find() pointers stay valid as long as the registry.
  const ActionInfo* find(std::string_view uses) const override;
  std::vector<SchemaIssue> validate_input(const ActionInfo& op, const Json& input) const override;
  // Errors: invalid_argument (input breaks the schema: "<uses> input at /path: rule"),
  // not_found (no such operation loaded), internal (the connector threw, returned bad JSON or an
  // output that breaks its schema), or the code mapped from the connector's error object, whose
  // message is quoted. Thread-safe.
  Result<Json> invoke(const ActionInfo& op, const Json& input, const InvokeContext& ctx) const override;

  // Polls a polling trigger once (the ABI's trigger call): params are checked against the
  // trigger's input schema, the connector gets {"params", "cursor"} (cursor: null on the first
  // poll), and every returned item is checked against the trigger's output schema (one item).
  // Returns {"items": [...], "cursor": <json>}; the caller stores the cursor only after it has
  // recorded a run per item. Errors as invoke(); invalid_argument when op is not a trigger.
  // Thread-safe.
  Result<Json> poll(const ActionInfo& op, const Json& params, const Json& cursor, const InvokeContext& ctx) const;

 private:
  struct Loaded;  // a loaded library + its instance and compiled operations; see registry.cpp

  Status load_one(const std::string& path);
  // invoke() and poll(): validation, the ABI call, error mapping; poll selects the trigger shapes.
  Result<Json> call_connector(const ActionInfo& op, const Json& input, const InvokeContext& ctx, bool poll) const;
  // The loaded connector with this id, or nullptr; holding it keeps the library loaded.
  std::shared_ptr<const Loaded> find_loaded(std::string_view id) const;

  HostServices* services_;
  mutable std::shared_mutex mu_;
  std::map<std::string, std::shared_ptr<const Loaded>, std::less<>> by_id_;  // guarded by mu_
};

}  // namespace weft::plugin
