// engine_services.cpp — services.hpp over engine::Engine, workflow::Executor and the run store.
#include "daemon/engine_services.hpp"

#include <Poco/DigestEngine.h>
#include <Poco/SHA2Engine.h>
#include <Poco/URI.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

#include "auth/connection_manager.hpp"
#include "core/log.hpp"
#include "http/client.hpp"
#include "plugin/registry.hpp"
#include "weft/poco_json.hpp"

namespace weft::daemon {
namespace {

namespace fs = std::filesystem;

Json string_array(const std::vector<std::string>& v) {
  auto a = json::new_array();
  for (const auto& s : v) a->add(s);
  return Json(a);
}

Json step_to_json(const store::StepRecord& s) {
  return json::object({{"index", s.index},
                       {"id", s.step_id},
                       {"uses", s.uses},
                       {"status", std::string(store::to_string(s.status))},
                       {"input", s.input},
                       {"output", s.output},
                       {"error", s.error},
                       {"started_at_ms", s.started_at_ms},
                       {"finished_at_ms", s.finished_at_ms},
                       {"duration_us", s.duration_us}});
}

// A run answer with a status the HTTP layer maps: a failed run is still a 200 with its record.
Status not_found_workflow(const std::string& name) {
  return Status(Code::kNotFound, "no workflow named '" + name + "' is loaded (GET /v1/workflows lists them)");
}

}  // namespace

Result<WorkflowTriggers> read_triggers(const workflow::Workflow& wf) {
  WorkflowTriggers t;
  if (!json::is_object(wf.on)) return t;
  Json hook = json::get(wf.on, "webhook");
  if (!hook.isEmpty()) {
    t.webhook = true;
    Json async = json::get(hook, "async");
    t.webhook_async = !async.isEmpty() && async.isBoolean() && async.extract<bool>();
    const std::string secret = json::get_string(hook, "secret");
    const std::string kind = json::get_string(hook, "signature", "hmac-sha256");
    if (!secret.empty()) {
      t.webhook_policy.secret = secret;
      if (kind == "hmac-sha256")
        t.webhook_policy.kind = WebhookPolicy::Kind::kHmacSha256;
      else if (kind == "shared-secret")
        t.webhook_policy.kind = WebhookPolicy::Kind::kSharedSecret;
      else
        return Status(Code::kInvalidArgument, wf.file + ": on.webhook.signature '" + kind +
                                                  "' is unknown (use hmac-sha256 or shared-secret)");
    }
  }
  if (const std::string uses = json::get_string(wf.on, "uses"); !uses.empty()) {
    t.poll_uses = uses;
    t.poll_connection = json::get_string(wf.on, "connection");
    t.poll_with = json::get(wf.on, "with");
    if (t.poll_with.isEmpty()) t.poll_with = json::object();
    if (const std::string every = json::get_string(wf.on, "interval"); !every.empty()) {
      auto d = workflow::parse_duration(every);
      if (!d)
        return Status(Code::kInvalidArgument,
                      wf.file + ": on.interval '" + every + "' is not a duration like 30s");
      t.poll_interval = *d;
    }
  }
  Json sched = json::get(wf.on, "schedule");
  if (!sched.isEmpty()) {
    if (sched.isString()) {
      t.cron = sched.toString();
    } else {
      t.cron = json::get_string(sched, "cron");
      t.timezone = json::get_string(sched, "timezone", "UTC");
    }
  }
  return t;
}

Json run_to_json(const store::RunRecord& run, bool with_steps) {
  auto o = json::new_object();
  o->set("id", run.id);
  o->set("workflow", run.workflow);
  o->set("status", std::string(store::to_string(run.status)));
  o->set("error", run.error);
  o->set("started_at_ms", run.started_at_ms);
  o->set("finished_at_ms", run.finished_at_ms);
  o->set("inputs", run.inputs);
  o->set("trigger", run.trigger);
  if (with_steps) {
    auto steps = json::new_array();
    for (const auto& s : run.steps) steps->add(step_to_json(s));
    o->set("steps", steps);
  }
  return Json(o);
}

namespace {
void append_member(std::string& out, std::string_view name, const std::string& value) {
  poco_json::append_key(out, name);
  poco_json::append_string(out, value);
}
void append_member(std::string& out, std::string_view name, std::int64_t value) {
  poco_json::append_key(out, name);
  out += std::to_string(value);
}
void append_member(std::string& out, std::string_view name, const Json& value) {
  poco_json::append_key(out, name);
  poco_json::append(out, value);
}
}  // namespace

std::string run_to_text(const store::RunRecord& run, bool with_steps) {
  // The members and their order are run_to_json's and step_to_json's.
  std::string out = "{";
  append_member(out, "id", run.id);
  append_member(out, "workflow", run.workflow);
  append_member(out, "status", std::string(store::to_string(run.status)));
  append_member(out, "error", run.error);
  append_member(out, "started_at_ms", std::int64_t{run.started_at_ms});
  append_member(out, "finished_at_ms", std::int64_t{run.finished_at_ms});
  append_member(out, "inputs", run.inputs);
  append_member(out, "trigger", run.trigger);
  if (with_steps) {
    poco_json::append_key(out, "steps");
    out += '[';
    for (std::size_t i = 0; i < run.steps.size(); ++i) {
      const store::StepRecord& s = run.steps[i];
      if (i > 0) out += ',';
      out += '{';
      append_member(out, "index", std::int64_t{s.index});
      append_member(out, "id", s.step_id);
      append_member(out, "uses", s.uses);
      append_member(out, "status", std::string(store::to_string(s.status)));
      append_member(out, "input", s.input);
      append_member(out, "output", s.output);
      append_member(out, "error", s.error);
      append_member(out, "started_at_ms", std::int64_t{s.started_at_ms});
      append_member(out, "finished_at_ms", std::int64_t{s.finished_at_ms});
      append_member(out, "duration_us", std::int64_t{s.duration_us});
      out += '}';
    }
    out += ']';
  }
  out += '}';
  return out;
}

EngineServices::EngineServices(engine::Engine& engine, std::string workflows_dir, Metrics* metrics,
                               int max_background)
    : engine_(engine),
      workflows_dir_(std::move(workflows_dir)),
      metrics_(metrics),
      executor_(engine.catalog(), engine.runs()),
      scheduler_([this](const std::string& wf, const Json& trigger) {
        auto r = trigger_workflow(wf, trigger, true);
        if (!r)
          log::error("daemon", "scheduled run not started",
                     {{"workflow", wf}, {"error", r.status().message()}});
      }),
      max_background_(std::max(1, max_background)) {
  if (metrics_) metrics_->add_collector(this, [this] { collect_http_metrics(); });
}

EngineServices::~EngineServices() {
  if (metrics_) metrics_->remove_collector(this);  // waits for a scrape reading the engine through this
  shutdown(std::chrono::hours(24));
}

void EngineServices::collect_http_metrics() {
  // The client keeps running totals per connector; a scrape copies the snapshot into counters
  // (set, not inc), so the client stays the one source and nothing is counted twice.
  auto& requests = metrics_->counter("weft_http_requests_total", "", {"connector", "outcome"});
  auto& retries = metrics_->counter("weft_http_retries_total", "", {"connector"});
  auto& waited = metrics_->counter("weft_http_wait_seconds_total", "", {"connector"});
  auto& cooldowns = metrics_->counter("weft_rate_limit_cooldowns_total", "", {"connector"});
  for (const auto& [connector, s] : engine_.http_client().stats()) {
    const std::pair<const char*, std::uint64_t> outcomes[] = {{"2xx", s.calls_2xx},
                                                              {"3xx", s.calls_3xx},
                                                              {"4xx", s.calls_4xx},
                                                              {"5xx", s.calls_5xx},
                                                              {"error", s.calls_error}};
    for (const auto& [outcome, n] : outcomes)
      if (n > 0) requests.set({connector, outcome}, static_cast<double>(n));
    retries.set({connector}, static_cast<double>(s.retries));
    waited.set({connector}, std::chrono::duration<double>(s.waited).count());
    cooldowns.set({connector}, static_cast<double>(s.cooldowns));
  }
}

Services EngineServices::services() {
  Services s;
  s.runs = this;
  s.catalog = this;
  s.connections = this;
  s.workflows = this;
  s.reload = [this] { return reload(); };
  return s;
}

std::shared_ptr<const EngineServices::Loaded> EngineServices::find(const std::string& name) const {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = workflows_.find(name);
  return it == workflows_.end() ? nullptr : it->second;
}

void EngineServices::ignore_file(const std::string& path) {
  std::error_code ec;
  auto c = fs::weakly_canonical(path, ec);
  if (!ec) ignored_.push_back(c);
}

void EngineServices::watch_connectors(std::vector<std::string> dirs, ConnectorLoading loading) {
  connector_dirs_ = std::move(dirs);
  loading_ = std::move(loading);
  if (loading_.staging_dir.empty()) return;
  std::error_code ec;
  fs::create_directories(loading_.staging_dir, ec);
  fs::permissions(loading_.staging_dir, fs::perms::owner_all, ec);
  // Copies a killed daemon left behind.
  for (fs::directory_iterator it(loading_.staging_dir, ec), end; !ec && it != end; it.increment(ec))
    fs::remove(it->path(), ec);
  if (loading_.probe.scratch_dir.empty()) loading_.probe.scratch_dir = loading_.staging_dir;
}

void EngineServices::load_new_connectors(Poco::JSON::Array& refused) {
  if (connector_dirs_.empty()) return;
  const bool versions = !loading_.staging_dir.empty();
  std::set<fs::path> loaded;
  std::error_code ec;
  for (const auto& c : engine_.registry().connectors()) loaded.insert(fs::weakly_canonical(c->path, ec));

  // The new and changed files, in directory order then name order.
  struct Candidate {
    std::string file;
    FileSeen seen;
    std::string image;
  };
  std::vector<Candidate> todo;
  for (const auto& dir : connector_dirs_) {
    std::vector<fs::path> found;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
      if (it->path().extension() == ".so") found.push_back(it->path());
    std::sort(found.begin(), found.end());
    for (const auto& so : found) {
      struct stat st {};
      if (::stat(so.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      FileSeen seen{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino),
                    static_cast<std::uint64_t>(st.st_size),
                    static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec, ""};
      const std::string file = so.string();
      auto prev = connector_files_.find(file);
      if (prev == connector_files_.end() && loaded.count(fs::weakly_canonical(so, ec)) != 0) {
        connector_files_[file] = seen;  // loaded by the engine at start
        continue;
      }
      if (prev != connector_files_.end() && prev->second == seen) {
        if (!prev->second.refused.empty())
          refused.add(json::object({{"file", file}, {"error", prev->second.refused}}));
        continue;
      }
      todo.push_back({file, seen, file});
    }
  }
  if (todo.empty()) return;

  // Private copies: their own dlopen images, untouched when the source is overwritten.
  static std::atomic<unsigned> seq{0};
  std::vector<Status> early(todo.size());
  for (std::size_t i = 0; versions && i < todo.size(); ++i) {
    auto& c = todo[i];
    c.image =
        (fs::path(loading_.staging_dir) / (fs::path(c.file).stem().string() + "." +
                                           std::to_string(::getpid()) + "." + std::to_string(seq++) + ".so"))
            .string();
    fs::copy_file(c.file, c.image, fs::copy_options::overwrite_existing, ec);
    if (ec)
      early[i] =
          Status(Code::kFailedPrecondition, c.file + ": cannot copy to " + c.image + ": " + ec.message());
  }
  // Every file tried in a child first, all at once: an init that aborts or hangs is refused there.
  std::vector<plugin::ProbeFile> probes;
  std::vector<std::size_t> probed;
  for (std::size_t i = 0; i < todo.size(); ++i) {
    if (!early[i].ok()) continue;
    probes.push_back({todo[i].image, todo[i].file});
    probed.push_back(i);
  }
  const std::vector<Status> verdicts = plugin::probe_files(probes, loading_.probe);
  for (std::size_t k = 0; k < probed.size(); ++k) early[probed[k]] = verdicts[k];

  std::vector<std::string> this_scan;  // ids loaded now: a second file with one of them is a duplicate
  for (std::size_t i = 0; i < todo.size(); ++i) {
    auto& c = todo[i];
    plugin::LoadOutcome out;
    if (!early[i].ok()) {
      out.status = early[i];
    } else {
      out = engine_.load_connector(c.file,
                                   plugin::LoadOptions{versions, versions ? c.image : "", this_scan, false});
    }
    if (versions) fs::remove(c.image, ec);  // dlopen keeps its mapping
    if (!out.status.ok()) {
      log::error("daemon", "connector refused; the others keep working", {{"reason", out.status.message()}});
      refused.add(json::object({{"file", c.file}, {"error", out.status.message()}}));
      c.seen.refused = out.status.message();
      connector_files_[c.file] = c.seen;
      continue;
    }
    connector_files_[c.file] = c.seen;
    this_scan.push_back(out.id);
    if (out.previous_version.empty()) {
      log::info("daemon", "connector loaded",
                {{"file", c.file}, {"connector", out.id}, {"version", out.version}});
    } else {
      log::info("daemon", "connector '" + out.id + "' " + out.previous_version + " -> " + out.version +
                              " loaded from " + c.file + "; previous version drains (" +
                              std::to_string(out.draining_runs) + " runs)");
    }
    out.previous.reset();  // without runs, the old version unloads here
  }
}

Result<Json> EngineServices::reload() {
  std::lock_guard<std::mutex> one(reload_mu_);
  auto refused = json::new_array();
  load_new_connectors(*refused);
  std::vector<fs::path> files;
  if (!workflows_dir_.empty()) {
    std::error_code ec;
    fs::directory_iterator it(workflows_dir_, ec);
    if (ec)
      return Status(Code::kNotFound, "workflows directory " + workflows_dir_ + ": " + ec.message() +
                                         " (fix `workflows:` in the config)");
    for (const auto& e : it) {
      const auto ext = e.path().extension();
      if ((ext == ".yaml" || ext == ".yml") && e.is_regular_file(ec) &&
          std::find(ignored_.begin(), ignored_.end(), fs::weakly_canonical(e.path(), ec)) == ignored_.end())
        files.push_back(e.path());
    }
  }
  std::sort(files.begin(), files.end());

  std::map<std::string, std::shared_ptr<const Loaded>> by_file;
  std::map<std::string, std::shared_ptr<const Loaded>> by_name;
  for (const auto& f : files) {
    const std::string file = f.string();
    auto wf = workflow::load(file, engine_.catalog());
    Status problem = wf.ok() ? Status::Ok() : wf.status();
    std::shared_ptr<const Loaded> loaded;
    if (wf) {
      auto t = read_triggers(*wf);
      if (!t) {
        problem = t.status();
      } else if (!t->cron.empty()) {
        if (auto c = CronSchedule::parse(t->cron, t->timezone); !c)
          problem = Status(Code::kInvalidArgument, file + ": on.schedule: " + c.status().message());
      }
      if (problem.ok()) {
        loaded = std::make_shared<const Loaded>(
            Loaded{std::make_shared<const workflow::Workflow>(std::move(*wf)), std::move(*t)});
      }
    }
    if (!problem.ok()) {
      log::error("daemon", "workflow refused; the version loaded before (if any) keeps serving",
                 {{"file", file}, {"error", problem.message()}});
      refused->add(json::object({{"file", file}, {"error", problem.message()}}));
      std::lock_guard<std::mutex> lk(mu_);
      if (auto old = by_file_.find(file); old != by_file_.end()) loaded = old->second;
    }
    if (!loaded) continue;
    by_file[file] = loaded;
    const std::string& name = loaded->wf->name;
    if (!by_name.emplace(name, loaded).second) {
      log::error("daemon", "workflow name used twice; the first file keeps it",
                 {{"file", file}, {"name", name}, {"first", by_name[name]->wf->file}});
      refused->add(
          json::object({{"file", file}, {"error", "workflow name '" + name + "' is used by another file"}}));
    }
  }

  std::vector<std::pair<std::string, CronSchedule>> schedules;
  for (const auto& [name, l] : by_name) {
    if (l->triggers.cron.empty()) continue;
    if (auto c = CronSchedule::parse(l->triggers.cron, l->triggers.timezone))
      schedules.emplace_back(name, std::move(*c));
  }
  const int count = static_cast<int>(by_name.size());
  {
    std::lock_guard<std::mutex> lk(mu_);
    workflows_ = std::move(by_name);
    by_file_ = std::move(by_file);
  }
  scheduler_.set_schedules(std::move(schedules));
  const auto connectors = engine_.registry().connectors().size();
  if (metrics_) metrics_->gauge("weft_connectors_loaded", "").set({}, static_cast<double>(connectors));
  return json::object(
      {{"workflows", count}, {"connectors", static_cast<int>(connectors)}, {"refused", Json(refused)}});
}

void EngineServices::start_scheduler() { scheduler_.start(); }

Status EngineServices::reserve() {
  std::lock_guard<std::mutex> lk(bg_mu_);
  if (stopping_) return Status(Code::kUnavailable, "the daemon is shutting down; no new runs are started");
  if (in_flight_ >= max_background_)
    return Status(Code::kRateLimited, std::to_string(max_background_) +
                                          " runs are already in flight; retry when some have finished");
  ++in_flight_;
  return Status::Ok();
}

void EngineServices::unreserve() {
  std::lock_guard<std::mutex> lk(bg_mu_);
  --in_flight_;
  bg_cv_.notify_all();
}

void EngineServices::launch(std::function<void()> fn) {
  std::thread([this, fn = std::move(fn)] {
    try {
      fn();
    } catch (const std::exception& e) {
      log::error("daemon", "background run threw", {{"error", e.what()}});
    }
    unreserve();
  }).detach();
}

Status EngineServices::spawn(std::function<void()> fn) {
  WEFT_RETURN_IF_ERROR(reserve());
  launch(std::move(fn));
  return Status::Ok();
}

void EngineServices::stop_triggers() {
  scheduler_.stop();
  {
    std::lock_guard<std::mutex> lk(bg_mu_);
    stopping_ = true;
  }
  bg_cv_.notify_all();
}

bool EngineServices::shutdown(std::chrono::milliseconds drain) {
  stop_triggers();
  std::unique_lock<std::mutex> lk(bg_mu_);
  const bool drained = bg_cv_.wait_for(lk, drain, [this] { return in_flight_ == 0 && loops_ == 0; });
  if (loops_ == 0) {
    lk.unlock();
    if (refresher_.joinable()) refresher_.join();
    if (poller_.joinable()) poller_.join();
  }
  return drained;
}

int EngineServices::interrupt_unfinished(const std::string& why) {
  std::map<std::string, bool> runs;
  {
    std::lock_guard<std::mutex> lk(active_mu_);
    runs = active_;
  }
  int marked = 0;
  for (const auto& [id, resumable] : runs) {
    if (resumable) {
      log::warn("daemon", "run left running; the next start resumes it (the workflow says `resume: true`)",
                {{"run", id}});
      continue;
    }
    Status s = engine_.runs().set_run_status(id, store::RunStatus::kInterrupted, why, store::now_ms());
    if (!s.ok()) {
      log::error("daemon", "cannot mark run interrupted", {{"run", id}, {"error", s.message()}});
      continue;
    }
    log::warn("daemon", "run interrupted", {{"run", id}, {"reason", why}});
    if (metrics_) metrics_->counter("weft_runs_total", "").inc({"interrupted"});
    ++marked;
  }
  return marked;
}

int EngineServices::refresh_expiring(std::chrono::seconds ahead, std::int64_t now_epoch) {
  auto list = engine_.connections().list();
  if (!list) {
    log::error("daemon", "cannot list connections for the refresher", {{"error", list.status().message()}});
    return 0;
  }
  int refreshed = 0;
  for (const auto& c : *list) {
    if (c.state != "active" || !c.access_expires_at || *c.access_expires_at - now_epoch > ahead.count())
      continue;
    Status s = engine_.connections().refresh(c.name);
    if (metrics_)
      metrics_->counter("weft_token_refreshes_total", "").inc({c.connector, s.ok() ? "ok" : "error"});
    std::lock_guard<std::mutex> lk(refresh_mu_);
    if (s.ok()) {
      ++refreshed;
      refresh_failing_.erase(c.name);
    } else if (refresh_failing_.insert(c.name).second) {
      log::warn(
          "daemon",
          "background token refresh failed (tried again on the next pass unless it needs re-authorization)",
          {{"connection", c.name}, {"error", s.message()}});
    }
  }
  return refreshed;
}

Result<int> EngineServices::poll_once(const std::string& name) {
  auto l = find(name);
  if (!l || l->triggers.poll_uses.empty())
    return Status(Code::kNotFound, "no workflow '" + name + "' with a polling trigger");
  const plugin::ActionInfo* op = engine_.catalog().find(l->triggers.poll_uses);
  if (op == nullptr || op->kind != plugin::OperationKind::kTrigger)
    return Status(Code::kNotFound, "trigger '" + l->triggers.poll_uses + "' is not loaded");
  const std::string scope = "poll:" + name;
  auto stored = engine_.runs().state_get(scope, "cursor");
  if (!stored) return stored.status();
  Json cursor;
  if (*stored) {
    auto j = json::parse(**stored);
    if (!j)
      return Status(Code::kDataLoss, "stored cursor of " + name + " is not JSON: " + j.status().message());
    cursor = json::get(*j, "cursor");  // stored wrapped: the JSON parser wants an object or array
  }
  const std::string cursor_text = json::stringify(cursor);
  plugin::InvokeContext ctx;
  ctx.connection = l->triggers.poll_connection;
  ctx.state_scope = name;
  // poll() checks the params against the trigger's input schema and each item against its output
  // schema; the connector gets the ABI's {"params", "cursor"}.
  auto out = engine_.registry().poll(*op, l->triggers.poll_with, cursor, ctx);
  if (!out) return out.status();
  auto inputs = workflow::inputs_from_json(*l->wf, json::object());
  if (!inputs) return inputs.status();
  int started = 0;
  if (auto items = json::as_array(json::get(*out, "items"))) {
    for (std::size_t i = 0; i < items->size(); ++i) {
      Json item = items->get(static_cast<unsigned>(i));
      Poco::SHA2Engine sha(Poco::SHA2Engine::SHA_256);
      sha.update(name + "\n" + cursor_text + "\n" + std::to_string(i) + "\n" + json::stringify(item));
      workflow::RunRequest req;
      req.run_id = "poll-" + Poco::DigestEngine::digestToHex(sha.digest()).substr(0, 32);
      if (engine_.runs().get_run(req.run_id).ok()) continue;  // polled before the last crash
      {
        std::lock_guard<std::mutex> lk(bg_mu_);
        if (stopping_)  // the cursor stays: the rest is polled again after the restart
          return Status(Code::kUnavailable,
                        "the daemon is shutting down; the rest is polled after the restart");
      }
      req.inputs = *inputs;
      req.trigger = json::object({{"type", "poll"}, {"uses", l->triggers.poll_uses}, {"item", item}});
      auto r = execute(*l->wf, req);
      if (!r) return r.status();  // the cursor stays: the rest is polled again
      ++started;
    }
  }
  Json next = json::get(*out, "cursor");
  WEFT_RETURN_IF_ERROR(
      engine_.runs().state_set(scope, "cursor", json::stringify(json::object({{"cursor", next}}))));
  return started;
}

void EngineServices::start_poller() {
  {
    std::lock_guard<std::mutex> lk(bg_mu_);
    ++loops_;
  }
  poller_ = std::thread([this] {
    std::map<std::string, std::chrono::steady_clock::time_point> next;
    std::unique_lock<std::mutex> lk(bg_mu_);
    while (!bg_cv_.wait_for(lk, std::chrono::milliseconds(250), [this] { return stopping_; })) {
      lk.unlock();
      std::vector<std::shared_ptr<const Loaded>> polling;
      {
        std::lock_guard<std::mutex> g(mu_);
        for (const auto& [name, l] : workflows_)
          if (!l->triggers.poll_uses.empty()) polling.push_back(l);
      }
      const auto now = std::chrono::steady_clock::now();
      for (const auto& l : polling) {
        auto& due = next[l->wf->name];
        if (now < due) continue;
        auto interval = l->triggers.poll_interval;
        if (interval.count() == 0) {
          const plugin::ActionInfo* op = engine_.catalog().find(l->triggers.poll_uses);
          interval =
              std::chrono::seconds(op && op->default_interval_seconds ? *op->default_interval_seconds : 60);
        }
        due = now + interval;
        auto r = poll_once(l->wf->name);
        if (!r)
          log::warn("daemon", "poll failed; tried again at the next interval",
                    {{"workflow", l->wf->name}, {"error", r.status().message()}});
      }
      lk.lock();
    }
    --loops_;
    bg_cv_.notify_all();
  });
}

void EngineServices::start_refresher(std::chrono::seconds period, std::chrono::seconds ahead) {
  {
    std::lock_guard<std::mutex> lk(bg_mu_);
    ++loops_;
  }
  refresher_ = std::thread([this, period, ahead] {
    std::unique_lock<std::mutex> lk(bg_mu_);
    while (!bg_cv_.wait_for(lk, period, [this] { return stopping_; })) {
      lk.unlock();
      refresh_expiring(ahead, std::chrono::duration_cast<std::chrono::seconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count());
      lk.lock();
    }
    --loops_;
    bg_cv_.notify_all();
  });
}

void EngineServices::count(const Result<store::RunRecord>& r) {
  if (!metrics_) return;
  if (!r) {
    metrics_->counter("weft_runs_total", "").inc({"error"});
    return;
  }
  metrics_->counter("weft_runs_total", "").inc({store::to_string(r->status)});
  auto& hist = metrics_->histogram("weft_step_duration_seconds", "", {"connector", "action"}, {});
  for (const auto& s : r->steps) {
    if (s.finished_at_ms == 0 || s.status == store::StepStatus::kSkipped) continue;
    const auto dot = s.uses.find('.');
    hist.observe({s.uses.substr(0, dot), dot == std::string::npos ? std::string() : s.uses.substr(dot + 1)},
                 static_cast<double>(s.duration_us) / 1e6);
  }
}

EngineServices::ActiveRun::ActiveRun(EngineServices& s, std::string id, bool resumable)
    : s_(s), id_(std::move(id)) {
  std::lock_guard<std::mutex> lk(s_.active_mu_);
  s_.active_[id_] = resumable;
}

EngineServices::ActiveRun::~ActiveRun() {
  std::lock_guard<std::mutex> lk(s_.active_mu_);
  s_.active_.erase(id_);
}

Result<store::RunRecord> EngineServices::execute(const workflow::Workflow& wf, workflow::RunRequest req) {
  if (req.run_id.empty()) req.run_id = store::new_run_id();
  ActiveRun active(*this, req.run_id, wf.resume);
  auto r = executor_.run(wf, req);
  count(r);
  return r;
}

Result<store::RunRecord> EngineServices::resume(const workflow::Workflow& wf, const std::string& run_id) {
  ActiveRun active(*this, run_id, wf.resume);
  auto r = executor_.resume(wf, run_id);
  count(r);
  return r;
}

Status EngineServices::record_run(const workflow::Workflow& wf, const workflow::RunRequest& req) {
  // What Executor::run records before its first step; resume() then runs it from step one.
  const store::RunRecord run = workflow::initial_run_record(wf, req);
  return engine_.runs().create_run(run);
}

Result<store::RunRecord> EngineServices::run_now(const std::string& name, const Json& trigger) {
  auto l = find(name);
  if (!l) return not_found_workflow(name);
  auto req = run_request(*l->wf, trigger);
  if (!req) return req.status();
  return execute(*l->wf, std::move(*req));
}

Result<std::string> EngineServices::run_workflow_text(const std::string& name, const Json& trigger) {
  auto r = run_now(name, trigger);
  if (!r) return r.status();
  return run_to_text(*r, true);
}

Result<workflow::RunRequest> EngineServices::run_request(const workflow::Workflow& wf, const Json& trigger) {
  Json given = json::get(trigger, "inputs");
  if (given.isEmpty()) given = json::object();
  auto inputs = workflow::inputs_from_json(wf, given);
  if (!inputs) return inputs.status();
  workflow::RunRequest req;
  req.inputs = *inputs;
  req.trigger = trigger;
  return req;
}

Result<Json> EngineServices::trigger_workflow(const std::string& name, const Json& trigger, bool async) {
  if (!async) {
    auto r = run_now(name, trigger);
    if (!r) return r.status();
    return run_to_json(*r, true);
  }
  auto l = find(name);
  if (!l) return not_found_workflow(name);
  auto made = run_request(*l->wf, trigger);
  if (!made) return made.status();
  workflow::RunRequest req = std::move(*made);
  req.run_id = store::new_run_id();
  const std::string id = req.run_id;
  // Recorded here, before the 202: a daemon killed right after answering leaves a `running` run
  // that the next start resumes (resume: true) or marks interrupted. The background thread runs
  // it from its first step.
  WEFT_RETURN_IF_ERROR(reserve());
  if (Status rec = record_run(*l->wf, req); !rec.ok()) {
    unreserve();
    return rec;
  }
  launch([this, wf = l->wf, id] {
    auto r = resume(*wf, id);
    if (!r) {
      log::error("daemon", "recorded run could not start; marked failed",
                 {{"run", id}, {"workflow", wf->name}, {"error", r.status().message()}});
      (void)engine_.runs().set_run_status(id, store::RunStatus::kFailed, r.status().message(),
                                          store::now_ms());
    }
  });
  return json::object({{"id", id}, {"status", "running"}, {"workflow", name}});
}

Result<Json> EngineServices::list_runs(const Json& filter) {
  store::RunQuery q;
  q.workflow = json::get_string(filter, "workflow");
  if (std::string st = json::get_string(filter, "status"); !st.empty()) {
    q.status = store::run_status_from(st);
    if (!q.status)
      return Status(Code::kInvalidArgument,
                    "unknown run status '" + st + "' (running, succeeded, failed, interrupted)");
  }
  Json limit = json::get(filter, "limit");
  if (!limit.isEmpty() && limit.isNumeric()) q.limit = static_cast<std::size_t>(limit.convert<int>());
  auto runs = engine_.runs().list_runs(q);
  if (!runs) return runs.status();
  auto a = json::new_array();
  for (const auto& r : *runs) a->add(run_to_json(r, false));
  return Json(a);
}

Result<Json> EngineServices::get_run(const std::string& id) {
  auto r = engine_.runs().get_run(id);
  if (!r) return r.status();
  return run_to_json(*r, true);
}

int EngineServices::resume_unfinished() {
  store::RunQuery q;
  q.status = store::RunStatus::kRunning;
  q.limit = 100000;
  auto runs = engine_.runs().list_runs(q);
  if (!runs) {
    log::error("daemon", "cannot list unfinished runs", {{"error", runs.status().message()}});
    return 0;
  }
  for (const auto& run : *runs) {
    auto l = find(run.workflow);
    if (l && l->wf->resume) {
      log::info("daemon", "resuming a run the previous daemon left unfinished",
                {{"run", run.id}, {"workflow", run.workflow}});
      const std::string id = run.id;
      Status started = spawn([this, wf = l->wf, id] {
        auto r = resume(*wf, id);
        if (!r) {
          log::error("daemon", "run cannot resume; marked interrupted",
                     {{"run", id}, {"error", r.status().message()}});
          (void)engine_.runs().set_run_status(id, store::RunStatus::kInterrupted,
                                              "could not resume after a restart: " + r.status().message(),
                                              store::now_ms());
        }
      });
      if (started.ok()) continue;
      log::warn("daemon", "run not resumed now", {{"run", run.id}, {"error", started.message()}});
      continue;  // still `running`: the next start tries again
    }
    const std::string why =
        l ? "the daemon stopped during this run and the workflow does not say `resume: true`"
          : "the daemon stopped during this run and its workflow is no longer loaded";
    log::warn("daemon", "run interrupted", {{"run", run.id}, {"workflow", run.workflow}});
    if (Status s =
            engine_.runs().set_run_status(run.id, store::RunStatus::kInterrupted, why, store::now_ms());
        !s.ok())
      log::error("daemon", "cannot mark run interrupted", {{"run", run.id}, {"error", s.message()}});
    if (metrics_) metrics_->counter("weft_runs_total", "").inc({"interrupted"});
  }
  return static_cast<int>(runs->size());
}

Result<Json> EngineServices::list_workflows() {
  std::lock_guard<std::mutex> lk(mu_);
  auto a = json::new_array();
  for (const auto& [name, l] : workflows_) {
    std::vector<std::string> triggers;
    if (l->triggers.webhook) triggers.push_back("webhook");
    if (!l->triggers.cron.empty()) triggers.push_back("schedule");
    if (!l->triggers.poll_uses.empty()) triggers.push_back(l->triggers.poll_uses);
    a->add(json::object({{"name", name},
                         {"file", l->wf->file},
                         {"description", l->wf->description},
                         {"resume", l->wf->resume},
                         {"triggers", string_array(triggers)}}));
  }
  return Json(a);
}

Result<WebhookPolicy> EngineServices::webhook_policy(const std::string& name) {
  auto l = find(name);
  if (!l || !l->triggers.webhook)
    return Status(Code::kNotFound, "no workflow '" + name + "' with a webhook trigger");
  return l->triggers.webhook_policy;
}

bool EngineServices::webhook_is_async(const std::string& name) {
  auto l = find(name);
  return l && l->triggers.webhook_async;
}

Result<Json> EngineServices::list_connectors() {
  auto a = json::new_array();
  for (const auto& c : engine_.registry().connectors()) {
    auto ops = [](const std::vector<const plugin::ActionInfo*>& v) {
      auto arr = json::new_array();
      for (const auto* op : v)
        arr->add(json::object({{"name", op->name},
                               {"uses", op->uses},
                               {"title", op->title},
                               {"input", op->input_schema()},
                               {"output", op->output_schema()}}));
      return Json(arr);
    };
    auto draining = json::new_array();
    for (const auto& d : engine_.registry().draining())
      if (d.id == c->id)
        draining->add(json::object({{"version", d.version}, {"path", d.path}, {"runs", d.runs}}));
    a->add(json::object({{"id", c->id},
                         {"version", c->version},
                         {"path", c->path},
                         {"draining", Json(draining)},
                         {"name", c->name},
                         {"auth", c->auth_kind},
                         {"actions", ops(c->actions)},
                         {"triggers", ops(c->triggers)}}));
  }
  return Json(a);
}

Result<Json> EngineServices::list_connections() {
  auto list = engine_.connections().list();
  if (!list) return list.status();
  auto a = json::new_array();
  for (const auto& c : *list) {
    auto o = json::new_object();
    o->set("name", c.name);
    o->set("connector", c.connector);
    o->set("auth", c.auth_kind);
    o->set("state", c.state);
    o->set("scopes", string_array(c.scopes));
    if (c.access_expires_at) o->set("access_expires_at", *c.access_expires_at);
    if (c.refresh_expires_at) o->set("refresh_expires_at", *c.refresh_expires_at);
    if (!c.last_error.empty()) o->set("last_error", c.last_error);
    a->add(o);
  }
  return Json(a);
}

Result<Json> EngineServices::create_connection(const Json& body) {
  auth::AddRequest req;
  req.name = json::get_string(body, "name");
  req.connector = json::get_string(body, "connector");
  if (req.connector.empty())
    return Status(Code::kInvalidArgument, "\"connector\" is required (a loaded connector id)");
  Json secrets = json::get(body, "secrets");
  req.client_id = json::get_string(secrets, "client_id");
  req.client_secret = json::get_string(secrets, "client_secret");
  req.token = json::get_string(secrets, "token");
  if (auto settings = json::as_object(json::get(body, "settings"))) {
    for (const auto& k : settings->getNames()) {
      Json v = settings->get(k);
      if (!v.isString()) return Status(Code::kInvalidArgument, "setting '" + k + "' must be a string");
      req.settings[k] = v.toString();
    }
  }
  WEFT_RETURN_IF_ERROR(engine_.connections().add(req));
  return json::object({{"name", req.name}, {"connector", req.connector}});
}

Status EngineServices::delete_connection(const std::string& name) {
  return engine_.connections().remove(name);
}

Result<std::string> EngineServices::start_authorization(const std::string& name,
                                                        const std::string& redirect_uri) {
  auto s = engine_.connections().authorize(name, redirect_uri);
  if (!s) return s.status();
  return s->url;
}

Result<std::string> EngineServices::finish_authorization(const std::map<std::string, std::string>& query) {
  // complete() takes the raw query: rebuild it with every value encoded again.
  std::string q;
  for (const auto& [k, v] : query) {
    std::string ek, ev;
    Poco::URI::encode(k, "&=+#", ek);
    Poco::URI::encode(v, "&=+#", ev);
    if (!q.empty()) q += '&';
    q += ek + "=" + ev;
  }
  return engine_.connections().complete(q);
}

}  // namespace weft::daemon
