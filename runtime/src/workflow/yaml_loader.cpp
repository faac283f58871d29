#include "workflow/yaml_loader.hpp"

#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>
#include <vector>

namespace weft::workflow {

namespace {

std::string at(const std::string& file, int line, int column) {
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

Status error_at(Code code, const std::string& file, int line, int column, const std::string& what,
                const std::string& hint) {
  return Status(code, at(file, line, column) + ": " + what + (hint.empty() ? "" : " (hint: " + hint + ")"));
}

// Line and column (1-based, columns in bytes) of a byte offset.
Mark mark_at(std::string_view text, std::size_t offset) {
  Mark m;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++m.line;
      m.column = 1;
    } else {
      ++m.column;
    }
  }
  return m;
}

// Offset of the first byte that is not well-formed UTF-8, or npos.
std::size_t invalid_utf8_at(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return i;
    }
    for (std::size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return i;
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8 either.
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return i;
    }
    i += n + 1;
  }
  return std::string_view::npos;
}

// yaml-cpp recurses once per nesting level while parsing (it stops at 2000 levels, far more than
// the stack of a small thread allows), so nesting is estimated from the text first. The estimate
// only over-counts: block levels from the indentation stack, "- - -" compact sequences, flow
// brackets outside quotes.
std::size_t estimated_depth(std::string_view text, std::size_t& offset_out) {
  std::vector<std::size_t> indents;
  std::size_t flow = 0;
  std::size_t max_depth = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t line_start = i;
    std::size_t indent = 0;
    while (i < text.size() && text[i] == ' ') {
      ++i;
      ++indent;
    }
    std::size_t dashes = 0;
    while (i + 1 < text.size() && text[i] == '-' && (text[i + 1] == ' ')) {
      ++dashes;
      i += 2;
      while (i < text.size() && text[i] == ' ') ++i;
    }
    const bool blank = i >= text.size() || text[i] == '\n' || text[i] == '#' || text[i] == '\r';
    if (!blank && flow == 0) {
      while (!indents.empty() && indents.back() >= indent) indents.pop_back();
      indents.push_back(indent);
    }
    char quote = 0;
    for (; i < text.size() && text[i] != '\n'; ++i) {
      const char c = text[i];
      if (quote != 0) {
        if (c == quote) quote = 0;
        continue;
      }
      if (c == '#' && (i == line_start || text[i - 1] == ' ')) {
        while (i < text.size() && text[i] != '\n') ++i;
        break;
      }
      if ((c == '"' || c == '\'') &&
          (i == line_start || std::string_view(" [{,:").find(text[i - 1]) != std::string_view::npos)) {
        quote = c;
      } else if (c == '[' || c == '{') {
        ++flow;
      } else if ((c == ']' || c == '}') && flow > 0) {
        --flow;
      }
      const std::size_t d = indents.size() + dashes + flow;
      if (d > max_depth) {
        max_depth = d;
        offset_out = i;
      }
    }
    const std::size_t d = indents.size() + dashes + flow;
    if (d > max_depth) {
      max_depth = d;
      offset_out = line_start;
    }
    if (i < text.size()) ++i;  // the newline
  }
  return max_depth;
}

// First tab used as indentation, as an offset, or npos.
std::size_t indentation_tab_at(std::string_view text) {
  bool line_start = true;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n') {
      line_start = true;
    } else if (line_start && c == '\t') {
      return i;
    } else if (c != ' ' && !(line_start && c == '-')) {
      line_start = false;
    }
  }
  return std::string_view::npos;
}

// YAML 1.2 core schema for plain (unquoted) scalars: null, booleans, integers, floats.
Json plain_scalar(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return Json();
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  const char* begin = s.c_str();
  char* end = nullptr;
  const bool looks_numeric = std::string_view("+-.0123456789").find(s[0]) != std::string_view::npos;
  if (looks_numeric) {
    errno = 0;
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
      const long long v = std::strtoll(begin + 2, &end, s[1] == 'x' ? 16 : 8);
      if (errno == 0 && end != nullptr && *end == '\0' && end != begin + 2)
        return static_cast<Poco::Int64>(v);
      return s;
    }
    const long long v = std::strtoll(begin, &end, 10);
    if (errno == 0 && end != nullptr && *end == '\0') return static_cast<Poco::Int64>(v);
    errno = 0;
    const double d = std::strtod(begin, &end);
    const bool has_digit = s.find_first_of("0123456789") != std::string::npos;
    if (errno == 0 && end != nullptr && *end == '\0' && has_digit && std::isfinite(d)) return d;
  }
  if (s == ".inf" || s == ".Inf" || s == "+.inf") return std::numeric_limits<double>::infinity();
  if (s == "-.inf" || s == "-.Inf") return -std::numeric_limits<double>::infinity();
  return s;
}

class Converter {
 public:
  Converter(YamlDocument& doc) : doc_(doc) {}  // NOLINT

  Result<Json> convert(const YAML::Node& node, const std::string& pointer, std::size_t depth) {
    const YAML::Mark m = node.Mark();
    if (++count_ > kMaxYamlNodes) {
      return error_at(
          Code::kResourceExhausted, doc_.file, m.line + 1, m.column + 1,
          "the document expands to more than " + std::to_string(kMaxYamlNodes) + " values",
          "an alias (*name) repeated inside other aliases multiplies the document; write the values out");
    }
    if (depth > kMaxYamlDepth) {
      return error_at(Code::kResourceExhausted, doc_.file, m.line + 1, m.column + 1,
                      "nesting is deeper than " + std::to_string(kMaxYamlDepth) + " levels",
                      "flatten the structure; an alias that refers to itself also nests forever");
    }
    if (m.line >= 0 && m.column >= 0 && m.pos >= 0) {
      doc_.positions.emplace(pointer, Mark{m.line + 1, m.column + 1, static_cast<std::size_t>(m.pos)});
    }
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        return Json();
      case YAML::NodeType::Scalar: {
        const std::string& tag = node.Tag();
        if (tag == "!" || tag == "tag:yaml.org,2002:str") return Json(node.Scalar());
        return plain_scalar(node.Scalar());
      }
      case YAML::NodeType::Sequence: {
        auto arr = json::new_array();
        std::size_t index = 0;
        for (const auto& item : node) {
          auto v = convert(item, pointer + "/" + std::to_string(index++), depth + 1);
          if (!v) return v.status();
          arr->add(*v);
        }
        return Json(arr);
      }
      case YAML::NodeType::Map: {
        auto obj = json::new_object();
        for (const auto& kv : node) {
          const YAML::Mark km = kv.first.Mark();
          if (!kv.first.IsScalar()) {
            return error_at(Code::kInvalidArgument, doc_.file, km.line + 1, km.column + 1,
                            "a mapping key must be a plain name", "write keys as `name: value`");
          }
          const std::string key = kv.first.Scalar();
          if (obj->has(key)) {
            return error_at(Code::kInvalidArgument, doc_.file, km.line + 1, km.column + 1,
                            "duplicate key '" + key + "'",
                            "each key may appear once in a mapping; remove or rename one");
          }
          const std::string child = pointer + "/" + pointer_escape(key);
          auto v = convert(kv.second, child, depth + 1);
          if (!v) return v.status();
          // A null value has no mark of its own; point at its key instead.
          doc_.positions.emplace(child, Mark{km.line + 1, km.column + 1});
          doc_.key_positions.emplace(child, Mark{km.line + 1, km.column + 1});
          obj->set(key, *v);
        }
        return Json(obj);
      }
    }
    return Json();
  }

 private:
  YamlDocument& doc_;
  std::size_t count_ = 0;
};

}  // namespace

std::string pointer_escape(std::string_view key) {
  std::string out;
  out.reserve(key.size());
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

Mark YamlDocument::mark_of(const std::string& pointer) const {
  std::string p = pointer;
  while (true) {
    auto it = positions.find(p);
    if (it != positions.end()) return it->second;
    if (p.empty()) return Mark{};
    const auto slash = p.rfind('/');
    p = slash == std::string::npos ? std::string() : p.substr(0, slash);
  }
}

std::string YamlDocument::where(const std::string& pointer) const {
  const Mark m = mark_of(pointer);
  return at(file, m.line, m.column);
}

std::string YamlDocument::where_in_string(const std::string& pointer, std::string_view value,
                                          std::size_t n) const {
  const auto it = positions.find(pointer);
  if (it == positions.end() || n == 0 || n > value.size()) return where(pointer);
  const Mark m = it->second;
  std::size_t start = m.offset;
  int column = m.column;
  if (start < source.size() && (source[start] == '"' || source[start] == '\'')) {
    ++start;
    ++column;
  }
  // Exact only when the first n characters are in the source as they are in the value (no escapes,
  // no folded lines) and are ASCII, so byte n is column n; otherwise the value's start.
  if (source.compare(start, n, value, 0, n) != 0) return where(pointer);
  for (std::size_t i = 0; i < n; ++i) {
    if (static_cast<unsigned char>(value[i]) >= 0x80) return where(pointer);
  }
  return at(file, m.line, column + static_cast<int>(n) - 1);
}

std::string YamlDocument::where_key(const std::string& pointer) const {
  auto it = key_positions.find(pointer);
  if (it == key_positions.end()) return where(pointer);
  return at(file, it->second.line, it->second.column);
}

Result<YamlDocument> load_yaml_text(std::string_view text, const std::string& file) {
  if (text.size() > kMaxYamlBytes) {
    return error_at(Code::kResourceExhausted, file, 1, 1,
                    "the file is " + std::to_string(text.size()) + " bytes; a workflow may be at most 1 MiB",
                    "split it into several workflows");
  }
  if (const auto bad = invalid_utf8_at(text); bad != std::string_view::npos) {
    const Mark m = mark_at(text, bad);
    return error_at(Code::kInvalidArgument, file, m.line, m.column, "the file is not valid UTF-8",
                    "save it as UTF-8");
  }
  std::size_t deep_at = 0;
  if (estimated_depth(text, deep_at) > kMaxYamlDepth) {
    const Mark m = mark_at(text, deep_at);
    return error_at(Code::kResourceExhausted, file, m.line, m.column,
                    "nesting is deeper than " + std::to_string(kMaxYamlDepth) + " levels",
                    "flatten the structure");
  }
  YamlDocument doc;
  doc.file = file;
  doc.source = std::string(text);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    if (const auto tab = indentation_tab_at(text); tab != std::string_view::npos) {
      const Mark m = mark_at(text, tab);
      return error_at(Code::kInvalidArgument, file, m.line, m.column, "a tab is used for indentation",
                      "YAML indents with spaces only; replace the tab with spaces");
    }
    return error_at(Code::kInvalidArgument, file, e.mark.line + 1, e.mark.column + 1,
                    "invalid YAML: " + e.msg, "check the indentation and the quoting around this point");
  } catch (const std::exception& e) {
    return error_at(Code::kInvalidArgument, file, 1, 1, std::string("invalid YAML: ") + e.what(),
                    "check the indentation and the quoting");
  }
  if (!root.IsDefined() || root.IsNull()) {
    return error_at(Code::kInvalidArgument, file, 1, 1, "the file is empty",
                    "a workflow is a mapping with at least `name:` and `steps:`");
  }
  if (!root.IsMap()) {
    const YAML::Mark m = root.Mark();
    return error_at(Code::kInvalidArgument, file, m.line + 1, m.column + 1,
                    std::string("the top level is a ") + (root.IsSequence() ? "list" : "single value") +
                        ", not a mapping",
                    "a workflow is a mapping with `name:` and `steps:` at column 1");
  }
  try {
    Converter conv(doc);
    auto value = conv.convert(root, "", 0);
    if (!value) return value.status();
    doc.root = *value;
  } catch (const std::exception& e) {
    return error_at(Code::kInvalidArgument, file, 1, 1, std::string("invalid YAML: ") + e.what(),
                    "check the indentation and the quoting");
  }
  return doc;
}

Result<YamlDocument> load_yaml_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return Status(Code::kNotFound,
                  path + ": no such file (hint: check the path; it is relative to the current directory)");
  }
  if (S_ISDIR(st.st_mode)) {
    return Status(Code::kInvalidArgument, path + ": is a directory (hint: give the workflow's .yaml file)");
  }
  if (static_cast<std::size_t>(st.st_size) > kMaxYamlBytes) {
    return error_at(Code::kResourceExhausted, path, 1, 1,
                    "the file is " + std::to_string(st.st_size) + " bytes; a workflow may be at most 1 MiB",
                    "split it into several workflows");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(Code::kPermissionDenied, path + ": cannot be read (hint: check its permissions)");
  std::string text;
  text.resize(static_cast<std::size_t>(st.st_size));
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  // A file that grew after stat is still bounded: read at most one byte past the limit.
  char extra = 0;
  if (in.get(extra)) {
    return error_at(Code::kResourceExhausted, path, 1, 1,
                    "the file changed while it was read or exceeds 1 MiB", "split it into several workflows");
  }
  return load_yaml_text(text, path);
}

}  // namespace weft::workflow
