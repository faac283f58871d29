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
//
// Versions (the daemon): load_file(path, {.replace = true, .image = private_copy}) loads a new
// version of a loaded connector beside the old one and, once it is fully valid, makes it the one
// find() and pin() resolve; runs that pinned the old one keep calling it, and its library is
// closed when the last of them lets go ("connector unloaded after draining" is logged).
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
  std::string auth_kind;   // "oauth2", "api_token", "none"
  Json auth;               // the manifest's auth object
  Json settings;           // the manifest's settings object ({} when absent): name -> {type, default, ...}
  Json settings_defaults;  // {name: default} for every setting that has one; what create() got
  Json rate_limit;         // the manifest's rate_limit object, empty when it has none
  std::string manifest_json;  // the whole manifest, as the connector gave it
  Json manifest() const { return ActionInfo::parsed(manifest_json); }  // parsed anew on each call
  std::string path;        // the .so it came from
  // Sorted by name; the pointers live as long as this ConnectorInfo.
  std::vector<const ActionInfo*> actions;
  std::vector<const ActionInfo*> triggers;
};

// How load_file treats one file.
struct LoadOptions {
  // An id that is already loaded is replaced when the new file has another version, or is the same
  // source file changed. false (the CLI): refused as a duplicate.
  bool replace = false;
  // The file to dlopen when it is not `path` itself: a private copy, so a changed file gets its own
  // image beside the old one (dlopen of one path twice returns the first handle) and overwriting
  // the source never touches a mapped library. `path` stays the name reported everywhere.
  std::string image;
  // Ids that must not be replaced even with replace set (those loaded earlier in the same scan).
  std::vector<std::string> keep;
  // false: a refusal is only returned, not also logged (the caller logs its own one line).
  bool log_refusal = true;
};

// What load_file did.
struct LoadOutcome {
  Status status;  // on refusal "<path>: <reason>"
  std::string id;
  std::string version;
  std::string previous_version;  // non-empty when a loaded version was replaced
  int draining_runs = 0;         // runs still holding the replaced version
  // Keeps the replaced version loaded until the caller lets go (so it can log before a version
  // without runs is unloaded).
  std::shared_ptr<const void> previous;
};

// A replaced version still loaded because runs hold it.
struct DrainingConnector {
  std::string id;
  std::string version;
  std::string path;
  int runs = 0;
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
  // Loads one .so as options say (see LoadOptions). Thread-safe.
  LoadOutcome load_file(const std::string& path, const LoadOptions& options);
  // Replaced versions not yet unloaded, and how many versions were unloaded after draining.
  std::vector<DrainingConnector> draining() const;
  int unloaded_after_draining() const;

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
  Result<Json> poll(const ActionInfo& op, const Json& params, const Json& cursor,
                    const InvokeContext& ctx) const;

  // Every connector loaded now, frozen for one run (see ActionCatalog::pin).
  std::shared_ptr<const ActionCatalog> pin() const override;

 private:
  struct Loaded;  // a loaded library + its instance and compiled operations; see registry.cpp
  class Pinned;
  struct Counters;

  Status load_one(const std::string& path, const LoadOptions& options, LoadOutcome& out);
  // invoke() and poll(): validation, the ABI call, error mapping; poll selects the trigger shapes.
  Result<Json> call_connector(const ActionInfo& op, const Json& input, const InvokeContext& ctx,
                              bool poll) const;
  Result<Json> call_loaded(const Loaded* connector, const ActionInfo& op, const Json& input,
                           const InvokeContext& ctx, bool poll) const;
  // The loaded connector with this id, or nullptr; holding it keeps the library loaded.
  std::shared_ptr<const Loaded> find_loaded(std::string_view id) const;

  HostServices* services_;
  mutable std::shared_mutex mu_;
  std::map<std::string, std::shared_ptr<const Loaded>, std::less<>> by_id_;  // guarded by mu_
  // The operations (host memory only) of replaced versions, so find() pointers stay valid as long
  // as the registry; their libraries are closed when drained.
  std::vector<std::shared_ptr<const void>> retired_ops_;  // guarded by mu_
  std::vector<std::weak_ptr<const Loaded>> draining_;     // guarded by mu_
  std::shared_ptr<Counters> counters_;
};

}  // namespace weft::plugin
