// The connector plugin_load_bench loads 50 times: its id is its own file name (found with dladdr),
// so 50 copies of one .so are 50 distinct connectors. Three actions with realistic schemas, so the
// load cost includes compiling them.
#include <dlfcn.h>

#include <string>

#include "weft/sdk.hpp"

namespace {

std::string own_id() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&own_id), &info) == 0 || info.dli_fname == nullptr) return "bench";
  std::string name = info.dli_fname;
  name = name.substr(name.find_last_of('/') + 1);
  name = name.substr(0, name.find('.'));
  std::string id;
  for (char c : name) id.push_back((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ? c : '_');
  return id.empty() || id[0] < 'a' ? "b" + id : id;
}

const std::string& manifest() {
  static const std::string text = R"({"id":")" + own_id() + R"(","version":"1.0.0","name":"Bench",
    "auth":{"kind":"none"},
    "settings":{"api_base":{"type":"string","default":"https://api.example.com"}},
    "actions":{
      "noop":{"title":"No-op","input":{"type":"object"},"output":{"type":"object"}},
      "create_item":{"title":"Create","input":{"type":"object","required":["name"],"additionalProperties":false,
        "properties":{"name":{"type":"string","minLength":1,"maxLength":200},
                      "tags":{"type":"array","items":{"type":"string","pattern":"^[a-z]+$"}},
                      "priority":{"enum":["low","normal","high"]}}},
        "output":{"type":"object","required":["id"],"properties":{"id":{"type":"integer"}}}},
      "list_items":{"title":"List","input":{"type":"object","properties":{"page":{"type":"integer","minimum":1}}},
        "output":{"type":"object","properties":{"items":{"type":"array","items":{"type":"object"}}}}}
    }})";
  return text;
}

class Bench : public weft::sdk::Connector {
 public:
  explicit Bench(std::string_view) {
    on("noop", [](weft::sdk::Call&, std::string_view) { return std::string("{}"); });
    on("create_item", [](weft::sdk::Call&, std::string_view) { return std::string(R"({"id":1})"); });
    on("list_items", [](weft::sdk::Call&, std::string_view) { return std::string(R"({"items":[]})"); });
  }
};

}  // namespace

WEFT_CONNECTOR(Bench, manifest().c_str())
