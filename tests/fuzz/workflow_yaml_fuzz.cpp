// libFuzzer: arbitrary bytes as a workflow file — the YAML loader (bounds on size, depth, aliases,
// tabs, UTF-8), then validation and compilation of whatever loaded. Must never crash or hang.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "plugin/catalog.hpp"
#include "workflow/workflow.hpp"
#include "workflow/yaml_loader.hpp"

namespace {

// No connector is loaded: every `uses` is unknown, which is one more path validation takes.
class EmptyCatalog final : public weft::plugin::ActionCatalog {
 public:
  const weft::plugin::ActionInfo* find(std::string_view) const override { return nullptr; }
  std::vector<weft::plugin::SchemaIssue> validate_input(const weft::plugin::ActionInfo&,
                                                        const weft::Json&) const override {
    return {};
  }
  weft::Result<weft::Json> invoke(const weft::plugin::ActionInfo&, const weft::Json&,
                                  const weft::plugin::InvokeContext&) const override {
    return weft::Status(weft::Code::kNotFound, "fuzz");
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto doc = weft::workflow::load_yaml_text(text, "fuzz.yaml");
  if (!doc.ok()) return 0;
  static const EmptyCatalog catalog;
  auto problems = weft::workflow::validate(*doc, catalog);
  if (problems.empty()) {
    auto wf = weft::workflow::compile(*doc);
    (void)wf;
  }
  return 0;
}
