#include "workflow/executor.hpp"

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <map>

extern char** environ;  // NOLINT: POSIX, the only way to list the environment

namespace weft::workflow {

namespace {

using Clock = std::chrono::steady_clock;

Json read_environment() {
  auto env = json::new_object();
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string kv = *e;
    const auto eq = kv.find('=');
    if (eq != std::string::npos && eq > 0) env->set(kv.substr(0, eq), kv.substr(eq + 1));
  }
  return env;
}

const InputSpec* find_input(const Workflow& wf, const std::string& name) {
  for (const auto& in : wf.inputs) {
    if (in.name == name) return &in;
  }
  return nullptr;
}

std::string declared(const Workflow& wf) {
  std::string out;
  for (const auto& in : wf.inputs)
    out += (out.empty() ? "" : ", ") + in.name + " (" + to_string(in.type) + ")";
  return out.empty() ? "this workflow declares no inputs" : "declared: " + out;
}

bool fits(const Json& v, InputType t) {
  switch (t) {
    case InputType::kString:
      return v.isString();
    case InputType::kBoolean:
      return v.type() == typeid(bool);
    case InputType::kNumber:
      return v.isNumeric() && v.type() != typeid(bool);
    case InputType::kInteger:
      if (v.isInteger() && v.type() != typeid(bool)) return true;
      if (v.isNumeric() && v.type() != typeid(bool)) {
        const double d = v.convert<double>();
        return std::isfinite(d) && d == std::floor(d);
      }
      return false;
    case InputType::kObject:
      return json::is_object(v);
    case InputType::kArray:
      return json::is_array(v);
  }
  return false;
}

Result<Json> convert(const InputSpec& in, const std::string& text) {
  // The value is echoed so the user sees what was read, but a long one (a pasted document) only
  // by its start: one line of error, not 20 KB of it.
  constexpr std::size_t kEchoMax = 60;
  const std::string shown =
      text.size() <= kEchoMax ? text
                              : text.substr(0, kEchoMax) + "... (" + std::to_string(text.size()) + " bytes)";
  auto bad = [&](const std::string& expected, const std::string& why = "") {
    return Status(Code::kInvalidArgument, "input '" + in.name + "' must be " + expected + ", got '" + shown +
                                              "'" + (why.empty() ? "" : ": " + why));
  };
  switch (in.type) {
    case InputType::kString:
      return Json(text);
    case InputType::kBoolean:
      if (text == "true") return Json(true);
      if (text == "false") return Json(false);
      return bad("a boolean (true or false)");
    case InputType::kInteger: {
      errno = 0;
      char* end = nullptr;
      const long long v = std::strtoll(text.c_str(), &end, 10);
      if (text.empty() || errno != 0 || end == nullptr || *end != '\0') return bad("an integer");
      return Json(static_cast<Poco::Int64>(v));
    }
    case InputType::kNumber: {
      errno = 0;
      char* end = nullptr;
      const double d = std::strtod(text.c_str(), &end);
      if (text.empty() || errno != 0 || end == nullptr || *end != '\0' || !std::isfinite(d))
        return bad("a number");
      if (d == std::floor(d) && std::fabs(d) < 9.0e15) return Json(static_cast<Poco::Int64>(d));
      return Json(d);
    }
    case InputType::kObject:
    case InputType::kArray: {
      auto v = json::parse(text);
      if (!v || !fits(*v, in.type)) {
        return bad(
            in.type == InputType::kObject ? "a JSON object such as {\"k\":1}" : "a JSON array such as [1,2]",
            v ? "" : v.status().message());
      }
      return v;
    }
  }
  return bad("a value");
}

// Adds defaults and checks required inputs.
Result<Json> complete(const Workflow& wf, Poco::JSON::Object::Ptr given) {
  auto out = json::new_object();
  for (const auto& in : wf.inputs) {
    if (given->has(in.name)) {
      out->set(in.name, given->get(in.name));
    } else if (in.default_value) {
      out->set(in.name, *in.default_value);
    } else if (in.required) {
      return Status(Code::kInvalidArgument, "input '" + in.name + "' is required (" + to_string(in.type) +
                                                "); pass --input " + in.name + "=VALUE");
    } else {
      out->set(in.name, Json());
    }
  }
  return Json(out);
}

void skip_rest(store::RunRecord& run, std::size_t from, const std::string& reason) {
  for (std::size_t i = from; i < run.steps.size(); ++i) {
    run.steps[i].status = store::StepStatus::kSkipped;
    run.steps[i].error = reason;
  }
}

}  // namespace

Result<Json> inputs_from_strings(const Workflow& wf, const std::vector<std::string>& key_values) {
  auto given = json::new_object();
  for (const auto& kv : key_values) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Status(Code::kInvalidArgument, "--input '" + kv + "' is not key=value");
    }
    const std::string key = kv.substr(0, eq);
    const InputSpec* in = find_input(wf, key);
    if (in == nullptr)
      return Status(Code::kInvalidArgument, "unknown input '" + key + "' (" + declared(wf) + ")");
    auto v = convert(*in, kv.substr(eq + 1));
    if (!v) return v;
    given->set(key, *v);
  }
  return complete(wf, given);
}

Result<Json> inputs_from_json(const Workflow& wf, const Json& given) {
  auto obj = json::as_object(given);
  if (obj.isNull()) {
    if (!given.isEmpty()) return Status(Code::kInvalidArgument, "inputs must be a JSON object");
    obj = json::new_object();
  }
  for (const auto& k : obj->getNames()) {
    const InputSpec* in = find_input(wf, k);
    if (in == nullptr)
      return Status(Code::kInvalidArgument, "unknown input '" + k + "' (" + declared(wf) + ")");
    if (!fits(obj->get(k), in->type)) {
      return Status(Code::kInvalidArgument, "input '" + k + "' must be of type " + to_string(in->type));
    }
  }
  return complete(wf, obj);
}

Executor::Executor(const plugin::ActionCatalog& catalog, store::RunStore& store)
    : catalog_(catalog), store_(store), env_(read_environment()) {}

store::RunRecord initial_run_record(const Workflow& wf, const RunRequest& request) {
  store::RunRecord run;
  run.id = request.run_id.empty() ? store::new_run_id() : request.run_id;
  run.workflow = wf.name;
  run.workflow_file = wf.file;
  run.status = store::RunStatus::kRunning;
  run.inputs = request.inputs.isEmpty() ? Json(json::new_object()) : request.inputs;
  run.trigger = request.trigger;
  run.started_at_ms = store::now_ms();
  for (const auto& s : wf.steps) {
    store::StepRecord r;
    r.index = s.index;
    r.step_id = s.id;
    r.uses = s.uses;
    run.steps.push_back(std::move(r));
  }
  return run;
}

Result<store::RunRecord> Executor::run(const Workflow& wf, const RunRequest& request) const {
  store::RunRecord run = initial_run_record(wf, request);
  // When no `if:` decides about the first step, its start goes into the run's own insert: one
  // commit fewer, and nothing happens between the two.
  const bool first_recorded = !wf.steps.empty() && !wf.steps[0].condition;
  if (first_recorded) {
    run.steps[0].status = store::StepStatus::kRunning;
    run.steps[0].started_at_ms = store::now_ms();
  }
  WEFT_RETURN_IF_ERROR(store_.create_run(run));
  return execute(wf, std::move(run), 0, first_recorded);
}

Result<store::RunRecord> Executor::resume(const Workflow& wf, const std::string& run_id) const {
  auto run = store_.get_run(run_id);
  if (!run) return run;
  if (run->status == store::RunStatus::kSucceeded || run->status == store::RunStatus::kFailed) {
    return Status(Code::kFailedPrecondition,
                  "run " + run_id + " has already " + store::to_string(run->status));
  }
  bool same = run->steps.size() == wf.steps.size();
  for (std::size_t i = 0; same && i < wf.steps.size(); ++i) same = run->steps[i].step_id == wf.steps[i].id;
  if (!same) {
    return Status(Code::kFailedPrecondition,
                  "run " + run_id + " cannot resume: the steps of " + wf.file + " changed since it started");
  }
  std::size_t first = 0;
  while (first < run->steps.size() && (run->steps[first].status == store::StepStatus::kSucceeded ||
                                       run->steps[first].status == store::StepStatus::kSkipped ||
                                       run->steps[first].status == store::StepStatus::kFailed)) {
    ++first;
  }
  run->status = store::RunStatus::kRunning;
  WEFT_RETURN_IF_ERROR(store_.set_run_status(run->id, store::RunStatus::kRunning, "", 0));
  return execute(wf, std::move(*run), first, false);
}

Result<store::RunRecord> Executor::execute(const Workflow& wf, store::RunRecord run, std::size_t first,
                                           bool first_recorded) const {
  // Every step calls the connector versions loaded when the run (or its resume) started, even if
  // the daemon loads a new version meanwhile; the old one is unloaded once its runs are done.
  const std::shared_ptr<const plugin::ActionCatalog> pinned = catalog_.pin();
  const plugin::ActionCatalog& catalog = pinned ? *pinned : catalog_;
  auto steps_ctx = json::new_object();
  Json context =
      json::object({{"inputs", run.inputs}, {"trigger", run.trigger}, {"env", env_}, {"steps", steps_ctx}});
  auto remember = [&](const store::StepRecord& r) {
    steps_ctx->set(r.step_id,
                   json::object({{"output", r.output}, {"status", std::string(store::to_string(r.status))}}));
  };
  for (std::size_t i = 0; i < first; ++i) remember(run.steps[i]);

  // Steps that ended but are not yet written: they go into the same commit as the next write (the
  // next step's start, or the run's end). Nothing with an effect outside happens in between.
  std::vector<const store::StepRecord*> ended;
  auto write_with_ended = [&](const store::StepRecord* starting, const store::RunStore::Finish* fin) {
    if (starting != nullptr) ended.push_back(starting);
    Status s = store_.put_steps(run.id, ended, fin);
    ended.clear();
    return s;
  };

  std::string run_error;
  for (std::size_t i = first; i < wf.steps.size(); ++i) {
    const Step& step = wf.steps[i];
    store::StepRecord& rec = run.steps[i];
    rec.output = Json();
    rec.error.clear();
    rec.started_at_ms = store::now_ms();
    const auto t0 = Clock::now();
    auto finish = [&](store::StepStatus st, const std::string& error) {
      rec.status = st;
      rec.error = error;
      rec.finished_at_ms = store::now_ms();
      rec.duration_us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
      remember(rec);
      ended.push_back(&rec);
    };

    bool run_it = true;
    if (step.condition) {
      auto c = step.condition->render(context);
      if (!c) {
        finish(store::StepStatus::kFailed, "if: " + c.status().message());
        run_it = false;
      } else if (!expr::truthy(*c)) {
        finish(store::StepStatus::kSkipped, "");
        continue;
      }
    }
    if (run_it) {
      rec.status = store::StepStatus::kRunning;
      if (!(i == first && first_recorded)) WEFT_RETURN_IF_ERROR(write_with_ended(&rec, nullptr));
      std::string error;
      auto input = step.with_value.render(context);
      const plugin::ActionInfo* action = catalog.find(step.uses);
      if (!input) {
        error = "with: " + input.status().message();
      } else if (action == nullptr) {
        rec.input = *input;
        error = "action '" + step.uses + "' is not loaded";
      } else {
        rec.input = *input;
        plugin::InvokeContext ctx;
        ctx.run_id = run.id;
        ctx.step_id = step.id;
        ctx.connection = step.connection;
        if (step.timeout) ctx.deadline = t0 + *step.timeout;
        Result<Json> out = Status(Code::kInternal, "not invoked");
        try {
          out = catalog.invoke(*action, *input, ctx);
        } catch (const std::exception& e) {
          out = Status(Code::kInternal, std::string("the connector threw: ") + e.what());
        }
        if (ctx.deadline && Clock::now() > *ctx.deadline) {
          error = "timed out after " + std::to_string(step.timeout->count()) + " ms";
        } else if (!out) {
          error = out.status().to_string();
        } else {
          rec.output = *out;
        }
      }
      finish(error.empty() ? store::StepStatus::kSucceeded : store::StepStatus::kFailed, error);
    }
    if (rec.status == store::StepStatus::kFailed && !step.continue_on_error) {
      run_error = "step '" + step.id + "' failed: " + rec.error;
      skip_rest(run, i + 1, "not run: step '" + step.id + "' failed");
      for (std::size_t j = i + 1; j < run.steps.size(); ++j) ended.push_back(&run.steps[j]);
      break;
    }
  }
  run.status = run_error.empty() ? store::RunStatus::kSucceeded : store::RunStatus::kFailed;
  run.error = run_error;
  run.finished_at_ms = store::now_ms();
  const store::RunStore::Finish fin{run.status, run.error, run.finished_at_ms};
  WEFT_RETURN_IF_ERROR(write_with_ended(nullptr, &fin));
  return run;
}

}  // namespace weft::workflow
