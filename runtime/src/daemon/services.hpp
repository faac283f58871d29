// services.hpp — what the daemon needs from the engine, as interfaces. The lead wires the real
// executor/run store/catalog/vault/OAuth behind these; tests use fakes.
//
//   struct MyRuns : daemon::RunService { ... };
//   daemon::Services s{&runs, &catalog, &connections, &workflows};
//   daemon::Daemon d(config, s);
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "core/json.hpp"
#include "core/status.hpp"
#include "daemon/security.hpp"

namespace weft::daemon {

// Runs: triggering and reading back. Implementations must be thread-safe (called from HTTP workers).
class RunService {
 public:
  virtual ~RunService() = default;
  // Starts workflow `name` with trigger (an object: {"type": "webhook"|"api"|"cron", "body", "headers",
  // "query", "inputs"}). async=false waits for the run and returns its record; async=true returns
  // at once with at least {"id", "status"}. not_found for an unknown workflow; invalid_argument for
  // inputs that do not match the workflow.
  virtual Result<Json> trigger_workflow(const std::string& name, const Json& trigger, bool async) = 0;
  // trigger_workflow(name, trigger, false) with the record as its JSON text, which is what a
  // synchronous webhook answers. An implementation may write the text without building the object.
  virtual Result<std::string> run_workflow_text(const std::string& name, const Json& trigger) {
    auto run = trigger_workflow(name, trigger, false);
    if (!run) return run.status();
    return json::stringify(*run);
  }
  // Runs, newest first: an array of run summaries. filter: {"workflow", "status", "limit"} (all optional).
  virtual Result<Json> list_runs(const Json& filter) = 0;
  // One run with its steps; not_found when no such id.
  virtual Result<Json> get_run(const std::string& id) = 0;
};

// The workflows the daemon serves (its workflows directory).
class WorkflowService {
 public:
  virtual ~WorkflowService() = default;
  // An array of {"name", "file", "triggers": [...]}.
  virtual Result<Json> list_workflows() = 0;
  // The webhook policy of workflow `name`; not_found when it has no webhook trigger (→ 404).
  virtual Result<WebhookPolicy> webhook_policy(const std::string& name) = 0;
  // Whether a webhook call waits for the run (false) or answers 202 at once (true).
  virtual bool webhook_is_async(const std::string& name) = 0;
};

// The loaded connectors (GET /v1/connectors).
class CatalogView {
 public:
  virtual ~CatalogView() = default;
  // An array of {"id", "version", "name", "actions": [...]}. Never contains secrets.
  virtual Result<Json> list_connectors() = 0;
};

// Connections and their authorization. Never returns secret values.
class ConnectionService {
 public:
  virtual ~ConnectionService() = default;
  virtual Result<Json> list_connections() = 0;
  // body: {"name", "connector", "settings", "secrets"}; already_exists / invalid_argument.
  virtual Result<Json> create_connection(const Json& body) = 0;
  virtual Status delete_connection(const std::string& name) = 0;
  // Starts OAuth for connection `name`; returns the URL to open in a browser. redirect_uri is
  // <public_url>/oauth/callback.
  virtual Result<std::string> start_authorization(const std::string& name,
                                                  const std::string& redirect_uri) = 0;
  // Finishes OAuth from the callback's query (code, state, error...). The service checks state
  // (single-use, unexpired); a bad state is invalid_argument/permission_denied, nothing exchanged.
  // Returns the connection name on success.
  virtual Result<std::string> finish_authorization(const std::map<std::string, std::string>& query) = 0;
};

// Everything the daemon is wired to. Pointers are not owned and must outlive the daemon; a null
// service makes its routes answer 503 "not available in this build".
struct Services {
  RunService* runs = nullptr;
  CatalogView* catalog = nullptr;
  ConnectionService* connections = nullptr;
  WorkflowService* workflows = nullptr;
  // Reloads connectors and workflows (SIGHUP, POST /v1/reload, the directory watcher); returns a
  // summary object such as {"connectors": 3, "workflows": 5}.
  std::function<Result<Json>()> reload;
};

}  // namespace weft::daemon
