// sdk.hpp — a header-only C++ helper over connector_abi.h.
//
// A connector author writes a class with one handler per action or trigger; the SDK builds the C
// tables, keeps exceptions from crossing the boundary and manages the buffers. Only the C++
// standard library is used here, so any JSON library (or none) can parse the texts.
//
//   class Echo : public weft::sdk::Connector {
//    public:
//     explicit Echo(std::string_view settings) { on("echo", [](weft::sdk::Call&, std::string_view in) {
//       return std::string(in); }); }
//   };
//   WEFT_CONNECTOR(Echo, kManifestJson)
//
// Handlers throw weft::sdk::Error (or any std::exception) to fail; the SDK turns it into the
// error object the host expects. Handlers may run on several threads at once.
#ifndef WEFT_SDK_HPP
#define WEFT_SDK_HPP

#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "weft/connector_abi.h"

namespace weft::sdk {

// Quotes s as a JSON string literal (with the quotes), escaping what JSON requires.
inline std::string json_quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
  return out;
}

// A failure a handler reports: a short machine code, a message for the user, and an optional
// hint that the call may be retried after some milliseconds.
class Error : public std::runtime_error {
 public:
  Error(std::string code, const std::string& message, long long retry_after_ms = -1)
      : std::runtime_error(message), code_(std::move(code)), retry_after_ms_(retry_after_ms) {}
  const std::string& code() const { return code_; }
  long long retry_after_ms() const { return retry_after_ms_; }

  std::string to_json() const {
    std::string out = "{\"code\":" + json_quote(code_) + ",\"message\":" + json_quote(what());
    if (retry_after_ms_ >= 0) out += ",\"retry_after_ms\":" + std::to_string(retry_after_ms_);
    return out + "}";
  }

 private:
  std::string code_;
  long long retry_after_ms_;
};

namespace internal {
inline const weft_host*& host_slot() {
  static const weft_host* host = nullptr;
  return host;
}

// Copies text into a host-allocated buffer. Returns false when the host is out of memory.
inline bool fill(weft_buf* out, std::string_view text) {
  out->ptr = nullptr;
  out->len = 0;
  if (text.empty()) return true;
  auto* p = static_cast<char*>(host_slot()->alloc(text.size()));
  if (p == nullptr) return false;
  std::memcpy(p, text.data(), text.size());
  out->ptr = p;
  out->len = text.size();
  return true;
}

// Takes a host-filled buffer into a std::string and releases the buffer.
inline std::string take(weft_buf& buf) {
  std::string s(buf.ptr == nullptr ? "" : std::string(buf.ptr, buf.len));
  if (buf.ptr != nullptr) host_slot()->free(buf.ptr);
  buf.ptr = nullptr;
  buf.len = 0;
  return s;
}

// A host error object as the what() of an Error, keeping the whole JSON as the message so the
// handler may parse it.
[[noreturn]] inline void throw_host_error(const std::string& error_json) {
  throw Error("host_error", error_json);
}
}  // namespace internal

// The host, as seen from inside one invoke. Not copyable; valid only during the handler call.
class Call {
 public:
  explicit Call(weft_call_ctx* ctx) : ctx_(ctx) {}
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;

  // Sends an HTTP request (see weft_host.http for the JSON). Returns the response JSON for any
  // HTTP status; throws Error with code "host_error" and the host's error JSON as message when
  // no response was had.
  std::string http(std::string_view request_json) {
    weft_buf out{nullptr, 0};
    weft_status st = host()->http(ctx_, request_json.data(), request_json.size(), &out);
    std::string body = internal::take(out);
    if (st != WEFT_OK) internal::throw_host_error(body);
    return body;
  }

  // The call's context JSON: connector, operation, connection, settings, run and step ids.
  std::string context() {
    weft_buf out{nullptr, 0};
    weft_status st = host()->context(ctx_, &out);
    std::string body = internal::take(out);
    if (st != WEFT_OK) internal::throw_host_error(body);
    return body;
  }

  // Durable state: the stored JSON text, or "null" when unset.
  std::string state_get(std::string_view key) {
    weft_buf out{nullptr, 0};
    weft_status st = host()->state_get(ctx_, key.data(), key.size(), &out);
    std::string body = internal::take(out);
    if (st != WEFT_OK) internal::throw_host_error(body);
    return body;
  }
  void state_set(std::string_view key, std::string_view value_json) {
    weft_status st = host()->state_set(ctx_, key.data(), key.size(), value_json.data(), value_json.size());
    if (st != WEFT_OK) throw Error("host_error", "state_set failed");
  }

  void log(weft_log_level level, std::string_view msg) { host()->log(ctx_, level, msg.data(), msg.size()); }

 private:
  static const weft_host* host() { return internal::host_slot(); }
  weft_call_ctx* ctx_;
};

// Base class of a connector instance. Register a handler per operation in the constructor.
class Connector {
 public:
  // Takes the call and the input JSON; returns the output JSON.
  using Handler = std::function<std::string(Call&, std::string_view input_json)>;

  Connector() = default;
  Connector(const Connector&) = delete;
  Connector& operator=(const Connector&) = delete;
  virtual ~Connector() = default;

  // Runs the handler for op. Throws Error("unknown_operation") when there is none.
  std::string dispatch(const std::string& op, Call& call, std::string_view input) const {
    auto it = handlers_.find(op);
    if (it == handlers_.end()) throw Error("unknown_operation", "no handler for operation '" + op + "'");
    return it->second(call, input);
  }

 protected:
  void on(std::string op, Handler handler) { handlers_[std::move(op)] = std::move(handler); }

 private:
  std::map<std::string, Handler> handlers_;
};

namespace internal {
// Converts whatever a handler threw into an error object in out. Never throws. Only called from
// inside a catch block, so the bare rethrow below always has a current exception.
inline weft_status report(weft_buf* out) noexcept {
  std::string json;
  try {
    // cppcheck-suppress rethrowNoCurrentException
    throw;
  } catch (const Error& e) {
    json = e.to_json();
  } catch (const std::bad_alloc&) {
    json = R"({"code":"out_of_memory","message":"connector ran out of memory"})";
  } catch (const std::exception& e) {
    json = std::string("{\"code\":\"connector_exception\",\"message\":") + json_quote(e.what()) + "}";
  } catch (...) {
    json = R"({"code":"connector_exception","message":"connector threw a non-standard exception"})";
  }
  try {
    fill(out, json);
  } catch (...) {
  }
  return WEFT_ERROR;
}

template <class T>
struct Table {
  static weft_status create(const char* settings, size_t len, void** instance, weft_buf* error) noexcept {
    try {
      auto obj = std::make_unique<T>(std::string_view(settings == nullptr ? "" : settings, len));
      *instance = static_cast<Connector*>(obj.release());
      return WEFT_OK;
    } catch (...) {
      return report(error);
    }
  }
  static void destroy(void* instance) noexcept {
    std::unique_ptr<Connector> owned(static_cast<Connector*>(instance));
  }
  static weft_status invoke(void* instance, const char* op, const char* input, size_t len, weft_call_ctx* ctx,
                            weft_buf* out) noexcept {
    try {
      Call call(ctx);
      std::string result = static_cast<Connector*>(instance)->dispatch(op, call, std::string_view(input, len));
      if (!fill(out, result)) throw std::bad_alloc();
      return WEFT_OK;
    } catch (...) {
      return report(out);
    }
  }
};

template <class T>
const weft_connector* entry(const weft_host* host, const char* manifest) noexcept {
  static weft_connector table{};
  if (host == nullptr) return nullptr;
  host_slot() = host;
  table.struct_size = sizeof(weft_connector);
  table.abi_major = WEFT_ABI_MAJOR;
  table.abi_minor = WEFT_ABI_MINOR;
  table.manifest_json = manifest;
  table.manifest_len = std::strlen(manifest);
  table.create = &Table<T>::create;
  table.destroy = &Table<T>::destroy;
  table.invoke = &Table<T>::invoke;
  return &table;
}
}  // namespace internal

}  // namespace weft::sdk

// Exports the entry symbol for connector class CLASS (constructible from std::string_view settings
// JSON) with the manifest JSON text MANIFEST (a NUL-terminated string with static storage).
#define WEFT_CONNECTOR(CLASS, MANIFEST)                                                   \
  extern "C" WEFT_EXPORT const weft_connector* weft_connector_entry(const weft_host* host) { \
    return ::weft::sdk::internal::entry<CLASS>(host, MANIFEST);                          \
  }

#endif  // WEFT_SDK_HPP
