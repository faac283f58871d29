// schema.hpp — JSON Schema (draft 7) compiled once with valijson, then used to validate many JSON
// values from any number of threads.
//
//   Result<Schema> s = Schema::compile(schema_json);       // a bad schema fails here, clearly
//   std::vector<plugin::SchemaIssue> issues = s->validate(doc);
//   if (!issues.empty()) return Status(Code::kInvalidArgument, schema::describe(issues));
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.hpp"
#include "core/status.hpp"
#include "plugin/catalog.hpp"

namespace valijson {
class Schema;
}

namespace weft::schema {

// A compiled JSON Schema. Immutable once compiled; validate() is thread-safe. Movable, not copyable.
class Schema {
 public:
  // Compiles a draft-7 schema document. Fails with invalid_argument naming the valijson reason
  // ("schema is not an object", an unknown $ref, a bad regex ...). Never throws.
  static Result<Schema> compile(const Json& schema_doc);
  // Parses and compiles a schema text (the same failures, plus invalid JSON).
  static Result<Schema> compile_text(std::string_view schema_text);

  Schema(Schema&&) noexcept;
  Schema& operator=(Schema&&) noexcept;
  Schema(const Schema&) = delete;
  Schema& operator=(const Schema&) = delete;
  ~Schema();

  // Every violation of doc, each with a JSON pointer ("" is the root, "/headers/0") and the rule's
  // message. Empty when doc fits. A document nested deeper than json::kMaxDepth gives one issue
  // instead of being walked. Thread-safe; never throws.
  std::vector<plugin::SchemaIssue> validate(const Json& doc) const;

 private:
  explicit Schema(std::unique_ptr<valijson::Schema> compiled);
  std::unique_ptr<valijson::Schema> compiled_;
};

// Validates doc against an embedded schema (schemas/<name>, e.g. "connector-manifest.schema.json"),
// compiled once on first use. Fails with not_found for an unknown name and internal when the
// embedded schema itself does not compile. Thread-safe.
Result<std::vector<plugin::SchemaIssue>> validate_embedded(std::string_view name, const Json& doc);

// One line for people: "at /url: Missing required property 'url'." for the most specific issues
// (at most max_issues, then "(and N more)"); the root is "(root)". Issues that only repeat a
// child's failure are left out.
std::string describe(const std::vector<plugin::SchemaIssue>& issues, std::size_t max_issues = 3);

// True when v nests arrays/objects deeper than max_depth. Stops walking at max_depth.
bool nests_deeper_than(const Json& v, std::size_t max_depth);

}  // namespace weft::schema
