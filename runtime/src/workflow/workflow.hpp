// workflow.hpp — a workflow file checked and compiled: typed inputs, steps with their `with`
// values pre-parsed into expression templates, ready for the executor. Also the problems
// `weft validate` reports, each with file:line:column.
//
//   auto wf = workflow::load(path, catalog);      // fails with every problem, one per line
//   std::vector<workflow::Problem> ps = workflow::validate(doc, catalog);
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/json.hpp"
#include "core/status.hpp"
#include "plugin/catalog.hpp"
#include "workflow/expression.hpp"
#include "workflow/yaml_loader.hpp"

namespace weft::workflow {

struct Problem {
  std::string where;  // "file:line:column"
  std::string message;
  std::string hint;  // may be empty
  // "file:line:column: message (hint: hint)"
  std::string to_string() const;
};

enum class InputType { kString, kNumber, kInteger, kBoolean, kObject, kArray };
const char* to_string(InputType t);

struct InputSpec {
  std::string name;
  InputType type = InputType::kString;
  std::optional<Json> default_value;
  bool required = false;
  std::string description;
};

// A `with` value with its expressions parsed once. Immutable; render() is thread-safe.
class CompiledValue {
 public:
  // Static parts are returned as they are (shared, not copied): callers must not mutate them.
  Result<Json> render(const Json& context) const;
  bool is_static() const { return kind_ == Kind::kStatic; }

  // Compiles v; every string holding `${{` becomes a template. Fails on the first expression that
  // does not parse, with pointer_out set to where it is (relative to v, e.g. "/title").
  static Result<CompiledValue> compile(const Json& v, std::string& pointer_out);

 private:
  enum class Kind { kStatic, kTemplate, kObject, kArray };
  Kind kind_ = Kind::kStatic;
  Json static_value_;
  std::shared_ptr<const expr::Template> template_;  // shared: CompiledValue is copied with the workflow
  std::vector<std::pair<std::string, CompiledValue>> members_;  // kObject (name) / kArray (name unused)
};

struct Step {
  int index = 0;
  std::string id;
  std::string name;
  std::string uses;
  std::string connection;
  Json with;                                        // as written
  CompiledValue with_value;                         // compiled `with` (an empty object when absent)
  std::shared_ptr<const expr::Template> condition;  // null: always run
  std::optional<std::chrono::milliseconds> timeout;
  bool continue_on_error = false;
};

struct Workflow {
  std::string file;
  std::string name;
  std::string description;
  Json on;  // as written; null when absent
  bool resume = false;
  std::vector<InputSpec> inputs;
  std::vector<Step> steps;
};

// Parses "500ms", "30s", "2m", "1h". nullopt when malformed or zero.
std::optional<std::chrono::milliseconds> parse_duration(const std::string& text);

// Every problem of the document: the workflow schema, expressions (syntax and which steps and
// inputs they name), step ids, actions in catalog, static `with` values against each action's
// input schema, connections. Empty when the workflow is fine. Never throws.
std::vector<Problem> validate(const YamlDocument& doc, const plugin::ActionCatalog& catalog);

// Builds the Workflow of a document that validate() accepted. Fails (invalid_argument) when it
// was not validated and something is malformed.
Result<Workflow> compile(const YamlDocument& doc);

// load_yaml_file + validate + compile. On problems, fails with invalid_argument whose message is
// every problem, one per line.
Result<Workflow> load(const std::string& path, const plugin::ActionCatalog& catalog);

}  // namespace weft::workflow
