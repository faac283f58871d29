// poco_json.hpp — compact JSON text of a Poco::Dynamic::Var (a Poco::JSON Object/Array tree),
// written straight into a std::string. Header-only, for the runtime and for connectors that build
// their documents with Poco::JSON; needs Poco Foundation and JSON.
//
//   std::string text = weft::poco_json::condense(var);   // == Poco::JSON::Stringifier::condense
//   weft::poco_json::append_string(text, "a \"quoted\" name");  // one string literal, escaped alike
//   weft::poco_json::append(text, var);                           // condense(var), added to text
//   weft::poco_json::append_key(text, "name");                    // ,"name": inside an object being written
#pragma once

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/JSONString.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

namespace weft::poco_json {

namespace internal {
// The bytes condense() does not write as they are: control characters, '"', '\\', DEL and above.
inline constexpr std::array<bool, 256> kNeedsEscape = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c) t[static_cast<std::size_t>(c)] = c < 0x20 || c >= 0x7f || c == '"' || c == '\\';
  return t;
}();
}  // namespace internal

// Appends s as a JSON string literal, quoted and escaped exactly as condense() writes strings.
inline void append_string(std::string& out, std::string_view s) {
  for (unsigned char c : s) {
    if (internal::kNeedsEscape[c]) {
      out += Poco::toJSON(std::string(s), Poco::JSON_WRAP_STRINGS);
      return;
    }
  }
  // The quotes and the text in one append: a string is written for every name and value.
  const std::size_t at = out.size();
  out.resize(at + s.size() + 2);
  char* p = out.data() + at;
  *p = '"';
  if (!s.empty()) std::memcpy(p + 1, s.data(), s.size());
  p[s.size() + 1] = '"';
}

// Appends an object member's name and its colon, after a comma unless the member is the object's
// first (out ends with the object's '{'). The value follows with append_string, append or by hand.
inline void append_key(std::string& out, std::string_view name) {
  if (!out.empty() && out.back() != '{') out += ',';
  append_string(out, name);
  out += ':';
}

namespace internal {

// Compact JSON written straight into a string. Its output is byte for byte what Poco's
// Stringifier::condense writes (the test compares the two); it only takes the common cases itself
// (objects, arrays, integers, booleans, null, strings that need no escaping) and hands anything
// else (a double, a string to escape, an object that escapes unicode, a type of Var it does not
// know) to Poco, so Poco stays the one place that decides how those look. Poco's own path goes
// through an ostream and a string conversion per value, and was 15% of the daemon's CPU per run.
class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}

  void value(const Poco::Dynamic::Var& v) {
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
    if (o.getEscapeUnicode()) return poco(Poco::Dynamic::Var(o));
    out_ += '{';
    bool first = true;
    auto member = [&](const std::string& key, const Poco::Dynamic::Var& v) {
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
      const NameListLease lease(*this);
      Poco::JSON::Object::NameList& names = lease.names;
      o.getNames(names);
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
    if (a.getEscapeUnicode()) return poco(Poco::Dynamic::Var(a));
    out_ += '[';
    bool first = true;
    for (const auto& v : a) {
      if (!first) out_ += ',';
      first = false;
      value(v);
    }
    out_ += ']';
  }

  void string(const std::string& s) { append_string(out_, s); }

  template <class T>
  void integer(T n) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
    out_.append(buf, end);
  }

  void poco(const Poco::Dynamic::Var& v) {
    std::ostringstream os;
    Poco::JSON::Stringifier::condense(v, os);
    out_ += os.str();
  }

  // The name list for one object being written. A Writer keeps one list per nesting depth of the
  // objects it is writing, reused for every object at that depth, so getNames() allocates about
  // once per depth and call rather than as each object's list grows. (No thread_local: in a
  // connector it would keep the library loaded after its unloading until the thread ends.)
  struct NameListLease {
    explicit NameListLease(Writer& w) : writer(w), names(w.take()) {}
    ~NameListLease() { --writer.depth_; }
    NameListLease(const NameListLease&) = delete;
    NameListLease& operator=(const NameListLease&) = delete;
    Writer& writer;
    Poco::JSON::Object::NameList& names;
  };
  Poco::JSON::Object::NameList& take() {
    Poco::JSON::Object::NameList* list = nullptr;
    if (depth_ < kInlineLists) {
      list = &inline_lists_[depth_];
    } else {
      // Deeper ones live on the heap, each where it was made, so outer lists stay put.
      const std::size_t i = depth_ - kInlineLists;
      if (deeper_lists_.size() <= i) deeper_lists_.push_back(std::make_unique<Poco::JSON::Object::NameList>());
      list = deeper_lists_[i].get();
    }
    if (list->capacity() == 0) list->reserve(16);
    ++depth_;
    return *list;
  }

  static constexpr std::size_t kInlineLists = 4;

  std::string& out_;
  std::array<Poco::JSON::Object::NameList, kInlineLists> inline_lists_;  // by depth; empty ones cost nothing
  std::vector<std::unique_ptr<Poco::JSON::Object::NameList>> deeper_lists_;
  std::size_t depth_ = 0;  // objects being written around the current value
};

}  // namespace internal

// Appends the compact JSON text of v to out (what condense(v) returns).
inline void append(std::string& out, const Poco::Dynamic::Var& v) { internal::Writer(out).value(v); }

inline std::string condense(const Poco::Dynamic::Var& v) {
  std::string out;
  out.reserve(256);
  internal::Writer(out).value(v);
  return out;
}

}  // namespace weft::poco_json
