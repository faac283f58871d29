#include "core/json.hpp"

#include "weft/poco_json.hpp"

#include <Poco/JSON/JSONException.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include <sstream>
#include <typeinfo>

namespace weft::json {

namespace {
// Poco's parser recurses per nesting level; count brackets first so a hostile document is refused
// before it reaches the parser.
bool too_deep(std::string_view text, std::size_t max_depth) {
  std::size_t depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > max_depth) return true;
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return false;
}
}  // namespace

Result<Json> parse(std::string_view text, std::size_t max_depth) {
  if (too_deep(text, max_depth)) {
    return Status(Code::kResourceExhausted,
                  "JSON nesting is deeper than " + std::to_string(max_depth) + " levels");
  }
  try {
    Poco::JSON::Parser parser;
    parser.setDepth(max_depth + 1);
    return parser.parse(std::string(text));
  } catch (const Poco::Exception& e) {
    return Status(Code::kInvalidArgument, "invalid JSON: " + e.displayText());
  } catch (const std::exception& e) {
    return Status(Code::kInvalidArgument, std::string("invalid JSON: ") + e.what());
  }
}

std::string stringify(const Json& v) { return poco_json::condense(v); }

std::string pretty(const Json& v, unsigned indent) {
  std::ostringstream out;
  Poco::JSON::Stringifier::stringify(v, out, indent);
  return out.str();
}

Poco::JSON::Object::Ptr new_object() { return new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER); }

Json object(std::initializer_list<std::pair<std::string, Json>> members) {
  auto o = new_object();
  for (const auto& [k, v] : members) o->set(k, v);
  return o;
}

Poco::JSON::Array::Ptr new_array() { return new Poco::JSON::Array(); }

bool is_object(const Json& v) { return v.type() == typeid(Poco::JSON::Object::Ptr); }
bool is_array(const Json& v) { return v.type() == typeid(Poco::JSON::Array::Ptr); }
bool is_string(const Json& v) { return v.isString(); }
bool is_null(const Json& v) { return v.isEmpty(); }

Poco::JSON::Object::Ptr as_object(const Json& v) {
  if (!is_object(v)) return {};
  return v.extract<Poco::JSON::Object::Ptr>();
}

Poco::JSON::Array::Ptr as_array(const Json& v) {
  if (!is_array(v)) return {};
  return v.extract<Poco::JSON::Array::Ptr>();
}

Json get(const Json& v, const std::string& key) {
  auto o = as_object(v);
  if (o.isNull() || !o->has(key)) return {};
  return o->get(key);
}

std::string get_string(const Json& v, const std::string& key, const std::string& fallback) {
  Json m = get(v, key);
  if (!m.isString()) return fallback;
  return m.extract<std::string>();
}

Json clone(const Json& v) {
  if (auto o = as_object(v); !o.isNull()) {
    auto copy = new_object();
    for (const auto& k : o->getNames()) copy->set(k, clone(o->get(k)));
    return copy;
  }
  if (auto a = as_array(v); !a.isNull()) {
    auto copy = new_array();
    for (std::size_t i = 0; i < a->size(); ++i) copy->add(clone(a->get(i)));
    return copy;
  }
  return v;
}

}  // namespace json
