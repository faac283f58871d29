// hello.cpp — the smallest complete weft connector. Build and load it with:
//
//   g++ -std=c++17 -shared -fPIC -I<weft>/runtime/include hello.cpp -o hello.so
//   weft --connectors . connectors describe hello
//
// It needs nothing but weft/sdk.hpp (and through it weft/connector_abi.h).
#include <string>
#include <string_view>

#include "weft/sdk.hpp"

// The manifest: who the connector is and what each action takes and returns (JSON Schema draft 7).
// The host validates every input before `greet` runs and every output after it returns.
static const char kManifest[] = R"json({
  "id": "hello",
  "version": "1.0.0",
  "name": "Hello",
  "description": "Greets someone. The smallest complete connector.",
  "auth": {"kind": "none"},
  "settings": {
    "greeting": {"type": "string", "default": "Hello", "description": "The word to greet with."}
  },
  "actions": {
    "greet": {
      "title": "Greet",
      "description": "Returns a greeting for a name.",
      "requires_connection": false,
      "input": {
        "type": "object",
        "required": ["name"],
        "additionalProperties": false,
        "properties": {"name": {"type": "string", "minLength": 1, "description": "Who to greet."}}
      },
      "output": {
        "type": "object",
        "required": ["message"],
        "properties": {"message": {"type": "string", "description": "The greeting."}}
      }
    }
  }
})json";

namespace {

// The raw (still JSON-escaped) text of the string member `key` of a flat JSON object, or "" when
// absent. Enough here because the host has validated the input against the schema above; a
// bigger connector would use a JSON library.
std::string raw_string_member(std::string_view json, std::string_view key) {
  const std::string quoted = "\"" + std::string(key) + "\"";
  std::size_t at = json.find(quoted);
  if (at == std::string_view::npos) return "";
  at = json.find('"', json.find(':', at + quoted.size()));
  if (at == std::string_view::npos) return "";
  std::string out;
  for (std::size_t i = at + 1; i < json.size() && json[i] != '"'; ++i) {
    out.push_back(json[i]);
    if (json[i] == '\\' && i + 1 < json.size()) out.push_back(json[++i]);  // keep escapes whole
  }
  return out;
}

class Hello : public weft::sdk::Connector {
 public:
  // settings is the manifest's defaults as a JSON object: {"greeting":"Hello"}.
  explicit Hello(std::string_view settings) : greeting_(raw_string_member(settings, "greeting")) {
    on("greet", [this](weft::sdk::Call& call, std::string_view input) {
      call.log(WEFT_LOG_INFO, "greeting someone");
      // Both pieces are still JSON-escaped, so gluing them inside one JSON string stays valid.
      return "{\"message\":\"" + greeting_ + ", " + raw_string_member(input, "name") + "!\"}";
    });
  }

 private:
  std::string greeting_;
};

}  // namespace

// Exports weft_connector_entry: the one symbol the host looks for.
WEFT_CONNECTOR(Hello, kManifest)
