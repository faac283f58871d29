// host_services.hpp — what the plugin host table (weft_host) delegates to. The engine wiring
// implements it with the HTTP client (+ auth for the call's connection) and the run store.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/json.hpp"
#include "core/status.hpp"
#include "plugin/catalog.hpp"

namespace weft::plugin {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

class HostServices {
 public:
  virtual ~HostServices() = default;

  // Performs weft_host.http: request/response JSON as documented in connector_abi.h. A Result
  // with a value for every HTTP status; an error when no response was had. Thread-safe.
  virtual Result<Json> http(const ActionInfo& op, const InvokeContext& ctx, const Json& request) = 0;
  // The same call with the response as the JSON text weft_host.http hands back. By default the
  // text of http(); an implementation may write it straight from the response instead.
  virtual Result<std::string> http_text(const ActionInfo& op, const InvokeContext& ctx, const Json& request) {
    auto response = http(op, ctx, request);
    if (!response) return response.status();
    return json::stringify(*response);
  }

  // The "settings" member of weft_host.context: the connection's settings over the manifest's
  // defaults (including secret settings, which the host redacts from every output).
  virtual Result<Json> settings(const ActionInfo& op, const InvokeContext& ctx) = 0;

  // Durable state for (connector, ctx.state_scope, key); nullopt when unset.
  virtual Result<std::optional<Json>> state_get(const ActionInfo& op, const InvokeContext& ctx,
                                                const std::string& key) = 0;
  virtual Status state_set(const ActionInfo& op, const InvokeContext& ctx, const std::string& key,
                           const Json& value) = 0;

  virtual void log(const ActionInfo* op, const InvokeContext* ctx, LogLevel level, std::string_view msg) = 0;
};

}  // namespace weft::plugin
