#include "schema/schema.hpp"

#include <valijson/adapters/poco_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include <cmath>
#include <exception>
#include <map>
#include <mutex>
#include <utility>

#include "core/embedded.hpp"

namespace weft::schema {

namespace {

// valijson reports a context like {"<root>", "[headers]", "[0]"}; a JSON pointer is "/headers/0".
std::string to_pointer(const std::vector<std::string>& context) {
  std::string out;
  for (const auto& part : context) {
    if (part == "<root>") continue;
    std::string_view token = part;
    if (token.size() >= 2 && token.front() == '[' && token.back() == ']') token = token.substr(1, token.size() - 2);
    out.push_back('/');
    for (char c : token) {  // RFC 6901 escaping
      if (c == '~') {
        out += "~0";
      } else if (c == '/') {
        out += "~1";
      } else {
        out.push_back(c);
      }
    }
  }
  return out;
}

// valijson repeats a child's failure on each ancestor ("Failed to validate against schema associated
// with property name 'x'"); those add nothing for a reader once the child's own issue is shown.
bool is_summary(const std::string& message) {
  static constexpr std::string_view kPrefixes[] = {
      "Failed to validate against schema associated with property name",
      "Failed to validate against schema associated with pattern",
      "Failed to validate against additional properties schema",
      "Failed to validate item #",
  };
  for (auto prefix : kPrefixes) {
    if (std::string_view(message).substr(0, prefix.size()) == prefix) return true;
  }
  return false;
}

bool deeper(const Json& v, std::size_t remaining) {
  if (json::is_object(v)) {
    if (remaining == 0) return true;
    auto o = json::as_object(v);
    for (const auto& [key, member] : *o) {
      if (deeper(member, remaining - 1)) return true;
    }
  } else if (json::is_array(v)) {
    if (remaining == 0) return true;
    auto a = json::as_array(v);
    for (std::size_t i = 0; i < a->size(); ++i) {
      if (deeper(a->get(i), remaining - 1)) return true;
    }
  }
  return false;
}

// valijson compiles an integer `multipleOf` into a check that truncates a non-integer instance to
// int64 before taking the remainder: 4.5 then passes "multipleOf: 2", a number past the int64 range
// (8.4e123) is undefined behaviour in the cast, and a divisor of 0 divides by zero. The same divisor
// as a double takes valijson's floating-point check (remainder()), which is right for all of them.
// This rewrites a copy of the schema so: every integer divisor becomes a double, and a divisor that
// is not a number greater than 0 (JSON Schema's rule) is refused. Data positions (const, enum,
// default, examples) are left alone. An empty string means the schema is fine.
std::string float_divisors(const Json& v, const std::string& at) {
  if (auto o = json::as_object(v); !o.isNull()) {
    for (const auto& key : o->getNames()) {
      if (key == "const" || key == "enum" || key == "default" || key == "examples") continue;
      const Json member = o->get(key);
      const std::string here = at + "/" + key;
      // A member named multipleOf holding an object or a boolean is a schema (a property called
      // "multipleOf"), not the keyword; valijson judges those. A string would be read as a number.
      if (key == "multipleOf" && (json::is_string(member) || (member.isNumeric() && !member.isBoolean()))) {
        const double d = json::is_string(member) ? 0 : member.convert<double>();
        if (!(d > 0) || !std::isfinite(d)) return "'multipleOf' at " + here + " must be a number greater than 0";
        o->set(key, d);
      } else if (auto error = float_divisors(member, here); !error.empty()) {
        return error;
      }
    }
  } else if (auto a = json::as_array(v); !a.isNull()) {
    for (std::size_t i = 0; i < a->size(); ++i) {
      if (auto error = float_divisors(a->get(i), at + "/" + std::to_string(i)); !error.empty()) return error;
    }
  }
  return {};
}

}  // namespace

Schema::Schema(std::unique_ptr<valijson::Schema> compiled) : compiled_(std::move(compiled)) {}
Schema::Schema(Schema&&) noexcept = default;
Schema& Schema::operator=(Schema&&) noexcept = default;
Schema::~Schema() = default;

Result<Schema> Schema::compile(const Json& schema_doc) {
  if (!json::is_object(schema_doc)) {
    return Status(Code::kInvalidArgument, "a JSON Schema must be an object");
  }
  if (nests_deeper_than(schema_doc, json::kMaxDepth)) {
    return Status(Code::kResourceExhausted, "schema nests deeper than " + std::to_string(json::kMaxDepth) + " levels");
  }
  try {
    auto compiled = std::make_unique<valijson::Schema>();
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
    const Json normalised = json::clone(schema_doc);
    if (auto error = float_divisors(normalised, ""); !error.empty()) {
      return Status(Code::kInvalidArgument, error);
    }
    valijson::adapters::PocoJsonAdapter adapter(normalised);
    parser.populateSchema(adapter, *compiled);
    return Schema(std::move(compiled));
  } catch (const std::exception& e) {
    return Status(Code::kInvalidArgument, e.what());
  } catch (...) {
    return Status(Code::kInvalidArgument, "the schema could not be compiled");
  }
}

Result<Schema> Schema::compile_text(std::string_view schema_text) {
  auto doc = json::parse(schema_text);
  if (!doc) return doc.status();
  return compile(*doc);
}

std::vector<plugin::SchemaIssue> Schema::validate(const Json& doc) const {
  if (nests_deeper_than(doc, json::kMaxDepth)) {
    return {{"", "document nests deeper than " + std::to_string(json::kMaxDepth) + " levels"}};
  }
  std::vector<plugin::SchemaIssue> issues;
  try {
    // A Validator only holds a cache of compiled regexes keyed by pattern text (compiling a
    // std::regex costs more than a whole validation), so one per thread serves every schema while
    // the compiled schemas stay read-only and shared between threads.
    thread_local valijson::Validator validator(valijson::Validator::kStrongTypes);
    valijson::adapters::PocoJsonAdapter target(doc);
    // Without a results object valijson keeps no error context and stops at the first failure:
    // the common case, a document that fits, pays only for the checks. A misfit is validated
    // again to collect every issue with its place.
    if (validator.validate(*compiled_, target, nullptr)) return {};
    valijson::ValidationResults results;
    if (validator.validate(*compiled_, target, &results)) return {};
    valijson::ValidationResults::Error error;
    while (results.popError(error)) issues.push_back({to_pointer(error.context), error.description});
    if (issues.empty()) issues.push_back({"", "the document does not fit the schema"});
  } catch (const std::exception& e) {
    issues.push_back({"", std::string("the schema could not be applied: ") + e.what()});
  }
  return issues;
}

Result<std::vector<plugin::SchemaIssue>> validate_embedded(std::string_view name, const Json& doc) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<const Schema>, std::less<>> cache;
  std::shared_ptr<const Schema> schema;
  {
    std::lock_guard lock(mu);
    if (auto it = cache.find(name); it != cache.end()) {
      schema = it->second;
    } else {
      std::string_view text = embedded::schema_text(name);
      if (text.empty()) return Status(Code::kNotFound, "no embedded schema named " + std::string(name));
      auto compiled = Schema::compile_text(text);
      if (!compiled) {
        return Status(Code::kInternal, "embedded schema " + std::string(name) + ": " + compiled.status().message());
      }
      schema = std::make_shared<const Schema>(std::move(*compiled));
      cache.emplace(std::string(name), schema);
    }
  }
  return schema->validate(doc);
}

std::string describe(const std::vector<plugin::SchemaIssue>& issues, std::size_t max_issues) {
  std::vector<const plugin::SchemaIssue*> shown;
  for (const auto& issue : issues) {
    if (!is_summary(issue.message)) shown.push_back(&issue);
  }
  if (shown.empty()) {
    for (const auto& issue : issues) shown.push_back(&issue);
  }
  std::string out;
  std::size_t n = 0;
  for (const auto* issue : shown) {
    if (n == max_issues) {
      out += " (and " + std::to_string(shown.size() - n) + " more)";
      break;
    }
    if (n > 0) out += "; ";
    out += "at " + (issue->path.empty() ? std::string("(root)") : issue->path) + ": " + issue->message;
    ++n;
  }
  return out;
}

bool nests_deeper_than(const Json& v, std::size_t max_depth) { return deeper(v, max_depth); }

}  // namespace weft::schema
