// json.hpp — the engine's JSON value (Poco::Dynamic::Var holding Poco::JSON objects) and the few
// helpers every module needs: bounded parsing, compact stringifying, object building.
//
//   Result<Json> doc = json::parse(text);          // depth-limited, never throws
//   std::string s = json::stringify(*doc);
//   Json o = json::object({{"status", 200}});
#pragma once

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "core/status.hpp"

namespace weft {

using Json = Poco::Dynamic::Var;

namespace json {

// Nesting deeper than this is refused as resource_exhausted rather than risking the stack.
inline constexpr std::size_t kMaxDepth = 512;

// Parses a JSON text. Fails with invalid_argument (with the parser's reason) on bad syntax and with
// resource_exhausted when nesting exceeds max_depth. Never throws.
Result<Json> parse(std::string_view text, std::size_t max_depth = kMaxDepth);

// Compact JSON text of v (objects keep insertion order when built with json::object()).
std::string stringify(const Json& v);
// Indented JSON text, for people.
std::string pretty(const Json& v, unsigned indent = 2);

// A new empty object that keeps insertion order, and one built from pairs.
Poco::JSON::Object::Ptr new_object();
Json object(std::initializer_list<std::pair<std::string, Json>> members = {});
Poco::JSON::Array::Ptr new_array();

bool is_object(const Json& v);
bool is_array(const Json& v);
bool is_string(const Json& v);
bool is_null(const Json& v);
// The object or array held by v, or null when v is something else.
Poco::JSON::Object::Ptr as_object(const Json& v);
Poco::JSON::Array::Ptr as_array(const Json& v);

// Member `key` of object v, or an empty Var when v is not an object or has no such member.
Json get(const Json& v, const std::string& key);
// Member `key` as a string, or fallback when absent or not a string.
std::string get_string(const Json& v, const std::string& key, const std::string& fallback = "");

// A deep copy (Poco objects are shared by reference).
Json clone(const Json& v);

}  // namespace json
}  // namespace weft
