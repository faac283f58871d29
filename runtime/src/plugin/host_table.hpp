// host_table.hpp — the host side of connector_abi.h: the weft_host table every connector gets and
// the definition of the opaque weft_call_ctx. Internal to the plugin module.
#pragma once

#include <string_view>

#include "core/json.hpp"
#include "plugin/catalog.hpp"
#include "plugin/host_services.hpp"
#include "weft/connector_abi.h"

// One invoke's context as the host functions see it. Lives on the stack of Registry::invoke; a
// connector only gets it as an opaque pointer valid during that invoke.
struct weft_call_ctx {
  const weft::plugin::ActionInfo* op = nullptr;
  const weft::plugin::InvokeContext* ctx = nullptr;
  weft::plugin::HostServices* services = nullptr;  // null: http/state fail with "no host services"
  const weft::Json* settings_defaults = nullptr;   // the manifest's defaults, used without services
};

namespace weft::plugin::internal {

// The process-wide host table (static storage; every function thread-safe and noexcept).
const weft_host* host_table();

// Copies text into a buffer from the host allocator (malloc). Returns false when out of memory.
bool fill_buffer(weft_buf* out, std::string_view text) noexcept;
// Releases a buffer a connector filled (host allocator) and resets it.
void free_buffer(weft_buf* buf) noexcept;

}  // namespace weft::plugin::internal
