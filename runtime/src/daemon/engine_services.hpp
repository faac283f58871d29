// engine_services.hpp — the daemon's service interfaces (services.hpp) over the real engine: the
// workflow files of a directory, the Executor and RunStore for runs, the plugin registry for the
// catalog, auth::ConnectionManager for connections and the OAuth callback, and the cron scheduler.
//
//   auto es = std::make_unique<daemon::EngineServices>(*engine, cfg.workflows, &metrics);
//   es->reload();                 // workflows + schedules
//   es->resume_unfinished();      // runs a killed daemon left `running`
//   daemon::Services s = es->services();
//   ... serve ...
//   es->shutdown(cfg.drain_timeout);
#pragma once

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "daemon/metrics.hpp"
#include "daemon/scheduler.hpp"
#include "daemon/services.hpp"
#include "engine/engine.hpp"
#include "plugin/probe.hpp"
#include "store/run_store.hpp"
#include "workflow/executor.hpp"
#include "workflow/workflow.hpp"

namespace weft::daemon {

// The trigger-related part of a workflow's `on:` as the daemon reads it.
struct WorkflowTriggers {
  bool webhook = false;
  bool webhook_async = false;
  WebhookPolicy webhook_policy;
  std::string cron;  // empty: no schedule
  std::string timezone = "UTC";
  std::string poll_uses;  // a connector polling trigger ("connector.trigger"); empty: none
  std::string poll_connection;
  Json poll_with;                              // the trigger's params ({} when absent)
  std::chrono::milliseconds poll_interval{0};  // 0: the trigger's default, else 60 s
};

// Reads `on:` of a compiled workflow. webhook {secret, signature: "hmac-sha256" (default) |
// "shared-secret", async}; schedule "expr" or {cron, timezone}. invalid_argument when the
// signature kind is unknown.
Result<WorkflowTriggers> read_triggers(const workflow::Workflow& wf);

// A run record as the API shows it: {id, workflow, status, error, started_at_ms, finished_at_ms,
// inputs, trigger[, steps: [{index, id, uses, status, input, output, error, duration_us}]]}.
Json run_to_json(const store::RunRecord& run, bool with_steps);
// json::stringify(run_to_json(run, with_steps)), written straight from the record.
std::string run_to_text(const store::RunRecord& run, bool with_steps);

// How the daemon loads the files of its watched connector directories.
struct ConnectorLoading {
  // A private directory (under the home) for the copy of each file that is loaded: a changed file
  // then gets its own image beside the old version, which drains. Empty: files are loaded in place
  // and an id already loaded is refused (no versions).
  std::string staging_dir;
  // Each new or changed file is first tried in a child process (plugin/probe.hpp); command empty:
  // no probe.
  plugin::ProbeOptions probe;
};

class EngineServices final : public RunService,
                             public WorkflowService,
                             public CatalogView,
                             public ConnectionService {
 public:
  // engine must outlive this object; metrics may be null. workflows_dir may be empty (no workflows).
  // max_background bounds the runs started without waiting (async webhooks, schedules, resumes):
  // past it a new one is refused with rate_limited (HTTP 429) instead of growing threads.
  EngineServices(engine::Engine& engine, std::string workflows_dir, Metrics* metrics,
                 int max_background = 1024);
  // Waits for runs still in flight (see shutdown).
  ~EngineServices() override;
  EngineServices(const EngineServices&) = delete;
  EngineServices& operator=(const EngineServices&) = delete;

  // Directories whose new and changed .so files reload() loads (see ConnectorLoading): a file whose
  // mtime, size or inode changed, or a new file whose connector id is loaded with another version,
  // loads beside the loaded version, which new runs stop using and which is unloaded after its last
  // run. Call before reload().
  void watch_connectors(std::vector<std::string> dirs, ConnectorLoading loading = {});
  // A file of the workflows directory that is not a workflow (the daemon's own config when
  // `workflows: .`). Call before reload().
  void ignore_file(const std::string& path);
  // Loads the new .so files of the watched connector directories (a refused one is logged and
  // listed; the daemon keeps running), then every *.yaml / *.yml of the workflows directory. A file that
  // fails to load is logged with its problems and skipped (the version loaded before, if any, keeps serving);
  // two files with one name: the first in name order wins. Replaces the cron schedules. Returns
  // {"workflows": n, "connectors": n, "refused": [{"file", "error"}]}. Thread-safe.
  Result<Json> reload();
  // For every run recorded as `running` (a daemon killed mid-run): resumes it from its first
  // unfinished step in the background when its workflow says `resume: true`, else marks it
  // `interrupted`. Call once at start, after reload(), before serving. Returns how many were found.
  int resume_unfinished();
  // Polls the connector trigger of workflow `name` once: invokes it with {"params", "cursor"},
  // runs the workflow for each item (one after the other, each recorded before its first step),
  // and only then stores the new cursor. A run's id is derived from the workflow, the cursor it
  // was polled with and the item, so an item polled again after a crash (cursor not yet stored)
  // is not run twice. Returns the number of runs started; not_found when the workflow has no
  // loaded polling trigger. Thread-safe.
  Result<int> poll_once(const std::string& name);
  // Starts the thread that calls poll_once for each polling workflow at its interval.
  void start_poller();
  // Starts the cron thread.
  void start_scheduler();
  // Stops what starts runs without a request: the cron thread, the poller and the refresher are
  // told to stop and new background runs are refused (unavailable). Returns at once.
  void stop_triggers();
  // stop_triggers(), then waits up to drain for background runs (and the poller's current poll);
  // true when none is left.
  bool shutdown(std::chrono::milliseconds drain);
  // The runs of this process still going (sync, async, scheduled, polled, resumed) when the daemon
  // must exit without them: each is marked `interrupted` with why, except those of `resume: true`
  // workflows, which stay `running` so the next start resumes them. Returns how many were marked.
  int interrupt_unfinished(const std::string& why);

  // Refreshes every active connection whose access token expires within `ahead` of now_epoch
  // (seconds) and that has an expiry at all; returns how many refreshes succeeded. A failure is
  // logged once per connection until it succeeds again; a refused grant turns the connection
  // needs_reauth (the engine reports it), after which it is no longer tried. Thread-safe.
  int refresh_expiring(std::chrono::seconds ahead, std::int64_t now_epoch);
  // Starts the background refresher: refresh_expiring(ahead) every period.
  void start_refresher(std::chrono::seconds period, std::chrono::seconds ahead);

  // Fires the schedules due at or before now (what the cron thread does); how many fired.
  int fire_due_schedules(std::chrono::sys_seconds now) { return scheduler_.tick(now); }

  // Every service of this object plus reload.
  Services services();

  // RunService
  Result<Json> trigger_workflow(const std::string& name, const Json& trigger, bool async) override;
  Result<std::string> run_workflow_text(const std::string& name, const Json& trigger) override;
  Result<Json> list_runs(const Json& filter) override;
  Result<Json> get_run(const std::string& id) override;
  // WorkflowService
  Result<Json> list_workflows() override;
  Result<WebhookPolicy> webhook_policy(const std::string& name) override;
  bool webhook_is_async(const std::string& name) override;
  // CatalogView
  Result<Json> list_connectors() override;
  // ConnectionService
  Result<Json> list_connections() override;
  Result<Json> create_connection(const Json& body) override;
  Status delete_connection(const std::string& name) override;
  Result<std::string> start_authorization(const std::string& name, const std::string& redirect_uri) override;
  Result<std::string> finish_authorization(const std::map<std::string, std::string>& query) override;

 private:
  struct Loaded {
    std::shared_ptr<const workflow::Workflow> wf;
    WorkflowTriggers triggers;
  };
  std::shared_ptr<const Loaded> find(const std::string& name) const;
  void load_new_connectors(Poco::JSON::Array& refused);
  // Runs on the calling thread (tracked as active) and counts the outcome. An empty run_id gets a
  // fresh one.
  Result<store::RunRecord> execute(const workflow::Workflow& wf, workflow::RunRequest req);
  // Runs workflow `name` by trigger on the calling thread and returns its record (the synchronous
  // trigger_workflow and run_workflow_text).
  Result<store::RunRecord> run_now(const std::string& name, const Json& trigger);
  // The request for a run of wf by trigger: its inputs checked against the workflow and completed.
  static Result<workflow::RunRequest> run_request(const workflow::Workflow& wf, const Json& trigger);
  Result<store::RunRecord> resume(const workflow::Workflow& wf, const std::string& run_id);
  // Records req as a `running` run with every step pending (what Executor::run records first).
  Status record_run(const workflow::Workflow& wf, const workflow::RunRequest& req);
  // The run ids in active_ while a run executes.
  class ActiveRun {
   public:
    ActiveRun(EngineServices& s, std::string id, bool resumable);
    ~ActiveRun();
    ActiveRun(const ActiveRun&) = delete;
    ActiveRun& operator=(const ActiveRun&) = delete;

   private:
    EngineServices& s_;
    std::string id_;
  };
  void count(const Result<store::RunRecord>& r);
  // Copies the HTTP client's per-connector totals into metrics_ (the /metrics collector).
  void collect_http_metrics();
  // Starts fn on a background thread tracked for shutdown; unavailable when shutting down,
  // rate_limited when max_background runs are already in flight.
  Status spawn(std::function<void()> fn);
  // spawn() in two halves: reserve() takes a background slot (the same refusals), launch() starts
  // fn on a thread that gives it back; unreserve() gives back a slot that launched nothing.
  Status reserve();
  void launch(std::function<void()> fn);
  void unreserve();

  engine::Engine& engine_;
  const std::string workflows_dir_;
  Metrics* metrics_;
  workflow::Executor executor_;
  CronScheduler scheduler_;

  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<const Loaded>> workflows_;  // by name; guarded by mu_
  std::map<std::string, std::shared_ptr<const Loaded>> by_file_;    // last good load per file
  std::mutex reload_mu_;                                            // one reload at a time
  std::vector<std::filesystem::path> ignored_;                      // canonical paths
  std::vector<std::string> connector_dirs_;
  ConnectorLoading loading_;
  // The files of the watched directories as last seen (by reload_mu_): what they were when loaded
  // or refused, so an unchanged file is neither loaded nor logged again.
  struct FileSeen {
    std::uint64_t dev = 0, ino = 0, size = 0;
    std::int64_t mtime_ns = 0;
    std::string refused;  // the refusal line; empty when loaded
    bool operator==(const FileSeen& o) const {
      return dev == o.dev && ino == o.ino && size == o.size && mtime_ns == o.mtime_ns;
    }
  };
  std::map<std::string, FileSeen> connector_files_;

  std::mutex refresh_mu_;
  std::set<std::string> refresh_failing_;  // guarded by refresh_mu_: logged once each
  std::thread refresher_;
  std::thread poller_;

  std::mutex bg_mu_;
  std::condition_variable bg_cv_;
  const int max_background_;
  int in_flight_ = 0;      // guarded by bg_mu_
  int loops_ = 0;          // guarded by bg_mu_: poller and refresher threads still looping
  bool stopping_ = false;  // guarded by bg_mu_

  std::mutex active_mu_;
  std::map<std::string, bool> active_;  // guarded by active_mu_: run id -> workflow says resume
};

}  // namespace weft::daemon
