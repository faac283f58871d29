// libFuzzer: arbitrary bytes as a `${{ }}` template and as a bare condition, parsed and, when they
// parse, rendered against a small context. Must never crash, recurse without bound or hang.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/json.hpp"
#include "workflow/expression.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace expr = weft::workflow::expr;
  static const weft::Json context = *weft::json::parse(
      R"({"inputs":{"n":3,"s":"x"},"trigger":{"body":{"a":[1,"2",{"b":null}]}},"steps":{"a":{"output":{"k":"v"},"status":"succeeded"}},"env":{}})");
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto t = expr::Template::parse(text); t.ok()) {
    auto v = t->render(context);
    if (v.ok()) (void)expr::truthy(*v);
    (void)t->references();
  }
  if (auto b = expr::Template::parse_bare(text); b.ok()) (void)b->render(context);
  return 0;
}
