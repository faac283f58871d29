#include "plugin/host_table.hpp"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "core/log.hpp"

namespace weft::plugin::internal {

namespace {

weft_status fail(weft_buf* out, std::string_view code, std::string_view message) noexcept {
  try {
    Json error = json::object({{"code", std::string(code)}, {"message", std::string(message)}});
    fill_buffer(out, json::stringify(error));
  } catch (...) {
    fill_buffer(out, R"({"code":"internal","message":"host error"})");
  }
  return WEFT_ERROR;
}

weft_status fail(weft_buf* out, const Status& status) noexcept {
  return fail(out, code_name(status.code()), status.message());
}

weft_status fail_current_exception(weft_buf* out) noexcept {
  try {
    throw;
  } catch (const std::exception& e) {
    return fail(out, "internal", std::string("host error: ") + e.what());
  } catch (...) {
    return fail(out, "internal", "host error");
  }
}

// The host functions take buffers the connector owns; reset them so an early error leaves them
// well-defined.
void reset(weft_buf* out) noexcept {
  if (out != nullptr) *out = weft_buf{nullptr, 0};
}

void* host_alloc(size_t size) { return std::malloc(size == 0 ? 1 : size); }
void host_free(void* ptr) { std::free(ptr); }

void host_log(weft_call_ctx* call, weft_log_level level, const char* msg, size_t msg_len) {
  try {
    log::Level lvl = log::Level::kInfo;
    switch (level) {
      case WEFT_LOG_DEBUG: lvl = log::Level::kDebug; break;
      case WEFT_LOG_WARN: lvl = log::Level::kWarn; break;
      case WEFT_LOG_ERROR: lvl = log::Level::kError; break;
      default: break;
    }
    log::Fields fields;
    if (call != nullptr && call->op != nullptr) {
      fields.emplace_back("connector", call->op->connector);
      fields.emplace_back("operation", call->op->name);
    }
    if (call != nullptr && call->ctx != nullptr) {
      if (!call->ctx->run_id.empty()) fields.emplace_back("run", call->ctx->run_id);
      if (!call->ctx->step_id.empty()) fields.emplace_back("step", call->ctx->step_id);
    }
    log::write(lvl, "connector", msg == nullptr ? std::string_view() : std::string_view(msg, msg_len), fields);
  } catch (...) {
    // Logging must never take a connector down.
  }
}

weft_status host_http(weft_call_ctx* call, const char* request_json, size_t request_len, weft_buf* response) {
  reset(response);
  try {
    if (call == nullptr || call->op == nullptr || call->ctx == nullptr) {
      return fail(response, "invalid_argument", "http needs the call context of a running invoke");
    }
    if (call->services == nullptr) return fail(response, "unavailable", "no host services");
    auto request = json::parse(std::string_view(request_json == nullptr ? "" : request_json, request_len));
    if (!request) return fail(response, request.status().with_context("http request"));
    if (!json::is_object(*request)) return fail(response, "invalid_argument", "http request must be a JSON object");
    auto result = call->services->http_text(*call->op, *call->ctx, *request);
    if (!result) return fail(response, result.status());
    if (!fill_buffer(response, *result)) return WEFT_ERROR;
    return WEFT_OK;
  } catch (...) {
    return fail_current_exception(response);
  }
}

weft_status host_context(weft_call_ctx* call, weft_buf* out) {
  reset(out);
  try {
    if (call == nullptr || call->op == nullptr || call->ctx == nullptr) {
      return fail(out, "invalid_argument", "context needs the call context of a running invoke");
    }
    const InvokeContext& ctx = *call->ctx;
    Json settings = call->settings_defaults != nullptr ? json::clone(*call->settings_defaults) : json::object();
    if (call->services != nullptr) {
      auto s = call->services->settings(*call->op, ctx);
      if (!s) return fail(out, s.status());
      settings = *s;
    }
    Json deadline;  // null unless the step has one
    if (ctx.deadline) {
      auto left = *ctx.deadline - std::chrono::steady_clock::now();
      auto at = std::chrono::system_clock::now() + std::chrono::duration_cast<std::chrono::system_clock::duration>(left);
      deadline = static_cast<Poco::Int64>(
          std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count());
    }
    Json connection;
    if (!ctx.connection.empty()) connection = ctx.connection;
    Json doc = json::object({{"connector", call->op->connector},
                             {"operation", call->op->name},
                             {"connection", connection},
                             {"settings", settings},
                             {"run_id", ctx.run_id},
                             {"step_id", ctx.step_id},
                             {"deadline_ms", deadline}});
    if (!fill_buffer(out, json::stringify(doc))) return WEFT_ERROR;
    return WEFT_OK;
  } catch (...) {
    return fail_current_exception(out);
  }
}

weft_status host_state_get(weft_call_ctx* call, const char* key, size_t key_len, weft_buf* value) {
  reset(value);
  try {
    if (call == nullptr || call->op == nullptr || call->ctx == nullptr) {
      return fail(value, "invalid_argument", "state_get needs the call context of a running invoke");
    }
    if (call->services == nullptr) return fail(value, "unavailable", "no host services");
    auto got = call->services->state_get(*call->op, *call->ctx, std::string(key == nullptr ? "" : key, key_len));
    if (!got) return fail(value, got.status());
    if (!fill_buffer(value, got->has_value() ? json::stringify(**got) : std::string("null"))) return WEFT_ERROR;
    return WEFT_OK;
  } catch (...) {
    return fail_current_exception(value);
  }
}

weft_status host_state_set(weft_call_ctx* call, const char* key, size_t key_len, const char* value_json,
                           size_t value_len) {
  try {
    if (call == nullptr || call->op == nullptr || call->ctx == nullptr || call->services == nullptr) {
      return WEFT_ERROR;
    }
    auto value = json::parse(std::string_view(value_json == nullptr ? "" : value_json, value_len));
    if (!value) return WEFT_ERROR;
    Status st = call->services->state_set(*call->op, *call->ctx, std::string(key == nullptr ? "" : key, key_len), *value);
    return st.ok() ? WEFT_OK : WEFT_ERROR;
  } catch (...) {
    return WEFT_ERROR;
  }
}

// Function pointers in a C table cannot be declared noexcept, so each one above catches
// everything itself.
const weft_host kHost = {
    sizeof(weft_host), WEFT_ABI_MAJOR, WEFT_ABI_MINOR, &host_alloc,     &host_free,     &host_log,
    &host_http,        &host_context,  &host_state_get, &host_state_set,
};

}  // namespace

const weft_host* host_table() { return &kHost; }

bool fill_buffer(weft_buf* out, std::string_view text) noexcept {
  if (out == nullptr) return false;
  *out = weft_buf{nullptr, 0};
  if (text.empty()) return true;
  auto* p = static_cast<char*>(std::malloc(text.size()));
  if (p == nullptr) return false;
  std::memcpy(p, text.data(), text.size());
  *out = weft_buf{p, text.size()};
  return true;
}

void free_buffer(weft_buf* buf) noexcept {
  if (buf == nullptr) return;
  std::free(buf->ptr);
  *buf = weft_buf{nullptr, 0};
}

}  // namespace weft::plugin::internal
