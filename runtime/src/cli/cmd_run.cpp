// weft run <workflow.yaml> [--input key=value]... [--json] — validates, then runs the workflow once
// and prints the run. Exit 0 when the run succeeded, 1 when it failed or could not start (a file
// that does not load or validate), 2 on bad usage, a bad --input included. Without --json: a short
// table, one row per step, failed steps with their error.
//
// --json output (stable; one line; secrets redacted):
//   {"run_id":"<uuid>","workflow":"<name>","file":"<path>",
//    "status":"succeeded"|"failed",
//    "error":"<why the run failed>"|null,
//    "started_at":<epoch ms>,"finished_at":<epoch ms>,"duration_ms":<n>,
//    "inputs":{<typed inputs after defaults>},
//    "steps":[{"id":"<step id>","uses":"<connector.action>",
//              "status":"succeeded"|"failed"|"skipped"|"pending",
//              "input":<rendered with>|null,"output":<action output>|null,
//              "error":"<message>"|null,"duration_ms":<number, fractional>}]}
#include <algorithm>
#include <cstdio>
#include <iomanip>
#include <ostream>
#include <sstream>

#include "cli/command.hpp"
#include "cli/common.hpp"
#include "core/redact.hpp"
#include "store/run_store.hpp"
#include "workflow/executor.hpp"
#include "workflow/workflow.hpp"

namespace weft::cli {
namespace {

Json nullable(const std::string& s) { return s.empty() ? Json() : Json(s); }

double ms_of(std::int64_t us) { return static_cast<double>(us) / 1000.0; }

std::string format_ms(double ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, ms < 10 ? "%.2f ms" : "%.0f ms", ms);
  return buf;
}

Json run_json(const store::RunRecord& run) {
  auto steps = json::new_array();
  for (const auto& s : run.steps) {
    steps->add(json::object({{"id", s.step_id},
                             {"uses", s.uses},
                             {"status", std::string(store::to_string(s.status))},
                             {"input", s.input},
                             {"output", s.output},
                             {"error", nullable(s.error)},
                             {"duration_ms", ms_of(s.duration_us)}}));
  }
  return json::object({{"run_id", run.id},
                       {"workflow", run.workflow},
                       {"file", run.workflow_file},
                       {"status", std::string(store::to_string(run.status))},
                       {"error", nullable(run.error)},
                       {"started_at", static_cast<Poco::Int64>(run.started_at_ms)},
                       {"finished_at", static_cast<Poco::Int64>(run.finished_at_ms)},
                       {"duration_ms", static_cast<Poco::Int64>(run.finished_at_ms - run.started_at_ms)},
                       {"inputs", run.inputs},
                       {"steps", steps}});
}

// One line of at most width characters (newlines folded), for the table's detail column.
std::string one_line(const std::string& text, std::size_t width) {
  std::string out;
  for (char c : text) out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  if (out.size() > width) {
    out.resize(width - 3);
    out += "...";
  }
  return out;
}

// A short table: one row per step; failed steps show their error, others nothing more (the whole
// outputs are in --json).
void print_human(std::ostream& out, const store::RunRecord& run) {
  constexpr std::size_t kErrorWidth = 100;
  std::size_t id_w = 4, uses_w = 6;
  for (const auto& s : run.steps) {
    id_w = std::max(id_w, s.step_id.size());
    uses_w = std::max(uses_w, s.uses.size());
  }
  out << std::left << std::setw(static_cast<int>(id_w) + 2) << "STEP"
      << std::setw(static_cast<int>(uses_w) + 2) << "ACTION" << std::setw(11) << "STATUS"
      << "DURATION\n";
  for (const auto& s : run.steps) {
    const bool ran = s.status == store::StepStatus::kSucceeded || s.status == store::StepStatus::kFailed;
    out << std::left << std::setw(static_cast<int>(id_w) + 2) << s.step_id
        << std::setw(static_cast<int>(uses_w) + 2) << s.uses << std::setw(11) << store::to_string(s.status)
        << (ran ? format_ms(ms_of(s.duration_us)) : "-") << "\n";
    if (!s.error.empty()) out << "  error: " << one_line(s.error, kErrorWidth) << "\n";
  }
  out << "run " << run.id << " (" << run.workflow << ") " << store::to_string(run.status) << " in "
      << format_ms(static_cast<double>(run.finished_at_ms - run.started_at_ms)) << "\n";
}

int run_run(Invocation& inv) {
  const std::vector<std::string> input_args = inv.take_all("input");
  const bool as_json = inv.take_flag("json") || inv.global.json;
  if (!inv.check_positionals(1, 1)) return kExitUsage;
  const std::string path = inv.args[0];

  // Checks the user's connector directories, opens the home, the run store and the vault, loads
  // the connectors; prints one line and gives null on failure.
  auto engine = open_engine(inv);
  if (!engine) return kExitFailure;

  auto doc = workflow::load_yaml_file(path);
  if (!doc) {
    inv.err << redact::apply(doc.status().message()) << "\n";
    return kExitFailure;
  }
  const auto problems = workflow::validate(*doc, engine->catalog());
  if (!problems.empty()) {
    for (const auto& p : problems) inv.err << redact::apply(p.to_string()) << "\n";
    return inv.fail(path + " has " + std::to_string(problems.size()) + " problem" +
                    (problems.size() == 1 ? "" : "s") + "; nothing was run");
  }
  auto wf = workflow::compile(*doc);
  if (!wf) return inv.fail(redact::apply(wf.status().message()));
  auto inputs = workflow::inputs_from_strings(*wf, input_args);
  // A bad --input is a bad command line: exit 2, like any other usage error.
  if (!inputs) return inv.usage(redact::apply(inputs.status().message()));

  workflow::Executor executor(engine->catalog(), engine->runs());
  auto run = executor.run(*wf, {.inputs = *inputs, .trigger = Json(), .run_id = ""});
  if (!run) return inv.fail(redact::apply(run.status().message()));
  if (as_json) {
    inv.out << redact::apply(json::stringify(run_json(*run))) << "\n";
  } else {
    std::ostringstream text;
    print_human(text, *run);
    inv.out << redact::apply(text.str());
  }
  return run->status == store::RunStatus::kSucceeded ? kExitOk : kExitFailure;
}

const Registrar reg("run", "<workflow.yaml> [--input key=value]... [--json]",
                    "Validate and run a workflow once, printing every step", run_run);

}  // namespace
}  // namespace weft::cli
