// libFuzzer: arbitrary bytes through json::parse, then schema validation of whatever parsed, the
// path every action input takes. Must never crash, hang or leak, whatever the depth or encoding.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/json.hpp"
#include "schema/schema.hpp"

namespace {

// A schema touching the rules that walk into the document: properties, items, patterns, enums,
// numeric bounds, combinators and a recursive $ref.
const weft::schema::Schema& fuzz_schema() {
  static const weft::schema::Schema schema = [] {
    auto s = weft::schema::Schema::compile_text(R"({
      "definitions": {"node": {"anyOf": [{"type": ["string", "number", "boolean", "null"]},
                                          {"type": "array", "items": {"$ref": "#/definitions/node"}},
                                          {"type": "object", "additionalProperties": {"$ref": "#/definitions/node"}}]}},
      "type": "object",
      "required": ["method"],
      "properties": {
        "method": {"enum": ["GET", "POST"]},
        "url": {"type": "string", "pattern": "^https?://", "maxLength": 2048},
        "count": {"type": "integer", "minimum": 0, "maximum": 100, "multipleOf": 2},
        "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": true},
        "any": {"$ref": "#/definitions/node"},
        "one": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
        "not": {"not": {"const": 3}}
      }
    })");
    if (!s.ok()) __builtin_trap();
    return std::move(*s);
  }();
  return schema;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto doc = weft::json::parse(text);
  if (!doc.ok()) return 0;
  auto issues = fuzz_schema().validate(*doc);
  (void)weft::schema::describe(issues);
  (void)weft::json::stringify(*doc);
  return 0;
}
