// yaml_loader.hpp — reads a workflow YAML file into the engine's Json value, with a map from each
// value's JSON pointer to where it was written, so every later message can say file:line:column.
// Hostile input (huge files, alias bombs, deep nesting, bad UTF-8, tabs) is refused with one
// clear message before it can exhaust memory or the stack.
//
//   auto doc = workflow::load_yaml_file("flow.yaml");
//   if (!doc) return fail(doc.status());          // "flow.yaml:3:5: ... (hint: ...)"
//   std::string where = doc->where("/steps/0/uses");
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/json.hpp"
#include "core/status.hpp"

namespace weft::workflow {

inline constexpr std::size_t kMaxYamlBytes = 1024 * 1024;  // a workflow is small; refuse more
inline constexpr std::size_t kMaxYamlNodes = 20000;        // bounds alias expansion (billion laughs)
inline constexpr std::size_t kMaxYamlDepth = 64;           // nesting levels, checked before parsing

// 1-based line and column.
struct Mark {
  int line = 1;
  int column = 1;
  std::size_t offset = 0;  // 0-based byte offset in YamlDocument::source
};

struct YamlDocument {
  std::string file;    // as given by the caller, used as the prefix of messages
  std::string source;  // the text as read (at most kMaxYamlBytes), for exact columns inside values
  Json root;
  std::unordered_map<std::string, Mark> positions;      // JSON pointer ("" = root) -> mark
  std::unordered_map<std::string, Mark> key_positions;  // pointer of a mapping member -> its key's mark

  // "file:line:column" of pointer, or of its nearest recorded ancestor. Never fails.
  std::string where(const std::string& pointer) const;
  Mark mark_of(const std::string& pointer) const;
  // "file:line:column" of character n (1-based) of value, the string at pointer, when the source
  // holds it verbatim (plain, or quoted without escapes, on one line); else where(pointer).
  std::string where_in_string(const std::string& pointer, std::string_view value, std::size_t n) const;
  // "file:line:column" of the key of the mapping member at pointer (for "unknown key"), or where().
  std::string where_key(const std::string& pointer) const;
};

// Loads a file. Fails (invalid_argument, not_found, resource_exhausted) with a message of the form
// "file:line:column: what (hint: how to fix)". The root must be a mapping. Never throws.
Result<YamlDocument> load_yaml_file(const std::string& path);

// Same from text already in memory; file is used only in messages.
Result<YamlDocument> load_yaml_text(std::string_view text, const std::string& file);

// Escapes a key for a JSON pointer segment (RFC 6901: "~" -> "~0", "/" -> "~1").
std::string pointer_escape(std::string_view key);

}  // namespace weft::workflow
