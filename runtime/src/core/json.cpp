#include "core/json.hpp"

#include <Poco/JSON/JSONException.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include <Poco/JSONString.h>

#include <algorithm>
#include <charconv>
#include <sstream>
#include <typeinfo>
#include <vector>

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

namespace {

// Compact JSON written straight into a string. Its output is byte for byte what Poco's
// Stringifier::condense writes (the test compares the two); it only takes the common cases itself
// (objects, arrays, integers, booleans, null, strings that need no escaping) and hands anything
// else (a double, a string to escape, an object that escapes unicode, a type of Var it does not
// know) to Poco, so Poco stays the one place that decides how those look. Poco's own path goes
// through an ostream and a string conversion per value, and was 15% of the daemon's CPU per run.
class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}

  void value(const Json& v) {
    const std::type_info& t = v.type();
    if (t == typeid(Poco::JSON::Object::Ptr)) {
      object(*v.extract<Poco::JSON::Object::Ptr>());
    } else if (t == typeid(Poco::JSON::Array::Ptr)) {
      array(*v.extract<Poco::JSON::Array::Ptr>());
    } else if (t == typeid(std::string)) {
      string(v.extract<std::string>());
    } else if (v.isEmpty()) {
      out_ += "null";
    } else if (t == typeid(bool)) {
      out_ += v.extract<bool>() ? "true" : "false";
    } else if (t == typeid(int)) {
      integer(v.extract<int>());
    } else if (t == typeid(long)) {
      integer(v.extract<long>());
    } else if (t == typeid(long long)) {
      integer(v.extract<long long>());
    } else if (t == typeid(unsigned)) {
      integer(v.extract<unsigned>());
    } else if (t == typeid(unsigned long)) {
      integer(v.extract<unsigned long>());
    } else if (t == typeid(unsigned long long)) {
      integer(v.extract<unsigned long long>());
    } else {
      poco(v);
    }
  }

 private:
  void object(const Poco::JSON::Object& o) {
    if (o.getEscapeUnicode()) return poco(Json(o));
    out_ += '{';
    bool first = true;
    auto member = [&](const std::string& key, const Json& v) {
      if (!first) out_ += ',';
      first = false;
      string(key);
      out_ += ':';
      value(v);
    };
    if (o.size() <= 1) {
      for (const auto& [k, v] : o) member(k, v);
    } else {
      // Poco keeps insertion order only in a private list; getNames() reads it (or the sorted
      // map's order, for an object that does not keep one), and each name is then found in the
      // map, by a binary search over its entries once the object is bigger than a few members.
      const Poco::JSON::Object::NameList names = o.getNames();
      if (names.size() <= 8) {
        for (const auto& name : names) {
          for (const auto& entry : o) {
            if (entry.first == name) {
              member(entry.first, entry.second);
              break;
            }
          }
        }
      } else {
        std::vector<const Poco::JSON::Object::ValueType*> sorted;
        sorted.reserve(names.size());
        for (const auto& entry : o) sorted.push_back(&entry);
        for (const auto& name : names) {
          auto it = std::lower_bound(sorted.begin(), sorted.end(), name,
                                     [](const auto* e, const std::string& n) { return e->first < n; });
          if (it != sorted.end() && (*it)->first == name) member((*it)->first, (*it)->second);
        }
      }
    }
    out_ += '}';
  }

  void array(const Poco::JSON::Array& a) {
    if (a.getEscapeUnicode()) return poco(Json(a));
    out_ += '[';
    bool first = true;
    for (const auto& v : a) {
      if (!first) out_ += ',';
      first = false;
      value(v);
    }
    out_ += ']';
  }

  void string(const std::string& s) {
    for (unsigned char c : s) {
      if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
        out_ += Poco::toJSON(s, Poco::JSON_WRAP_STRINGS);
        return;
      }
    }
    out_ += '"';
    out_ += s;
    out_ += '"';
  }

  template <class T>
  void integer(T n) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
    out_.append(buf, end);
  }

  void poco(const Json& v) {
    std::ostringstream os;
    Poco::JSON::Stringifier::condense(v, os);
    out_ += os.str();
  }

  std::string& out_;
};

}  // namespace

std::string stringify(const Json& v) {
  std::string out;
  out.reserve(256);
  Writer(out).value(v);
  return out;
}

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
