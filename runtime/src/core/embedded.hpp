// embedded.hpp — the JSON Schemas of schemas/*.json, compiled into the library.
//   std::string_view text = embedded::schema_text("workflow.schema.json");
#pragma once
#include <string_view>
namespace weft::embedded {
// The text of schemas/<name>, or an empty view when there is no such file.
std::string_view schema_text(std::string_view name);
}  // namespace weft::embedded
